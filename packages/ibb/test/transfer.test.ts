// Bytes across the embedded router: open, transfer, close, in both directions, with the
// wire checked against XEP-0047 (seq from 0, one line of Base64, exactly one reply per IQ).
import { LocalRouter, NS, queryDiscoInfo, xml } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import { IbbRefusedError, InBandBytestreams } from "../src/index.js";
import {
  closeScenes,
  conditionOf,
  exchange,
  expectOneReplyPerRequest,
  ibbChild,
  JULIET,
  openPair,
  payload,
  ROMEO,
  readAll,
  scene,
  sendAll,
  sent,
  sha256,
} from "./helpers.js";

afterEach(closeScenes);

describe("open, transfer, close", () => {
  it("Romeo opens, sends 3 MiB, closes: Juliet reads exactly those bytes, then end", async () => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    expect([ours.peer, ours.sid, ours.blockSize]).toEqual([JULIET, theirs.sid, 4096]);
    expect([theirs.peer, theirs.blockSize, theirs.stanza]).toEqual([ROMEO, 4096, "iq"]);
    const data = payload(3 * 1024 * 1024 + 123);
    const [received] = await Promise.all([readAll(theirs), sendAll(ours, data)]);
    expect(sha256(received)).toBe(sha256(data));
    expect([ours.bytesOut, theirs.bytesIn]).toEqual([data.length, data.length]);
    expect(theirs.stanzasIn).toBe(Math.ceil(data.length / 4096));
    expect(ours.state).toBe("closed");
    expect(romeo.streams).toEqual([]);
    // XEP-0047 on the wire: <open stanza='iq'/>, seq 0, 1, 2… one line of padded Base64 each.
    const [open] = sent(wire, ROMEO, "open");
    expect(ibbChild(open!.stanza)?.attrs).toMatchObject({ "block-size": "4096", stanza: "iq" });
    const data0 = sent(wire, ROMEO, "data")
      .slice(0, 3)
      .map((e) => ibbChild(e.stanza)!);
    expect(data0.map((d) => d.attrs.seq)).toEqual(["0", "1", "2"]);
    expect(data0[0]!.getText()).toMatch(/^[A-Za-z0-9+/]{5462}==$/); // 4096 octets → 5464 chars, padded
    expect(sent(wire, ROMEO, "close")).toHaveLength(1);
    await expectOneReplyPerRequest(wire);
  });

  it("records that straddle blocks are packed: 20 writes of a block + 22 octets cost 21 stanzas, not 40", async () => {
    const { romeo, juliet } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    // What TLS does over IBB: records of 16 406 octets over blocks of 16 384 (here, 4 096 + 22).
    const records = Array.from({ length: 20 }, () => payload(4096 + 22));
    const received = readAll(theirs);
    for (const r of records) ours.write(r);
    ours.end();
    expect(sha256(await received)).toBe(sha256(Buffer.concat(records)));
    expect(ours.stanzasOut).toBe(Math.ceil((20 * (4096 + 22)) / 4096));
  });

  it("a short write with nothing queued behind it is sent at once, not held for the next", async () => {
    const { romeo, juliet } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    const got = new Promise<Buffer>((resolve) => theirs.once("data", resolve));
    ours.write(Buffer.from("wherefore"));
    expect((await got).toString()).toBe("wherefore");
    await Promise.all([readAll(theirs), new Promise<void>((r) => ours.end(r))]);
  });

  it("bulk writes that end short (TLS's last record of each 64 KiB) cost no extra stanzas while blocks are in flight; the last tail still arrives", async () => {
    const router = new LocalRouter();
    const romeo = new InBandBytestreams(router.createLink(ROMEO, { latencyMs: 5 }));
    const juliet = new InBandBytestreams(router.createLink(JULIET, { latencyMs: 5 }), { accept: () => true });
    try {
      const { ours, theirs } = await openPair(romeo, juliet, { window: 8 });
      const chunks = Array.from({ length: 30 }, () => payload(65_646)); // 4 × 16 406 + 110, as over 16 KiB blocks
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const received: Buffer[] = [];
      let got = 0;
      const all = new Promise<void>((resolve) =>
        theirs.on("data", (b: Buffer) => {
          received.push(b);
          got += b.length;
          if (got === total) resolve();
        }),
      );
      for (const c of chunks) {
        await new Promise<void>((resolve, reject) => ours.write(c, (e) => (e ? reject(e) : resolve())));
        await new Promise((r) => setImmediate(r)); // the writer's next chunk comes a turn later
      }
      // No end(): the last short tail must not wait for one.
      await all;
      expect(sha256(Buffer.concat(received))).toBe(sha256(Buffer.concat(chunks)));
      expect(ours.stanzasOut).toBeLessThanOrEqual(Math.ceil(total / 4096) + 1);
      await Promise.all([readAll(theirs), new Promise<void>((r) => ours.end(r))]);
    } finally {
      router.close();
    }
  });

  it("Juliet sends back over the stream Romeo opened (each direction has its own seq from 0)", async () => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    const data = payload(2 * 1024 * 1024);
    const [received] = await Promise.all([readAll(ours), sendAll(theirs, data)]);
    expect(sha256(received)).toBe(sha256(data));
    expect(ibbChild(sent(wire, JULIET, "data")[0]!.stanza)?.attrs.seq).toBe("0");
    // Juliet closed her direction; Romeo's readable ended and the bytestream is closed for both.
    expect(ours.readableEnded).toBe(true);
    expect([ours.state, theirs.state]).toEqual(["closed", "closed"]);
    await expectOneReplyPerRequest(wire);
  });

  it("both directions at once, 3 MiB each way", async () => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    await exchange(ours, theirs, 3 * 1024 * 1024, { back: 3 * 1024 * 1024 + 7 });
    await expectOneReplyPerRequest(wire);
  });

  it.each([1, 8])("window %i: never more unacknowledged <data/> IQs than the window", async (window) => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet, { window });
    expect(ours.window).toBe(window);
    let maxInFlight = 0;
    const data = payload(1024 * 1024);
    const sending = sendAll(ours, data);
    const watch = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, ours.inFlight);
    }, 0);
    const received = await readAll(theirs);
    await sending;
    clearInterval(watch);
    expect(sha256(received)).toBe(sha256(data));
    // Count from the transcript: data IQs sent minus acks received, at every point.
    let outstanding = 0;
    let peak = 0;
    const ids = new Set(sent(wire, ROMEO, "data").map((e) => e.stanza.attrs.id));
    for (const e of wire) {
      if (e.from === ROMEO && ids.has(e.stanza.attrs.id) && e.stanza.attrs.type === "set") outstanding++;
      if (e.from === JULIET && ids.has(e.stanza.attrs.id) && e.stanza.attrs.type === "result") outstanding--;
      peak = Math.max(peak, outstanding);
    }
    expect(peak).toBe(window);
    expect(maxInFlight).toBeLessThanOrEqual(window);
  });

  it("a small write becomes one <data/> smaller than the block; an empty write sends nothing", async () => {
    const { romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    const reading = readAll(theirs);
    ours.write(Buffer.alloc(0));
    ours.write(Buffer.from("XTLS test file\n"));
    await ours.close();
    expect((await reading).toString()).toBe("XTLS test file\n");
    const data = sent(wire, ROMEO, "data");
    expect(data).toHaveLength(1);
    expect(ibbChild(data[0]!.stanza)?.getText()).toBe("WFRMUyB0ZXN0IGZpbGUK"); // docs/protocol/test-vectors.md#file-hash-and-ibb-chunk
  });
});

