// How a bytestream starts and ends, and how it holds a fast sender back: pre-negotiated
// sessions (expect, attach), half-closes, backpressure, timeouts and aborts.
import { AbortError, NS, StanzaError, TimeoutError, xml } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import { IbbClosedError, type IbbRefusedError, IbbSidInUseError, type IbbStream } from "../src/index.js";
import {
  closeScenes,
  conditionOf,
  expectOneReplyPerRequest,
  ibb,
  ibbChild,
  JULIET,
  MALLORY,
  openPair,
  outcome,
  payload,
  ROMEO,
  readAll,
  scene,
  sendAll,
  sent,
  sha256,
  tick,
  until,
} from "./helpers.js";

afterEach(closeScenes);

describe("closing (XEP-0047 §2.3)", () => {
  it("Juliet closes while Romeo still has data queued: his readable ends, his queued bytes still reach her, then he answers", async () => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet, { window: 2 });
    const late = payload(200_000);
    ours.write(late); // queued: at most 2 IQs are in flight when her close arrives
    const romeoReadableEnded = readAll(ours);
    const julietReads = readAll(theirs);
    await theirs.close(); // resolves when Romeo answers her <close/>
    // Juliet kept accepting data until her close was answered (REC §4.5)…
    expect(sha256(await julietReads)).toBe(sha256(late));
    // …and Romeo's readable side ended.
    expect(await romeoReadableEnded).toHaveLength(0);
    // On the wire: the result to her <close/> follows the ack of his last <data/>.
    const [closeIq] = sent(wire, JULIET, "close");
    const answer = wire.findIndex((e) => e.from === ROMEO && e.stanza.attrs.id === closeIq!.stanza.attrs.id);
    const lastData = sent(wire, ROMEO, "data").at(-1)!;
    const lastAck = wire.findIndex(
      (e) => e.from === JULIET && e.stanza.attrs.id === lastData.stanza.attrs.id,
    );
    expect(answer).toBeGreaterThan(lastAck);
    expect([ours.state, theirs.state]).toEqual(["closed", "closed"]);
    await expectOneReplyPerRequest(wire);
  });

  it("after the peer's close, our end() sends no <close/> of its own and finishes cleanly", async () => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    void readAll(ours);
    await theirs.close();
    await ours.close();
    expect(sent(wire, ROMEO, "close")).toEqual([]);
  });

  it("a write after the peer's close was answered fails with IbbClosedError", async () => {
    const { romeo, juliet } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    void readAll(ours);
    await theirs.close();
    const failed = outcome(ours);
    ours.write(Buffer.from("too late"));
    expect(await failed).toBeInstanceOf(IbbClosedError);
  });

  it("a peer that sends <close/> without waiting for its acks still gets every ack, and every byte arrives", async () => {
    const { router, juliet, wire } = scene({ juliet: { highWaterMark: 8192 } });
    const benvolio = router.createLink("benvolio@montague.lit/street");
    const incoming = new Promise<IbbStream>((resolve) =>
      juliet.once("stream", (s) => {
        s.pause(); // Juliet's reader is busy: acks get withheld
        resolve(s);
      }),
    );
    const set = (el: ReturnType<typeof xml>) => benvolio.request(xml("iq", { type: "set", to: JULIET }, el));
    await set(xml("open", { xmlns: NS.IBB, sid: "p1", "block-size": "4096" }));
    const stream = await incoming;
    const data = payload(10 * 4096);
    const pipelined = Array.from({ length: 10 }, (_, seq) =>
      set(
        xml(
          "data",
          { xmlns: NS.IBB, sid: "p1", seq: String(seq) },
          data.subarray(seq * 4096, (seq + 1) * 4096).toString("base64"),
        ),
      ),
    );
    const closed = set(xml("close", { xmlns: NS.IBB, sid: "p1" }));
    await Promise.all([...pipelined, closed]);
    expect(sha256(await readAll(stream))).toBe(sha256(data));
    await expectOneReplyPerRequest(wire);
  });

  it("both close at once: both finish cleanly, both readables end", async () => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    const [a, b] = [readAll(ours), readAll(theirs)];
    await Promise.all([ours.close(), theirs.close()]);
    expect([(await a).length, (await b).length]).toEqual([0, 0]);
    expect(sent(wire, ROMEO, "close")).toHaveLength(1);
    expect(sent(wire, JULIET, "close")).toHaveLength(1);
    await expectOneReplyPerRequest(wire);
  });

  it("destroy() tells the peer with a best-effort <close/>: its readable ends", async () => {
    const { romeo, juliet } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    const theirEnd = readAll(theirs);
    ours.destroy();
    expect(await theirEnd).toHaveLength(0);
    await until(() => juliet.streams.length === 0);
  });

  it("service.close() closes every stream cleanly and rejects pending expect()s", async () => {
    const { romeo, juliet } = scene();
    const { theirs } = await openPair(romeo, juliet);
    const theirEnd = readAll(theirs);
    const waiting = romeo.expect(JULIET, "later", { blockSize: 4096 }).catch((e: unknown) => e);
    await romeo.close();
    expect(await theirEnd).toHaveLength(0);
    expect(await waiting).toBeInstanceOf(IbbClosedError);
    await expect(romeo.open(JULIET)).rejects.toBeInstanceOf(IbbClosedError);
  });
});

describe("backpressure: a reader that does not read holds the sender back", () => {
  it("Juliet's paused reader withholds acks; what crosses stays bounded; resuming delivers every byte", async () => {
    const highWaterMark = 64 * 1024;
    const { romeo, juliet } = scene({ juliet: { highWaterMark } });
    const { ours, theirs } = await openPair(romeo, juliet, { window: 4 });
    theirs.pause();
    const data = payload(4 * 1024 * 1024);
    let finished = false;
    const sending = sendAll(ours, data).then(() => {
      finished = true;
    });
    // The sender stalls with its whole window unacknowledged.
    await until(() => ours.inFlight === 4 && theirs.readableLength >= highWaterMark);
    await tick(50);
    const crossed = theirs.bytesIn;
    expect(crossed).toBeLessThanOrEqual(highWaterMark + 4 * 4096);
    expect(ours.bytesOut - crossed).toBeLessThanOrEqual(4 * 4096); // only the window is in the air
    expect(finished).toBe(false);
    await tick(50);
    expect(theirs.bytesIn).toBe(crossed); // still held, not creeping
    const received = readAll(theirs); // resumes
    await sending;
    expect(sha256(await received)).toBe(sha256(data));
  });

  it("write() callbacks complete when chunks are sent within the window, not when acknowledged", async () => {
    const { romeo, juliet } = scene();
    const { ours, theirs } = await openPair(romeo, juliet, { window: 3 });
    theirs.pause();
    // With Juliet's reader full, acks stop; a write that fits in the window still completes.
    const big = payload(256 * 1024);
    ours.write(big);
    await until(() => ours.inFlight === 3);
    await tick(20);
    const small = new Promise<void>((resolve, reject) =>
      ours.write(Buffer.alloc(10), (e) => (e ? reject(e) : resolve())),
    );
    let smallDone = false;
    void small.then(() => {
      smallDone = true;
    });
    await tick(20);
    expect(smallDone).toBe(false); // behind the window
    const reading = readAll(theirs);
    await small; // completes once sent, before the end
    expect(ours.writableFinished).toBe(false);
    await ours.close();
    expect((await reading).length).toBe(big.length + 10);
  });
});