describe("seq wraps after 65535 (XEP-0047 §2.2)", () => {
  it("16-byte blocks, 70 000 chunks: seq goes …65534, 65535, 0, 1… and every byte arrives", async () => {
    const { router, romeo, juliet } = scene();
    const seqs: number[] = [];
    router.observe((e) => {
      if (e.from !== ROMEO) return;
      const data = ibbChild(e.stanza);
      if (data?.name === "data") seqs.push(Number(data.attrs.seq));
    });
    const { ours, theirs } = await openPair(romeo, juliet, { blockSize: 16, window: 32 });
    const data = payload(16 * 70_000);
    const [received] = await Promise.all([readAll(theirs), sendAll(ours, data, 16 * 4096)]);
    expect(sha256(received)).toBe(sha256(data));
    expect(seqs).toHaveLength(70_000);
    expect(seqs.slice(65534, 65538)).toEqual([65534, 65535, 0, 1]);
    expect(seqs.every((seq, i) => seq === i % 65536)).toBe(true);
  }, 60_000);
});

describe("block size negotiation (XEP-0047 §2.1)", () => {
  it("resource-constraint → Romeo retries with half the block size until Juliet accepts", async () => {
    const { romeo, juliet, wire } = scene({ juliet: { maxBlockSize: 1024 } });
    const { ours, theirs } = await openPair(romeo, juliet, { blockSize: 4096 });
    const offers = sent(wire, ROMEO, "open").map((e) => ibbChild(e.stanza)?.attrs["block-size"]);
    expect(offers).toEqual(["4096", "2048", "1024"]);
    const refusals = wire.filter((e) => e.from === JULIET && e.stanza.attrs.type === "error");
    expect(refusals.map((e) => [conditionOf(e.stanza), e.stanza.getChild("error")?.attrs.type])).toEqual([
      ["resource-constraint", "modify"],
      ["resource-constraint", "modify"],
    ]);
    expect([ours.blockSize, theirs.blockSize]).toEqual([1024, 1024]);
    const data = payload(100_000);
    const [received] = await Promise.all([readAll(theirs), sendAll(ours, data)]);
    expect(sha256(received)).toBe(sha256(data));
    expect(
      Math.max(
        ...sent(wire, ROMEO, "data").map(
          (e) => Buffer.from(e.stanza.getChildText("data", NS.IBB)!, "base64").length,
        ),
      ),
    ).toBe(1024);
  });

  it("stops at 512: below that the refusal is the caller's, as an IbbRefusedError", async () => {
    const { romeo, juliet, wire } = scene({ juliet: { maxBlockSize: 300 } });
    const error = await romeo.open(JULIET, { blockSize: 4096 }).catch((e) => e);
    expect(error).toBeInstanceOf(IbbRefusedError);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("resource-constraint");
    const offers = sent(wire, ROMEO, "open").map((e) => ibbChild(e.stanza)?.attrs["block-size"]);
    expect(offers).toEqual(["4096", "2048", "1024", "512"]);
    expect(juliet.streams).toEqual([]);
  });

  it("never offers more than 32767 (XEP-0261's xs:short)", async () => {
    const { romeo } = scene();
    await expect(romeo.open(JULIET, { blockSize: 32768 })).rejects.toBeInstanceOf(RangeError);
    await expect(romeo.open(JULIET, { blockSize: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe("stanza='message' (XEP-0047 §4): received, never chosen", () => {
  it("a peer that sends <data/> in <message/>s: the bytes arrive in order, nothing is acked", async () => {
    const { router, juliet, wire } = scene();
    const peer = router.createLink("benvolio@montague.lit/street");
    const incoming = new Promise<import("../src/index.js").IbbStream>((r) => juliet.once("stream", r));
    await peer.request(
      xml(
        "iq",
        { type: "set", to: JULIET },
        xml("open", { xmlns: NS.IBB, sid: "m1", "block-size": "4096", stanza: "message" }),
      ),
    );
    const stream = await incoming;
    expect(stream.stanza).toBe("message");
    const data = payload(40_000);
    for (let seq = 0, offset = 0; offset < data.length; seq++, offset += 4096) {
      const chunk = data.subarray(offset, offset + 4096).toString("base64");
      await peer.send(
        xml(
          "message",
          { to: JULIET, id: `m1-${seq}` },
          xml("data", { xmlns: NS.IBB, sid: "m1", seq: String(seq) }, chunk),
        ),
      );
    }
    await peer.request(xml("iq", { type: "set", to: JULIET }, xml("close", { xmlns: NS.IBB, sid: "m1" })));
    expect(sha256(await readAll(stream))).toBe(sha256(data));
    expect(wire.filter((e) => e.from === JULIET && e.stanza.name === "message")).toEqual([]);
    await expectOneReplyPerRequest(wire);
  });

  it("open() only ever offers stanza='iq'", async () => {
    const { romeo, juliet, wire } = scene();
    await openPair(romeo, juliet);
    expect(ibbChild(sent(wire, ROMEO, "open")[0]!.stanza)?.attrs.stanza).toBe("iq");
  });
});

describe("disco and the accept policy", () => {
  it("advertises http://jabber.org/protocol/ibb", async () => {
    const { romeoLink } = scene();
    expect((await queryDiscoInfo(romeoLink, JULIET)).features).toContain(NS.IBB);
  });

  it("declines unsolicited opens by default with not-acceptable (cancel)", async () => {
    const { router } = scene();
    const nurse = new InBandBytestreams(router.createLink("nurse@capulet.lit/kitchen"));
    const romeoAgain = new InBandBytestreams(router.createLink("romeo@montague.lit/balcony"));
    const error = await romeoAgain.open("nurse@capulet.lit/kitchen").catch((e) => e);
    expect(error).toBeInstanceOf(IbbRefusedError);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("not-acceptable");
    expect((error as IbbRefusedError).stanzaError.type).toBe("cancel");
    expect(nurse.streams).toEqual([]);
  });

  it("the policy sees peer, sid, block size and stanza; an async 'no' declines", async () => {
    const seen: unknown[] = [];
    const { romeo } = scene({
      juliet: {
        accept: async (request) => {
          seen.push(request);
          return false;
        },
      },
    });
    const error = await romeo.open(JULIET, { sid: "s1", blockSize: 2048 }).catch((e) => e);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("not-acceptable");
    expect(seen).toEqual([{ peer: ROMEO, sid: "s1", blockSize: 2048, stanza: "iq" }]);
  });

  it("a peer without IBB: service-unavailable, as an IbbRefusedError", async () => {
    const { router, romeo } = scene();
    router.createLink("nurse@capulet.lit/kitchen");
    const error = await romeo.open("nurse@capulet.lit/kitchen").catch((e) => e);
    expect(error).toBeInstanceOf(IbbRefusedError);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("service-unavailable");
  });
});