describe("expect(): a pre-negotiated session (the Jingle responder's side)", () => {
  it("resolves when that peer opens that sid; data flows both ways", async () => {
    const { romeo, juliet, wire } = scene({ juliet: { accept: undefined } });
    const expected = juliet.expect(ROMEO, "jingle-ibb-1", { blockSize: 4096 });
    const ours = await romeo.open(JULIET, { sid: "jingle-ibb-1" });
    const theirs = await expected;
    expect([theirs.peer, theirs.sid, theirs.blockSize]).toEqual([ROMEO, "jingle-ibb-1", 4096]);
    const [a, b] = [payload(300_000), payload(200_000)];
    const [atJuliet, atRomeo] = await Promise.all([
      readAll(theirs),
      readAll(ours),
      sendAll(ours, a),
      sendAll(theirs, b),
    ]);
    expect([sha256(atJuliet), sha256(atRomeo)]).toEqual([sha256(a), sha256(b)]);
    await expectOneReplyPerRequest(wire);
  });

  it("an open larger than negotiated → resource-constraint; the opener's retry at half fits", async () => {
    const { romeo, juliet, wire } = scene({ juliet: { accept: undefined } });
    const expected = juliet.expect(ROMEO, "j2", { blockSize: 2048 });
    const ours = await romeo.open(JULIET, { sid: "j2", blockSize: 4096 });
    expect([ours.blockSize, (await expected).blockSize]).toEqual([2048, 2048]);
    const errors = wire.filter((e) => e.from === JULIET && e.stanza.attrs.type === "error");
    expect(errors.map((e) => conditionOf(e.stanza))).toEqual(["resource-constraint"]);
  });

  it("an open smaller than negotiated is accepted with its own block size", async () => {
    const { romeo, juliet } = scene({ juliet: { accept: undefined } });
    const expected = juliet.expect(ROMEO, "j3", { blockSize: 4096 });
    await romeo.open(JULIET, { sid: "j3", blockSize: 1024 });
    expect((await expected).blockSize).toBe(1024);
  });

  it("an open with another sid → not-acceptable, and the expectation keeps waiting", async () => {
    const { romeo, juliet } = scene({ juliet: { accept: undefined } });
    const expected = juliet.expect(ROMEO, "negotiated", { blockSize: 4096 });
    const error = await romeo.open(JULIET, { sid: "something-else" }).catch((e) => e);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("not-acceptable");
    await romeo.open(JULIET, { sid: "negotiated" });
    expect((await expected).sid).toBe("negotiated");
  });

  it("the negotiated sid opened by anyone but the negotiated peer → not-acceptable", async () => {
    const { router, romeo, juliet } = scene({ juliet: { accept: undefined } });
    const mallory = ibb(router.createLink(MALLORY));
    const expected = juliet.expect(ROMEO, "negotiated", { blockSize: 4096 });
    const error = await mallory.open(JULIET, { sid: "negotiated" }).catch((e) => e);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("not-acceptable");
    await romeo.open(JULIET, { sid: "negotiated" });
    expect((await expected).peer).toBe(ROMEO);
  });

  it("times out with TimeoutError; a late open is then declined", async () => {
    const { romeo, juliet } = scene({ juliet: { accept: undefined } });
    await expect(juliet.expect(ROMEO, "j4", { blockSize: 4096, timeoutMs: 30 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    const error = await romeo.open(JULIET, { sid: "j4" }).catch((e) => e);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("not-acceptable");
  });

  it("rejects with AbortError when its signal aborts", async () => {
    const { juliet } = scene();
    const controller = new AbortController();
    const waiting = juliet.expect(ROMEO, "j5", { blockSize: 4096, signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
  });

  it("a sid already in use with that peer → IbbSidInUseError", async () => {
    const { romeo, juliet } = scene();
    await openPair(romeo, juliet, { sid: "busy" });
    await expect(juliet.expect(ROMEO, "busy", { blockSize: 4096 })).rejects.toBeInstanceOf(IbbSidInUseError);
    await expect(romeo.open(JULIET, { sid: "busy" })).rejects.toBeInstanceOf(IbbSidInUseError);
  });
});

describe("attach(): a session open without an <open/> round trip (XTLS draft, jingle-ibb:0)", () => {
  it("both sides attach and data flows at once, both ways; no <open/> on the wire", async () => {
    const { romeo, juliet, wire } = scene({ juliet: { accept: undefined } });
    const ours = romeo.attach(JULIET, "ibb0-sid", { blockSize: 4096 });
    const theirs = juliet.attach(ROMEO, "ibb0-sid", { blockSize: 4096 });
    const [a, b] = [payload(500_000), payload(100_000)];
    const [atJuliet, atRomeo] = await Promise.all([
      readAll(theirs),
      readAll(ours),
      sendAll(ours, a),
      sendAll(theirs, b),
    ]);
    expect([sha256(atJuliet), sha256(atRomeo)]).toEqual([sha256(a), sha256(b)]);
    expect(wire.filter((e) => ibbChild(e.stanza)?.name === "open")).toEqual([]);
    await expectOneReplyPerRequest(wire);
  });

  it("a sid already in use → IbbSidInUseError", () => {
    const { romeo } = scene();
    romeo.attach(JULIET, "x", { blockSize: 4096 });
    expect(() => romeo.attach(JULIET, "x", { blockSize: 4096 })).toThrow(IbbSidInUseError);
    expect(() => romeo.attach("juliet@capulet.lit", "y", { blockSize: 4096 })).toThrow(TypeError); // bare JID
  });
});

describe("open(): timeouts, aborts, and the peer's first data right behind its result", () => {
  /** Nurse answers nothing to <open/> and records the <close/>s she gets. */
  function silentNurse(router: ReturnType<typeof scene>["router"]) {
    const nurse = router.createLink("nurse@capulet.lit/kitchen");
    const closes: string[] = [];
    nurse.handle("set", NS.IBB, "open", () => new Promise<undefined>(() => {}));
    nurse.handle("set", NS.IBB, "close", (iq) => {
      closes.push(iq.payload.attrs.sid ?? "");
      throw new StanzaError("item-not-found");
    });
    return { jid: nurse.jid, closes };
  }

  it("no answer within timeoutMs → TimeoutError, and a best-effort <close/> so the peer forgets the sid", async () => {
    const { router, romeo } = scene();
    const nurse = silentNurse(router);
    const error = await romeo.open(nurse.jid, { sid: "t1", timeoutMs: 30 }).catch((e) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    await until(() => nurse.closes.length === 1);
    expect(nurse.closes).toEqual(["t1"]);
    expect(romeo.streams).toEqual([]);
  });

  it("an abort while waiting → AbortError", async () => {
    const { router, romeo } = scene();
    const nurse = silentNurse(router);
    const controller = new AbortController();
    const opening = romeo.open(nurse.jid, { signal: controller.signal });
    await tick(5);
    controller.abort();
    await expect(opening).rejects.toBeInstanceOf(AbortError);
  });

  it("an already aborted signal → AbortError, and no <open/> is sent", async () => {
    const { romeo, wire } = scene();
    await expect(romeo.open(JULIET, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    await tick(5);
    expect(sent(wire, ROMEO, "open")).toEqual([]);
  });

  it("a <data/> that arrives in the same read as the open's result is delivered, not refused", async () => {
    const { router, romeo, wire } = scene();
    const friar = router.createLink("friar@montague.lit/cell");
    friar.handle("set", NS.IBB, "open", (iq) => {
      // The result is written as this handler returns; the data right behind it, same tick.
      queueMicrotask(() => {
        void friar.request(
          xml(
            "iq",
            { type: "set", to: iq.from },
            xml(
              "data",
              { xmlns: NS.IBB, sid: iq.payload.attrs.sid, seq: "0" },
              Buffer.from("eager").toString("base64"),
            ),
          ),
        );
      });
    });
    const stream: IbbStream = await romeo.open(friar.jid);
    const chunk = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
    expect(chunk.toString()).toBe("eager");
    const dataId = sent(wire, friar.jid, "data")[0]!.stanza.attrs.id;
    await until(() => wire.some((e) => e.from === ROMEO && e.stanza.attrs.id === dataId));
    expect(wire.find((e) => e.from === ROMEO && e.stanza.attrs.id === dataId)?.stanza.attrs.type).toBe(
      "result",
    );
  });
});
