// Every error case of XEP-0047 §2.1–§2.3 and docs/protocol/ibb.md#receiver-errors, each as the peer would see it on the wire and
// the application would see it on the stream. Misbehaving peers are raw links on the
// embedded router that write exactly the stanzas the test says.
import { type LocalRouter, NS, StanzaError, TimeoutError, xml } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import { IbbClosedError, IbbDeliveryError, IbbProtocolError } from "../src/index.js";
import {
  closeScenes,
  conditionOf,
  expectOneReplyPerRequest,
  ibbChild,
  JULIET,
  MALLORY,
  nextStream,
  openPair,
  outcome,
  payload,
  ROMEO,
  readAll,
  scene,
  sent,
  until,
} from "./helpers.js";

afterEach(closeScenes);

const BENVOLIO = "benvolio@montague.lit/street";
const b64 = (s: string) => Buffer.from(s).toString("base64");

/**
 * Benvolio, a hand-driven peer, opened the bytestream `s1` to Juliet (whose service
 * accepts). He records the `<close/>`s Juliet sends him.
 */
async function benvolioOpens(open: Record<string, string> = {}) {
  const s = scene();
  const benvolio = s.router.createLink(BENVOLIO);
  const closesFromJuliet: string[] = [];
  benvolio.handle("set", NS.IBB, "close", (iq) => {
    closesFromJuliet.push(iq.payload.attrs.sid ?? "");
  });
  const incoming = nextStream(s.juliet);
  await benvolio.request(
    xml(
      "iq",
      { type: "set", to: JULIET },
      xml("open", { xmlns: NS.IBB, sid: "s1", "block-size": "4096", ...open }),
    ),
  );
  const stream = await incoming;
  const received: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => received.push(chunk));
  const ended = outcome(stream);
  const data = (seq: number | string, text: string, sid = "s1") =>
    benvolio.request(
      xml("iq", { type: "set", to: JULIET }, xml("data", { xmlns: NS.IBB, sid, seq: String(seq) }, text)),
    );
  return { ...s, benvolio, stream, received, ended, closesFromJuliet, data };
}

/** The stanza error a request was answered with. */
async function refusal(request: Promise<unknown>): Promise<StanzaError> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StanzaError);
  return error as StanzaError;
}

describe("a receiver that gets bad <data/> answers it, closes the bytestream and tells its reader", () => {
  it("seq skips ahead (a lost chunk) → unexpected-request (cancel), then Juliet sends <close/>", async () => {
    const { data, stream, received, ended, closesFromJuliet, wire } = await benvolioOpens();
    await data(0, b64("first"));
    const error = await refusal(data(2, b64("third")));
    expect([error.condition, error.type]).toEqual(["unexpected-request", "cancel"]);
    const failure = await ended;
    expect(failure).toBeInstanceOf(IbbProtocolError);
    expect((failure as IbbProtocolError).violation).toBe("bad-seq");
    expect(Buffer.concat(received).toString()).toBe("first"); // nothing at or after the gap
    await until(() => closesFromJuliet.length === 1);
    expect(closesFromJuliet).toEqual(["s1"]);
    // The error reply goes out before the <close/>.
    const reply = wire.findIndex((e) => e.from === JULIET && conditionOf(e.stanza) === "unexpected-request");
    const close = wire.findIndex((e) => e.from === JULIET && ibbChild(e.stanza)?.name === "close");
    expect(reply).toBeLessThan(close);
    expect(stream.state).toBe("closed");
    await expectOneReplyPerRequest(wire);
  });

  it("a repeated seq → unexpected-request (cancel), then <close/>; never resynchronised", async () => {
    const { data, received, ended, closesFromJuliet, wire } = await benvolioOpens();
    await data(0, b64("once"));
    const error = await refusal(data(0, b64("twice")));
    expect([error.condition, error.type]).toEqual(["unexpected-request", "cancel"]);
    expect(((await ended) as IbbProtocolError).violation).toBe("bad-seq");
    // The right next seq no longer helps: the bytestream is gone.
    expect((await refusal(data(1, b64("late")))).condition).toBe("item-not-found");
    expect(Buffer.concat(received).toString()).toBe("once");
    await until(() => closesFromJuliet.length === 1);
    await expectOneReplyPerRequest(wire);
  });

  it.each([
    ["a character outside the alphabet", "QUJD*A=="],
    ["a misplaced '=' (XEP-0047 §6: 'BBBB=CCC')", "BBBB=CCC"],
    ["a leading '=' (XEP-0047 §6: '=AAA')", "=AAA"],
    ["a length that is not a multiple of 4", "QUJDR"],
    ["URL-safe Base64", "-_-_"],
  ])("invalid Base64 (%s) → bad-request (cancel), then <close/>", async (_what, text) => {
    const { data, received, ended, closesFromJuliet, wire } = await benvolioOpens();
    const error = await refusal(data(0, text));
    expect([error.condition, error.type]).toEqual(["bad-request", "cancel"]);
    expect(((await ended) as IbbProtocolError).violation).toBe("bad-base64");
    expect(received).toEqual([]);
    await until(() => closesFromJuliet.length === 1);
    await expectOneReplyPerRequest(wire);
  });

  it("Base64 wrapped over lines with spaces and tabs (as in XEP-0047's own examples) is accepted", async () => {
    const { data, stream, received } = await benvolioOpens();
    const text = b64("O Romeo, Romeo! wherefore art thou Romeo?");
    const wrapped = `\n  ${text.slice(0, 16)}\r\n\t${text.slice(16, 40)}\n  ${text.slice(40)}\n`;
    await data(0, wrapped);
    expect(Buffer.concat(received).toString()).toBe("O Romeo, Romeo! wherefore art thou Romeo?");
    expect(stream.state).toBe("open");
  });

  it("a chunk larger than the negotiated block size → bad-request (cancel), then <close/>", async () => {
    const { data, received, ended, closesFromJuliet } = await benvolioOpens({ "block-size": "16" });
    await data(0, payload(16).toString("base64"));
    const error = await refusal(data(1, payload(17).toString("base64")));
    expect([error.condition, error.type]).toEqual(["bad-request", "cancel"]);
    expect(((await ended) as IbbProtocolError).violation).toBe("block-too-large");
    expect(Buffer.concat(received)).toHaveLength(16);
    await until(() => closesFromJuliet.length === 1);
  });

  it("a seq that is not a 16-bit number → bad-request (cancel), then <close/>", async () => {
    const { data, ended, closesFromJuliet } = await benvolioOpens();
    const error = await refusal(data("65536", b64("x")));
    expect([error.condition, error.type]).toEqual(["bad-request", "cancel"]);
    expect(((await ended) as IbbProtocolError).violation).toBe("bad-data");
    await until(() => closesFromJuliet.length === 1);
  });

  it("in a stanza='message' bytestream, a bad seq closes the bytestream (there is no IQ to answer)", async () => {
    const { benvolio, stream, ended, closesFromJuliet, wire } = await benvolioOpens({ stanza: "message" });
    const message = (seq: number, text: string) =>
      benvolio.send(
        xml(
          "message",
          { to: JULIET, id: `m${seq}` },
          xml("data", { xmlns: NS.IBB, sid: "s1", seq: String(seq) }, text),
        ),
      );
    await message(0, b64("zero"));
    await message(5, b64("five"));
    expect(((await ended) as IbbProtocolError).violation).toBe("bad-seq");
    await until(() => closesFromJuliet.length === 1);
    expect(stream.state).toBe("closed");
    expect(wire.filter((e) => e.from === JULIET && e.stanza.name === "message")).toEqual([]);
  });
});

describe("sessions are keyed by (peer full JID, sid), never by sid alone", () => {
  it("data and close from a JID that is not the session's peer → item-not-found; the session is untouched", async () => {
    const { router, romeo, juliet, wire } = scene();
    const mallory = router.createLink(MALLORY);
    const { ours, theirs } = await openPair(romeo, juliet, { sid: "shared-secret-sid" });
    const reading = readAll(theirs);
    ours.write(Buffer.from("A"));
    await until(() => theirs.bytesIn === 1);
    // Mallory saw the sid (and even the next seq) on the wire and tries to inject and to close.
    const forged = (payloadEl: ReturnType<typeof xml>) =>
      refusal(mallory.request(xml("iq", { type: "set", to: JULIET }, payloadEl)));
    const injected = await forged(
      xml("data", { xmlns: NS.IBB, sid: "shared-secret-sid", seq: "1" }, b64("EVIL")),
    );
    const closed = await forged(xml("close", { xmlns: NS.IBB, sid: "shared-secret-sid" }));
    expect([injected.condition, injected.type]).toEqual(["item-not-found", "cancel"]);
    expect([closed.condition, closed.type]).toEqual(["item-not-found", "cancel"]);
    // Same with a JID differing only in the resource (another device of Romeo's account).
    const romeosPhone = router.createLink("romeo@montague.lit/phone");
    const sameBare = await refusal(
      romeosPhone.request(
        xml(
          "iq",
          { type: "set", to: JULIET },
          xml("data", { xmlns: NS.IBB, sid: "shared-secret-sid", seq: "1" }, b64("EVIL")),
        ),
      ),
    );
    expect(sameBare.condition).toBe("item-not-found");
    // Romeo's seq 1 is still the one Juliet expects; nothing of Mallory's was delivered.
    expect(theirs.state).toBe("open");
    ours.write(Buffer.from("BC"));
    await ours.close();
    expect((await reading).toString()).toBe("ABC");
    await expectOneReplyPerRequest(wire);
  });

  it("<data/> and <close/> for an unknown sid → item-not-found (cancel)", async () => {
    const { romeoLink } = scene();
    const data = await refusal(
      romeoLink.request(
        xml("iq", { type: "set", to: JULIET }, xml("data", { xmlns: NS.IBB, sid: "nope", seq: "0" }, "AAAA")),
      ),
    );
    const close = await refusal(
      romeoLink.request(xml("iq", { type: "set", to: JULIET }, xml("close", { xmlns: NS.IBB, sid: "nope" }))),
    );
    expect([data.condition, data.type]).toEqual(["item-not-found", "cancel"]);
    expect([close.condition, close.type]).toEqual(["item-not-found", "cancel"]);
  });

  it("after a bytestream is closed, data for its sid → item-not-found", async () => {
    const { romeo, juliet, romeoLink } = scene();
    const { ours, theirs } = await openPair(romeo, juliet, { sid: "done" });
    void readAll(theirs);
    await ours.close();
    const late = await refusal(
      romeoLink.request(
        xml("iq", { type: "set", to: JULIET }, xml("data", { xmlns: NS.IBB, sid: "done", seq: "0" }, "AAAA")),
      ),
    );
    expect(late.condition).toBe("item-not-found");
  });

  it("an <open/> with a sid already in use with this peer → not-acceptable (cancel); the first stream is unaffected", async () => {
    const { benvolio, stream, data, received } = await benvolioOpens();
    const again = await refusal(
      benvolio.request(
        xml(
          "iq",
          { type: "set", to: JULIET },
          xml("open", { xmlns: NS.IBB, sid: "s1", "block-size": "4096" }),
        ),
      ),
    );
    expect([again.condition, again.type]).toEqual(["not-acceptable", "cancel"]);
    await data(0, b64("still mine"));
    expect(Buffer.concat(received).toString()).toBe("still mine");
    expect(stream.state).toBe("open");
  });

  it("the same sid from two different peers is two independent bytestreams", async () => {
    const { router, romeo, juliet } = scene();
    const benvolio = router.createLink(BENVOLIO);
    const first = nextStream(juliet);
    await romeo.open(JULIET, { sid: "same" });
    const fromRomeo = await first;
    const second = nextStream(juliet);
    await benvolio.request(
      xml(
        "iq",
        { type: "set", to: JULIET },
        xml("open", { xmlns: NS.IBB, sid: "same", "block-size": "512" }),
      ),
    );
    const fromBenvolio = await second;
    expect([fromRomeo.peer, fromBenvolio.peer]).toEqual([ROMEO, BENVOLIO]);
    expect(juliet.stream(ROMEO, "same")).toBe(fromRomeo);
    expect(juliet.stream(BENVOLIO, "same")).toBe(fromBenvolio);
  });
});

describe("malformed <open/> (XEP-0047 §2.1)", () => {
  it.each([
    ["no sid", { "block-size": "4096" }],
    ["no block-size", { sid: "x" }],
    ["block-size 0", { sid: "x", "block-size": "0" }],
    ["block-size beyond 65535", { sid: "x", "block-size": "65536" }],
    ["block-size not a number", { sid: "x", "block-size": "4k" }],
    ["an unknown stanza kind", { sid: "x", "block-size": "4096", stanza: "carrier-pigeon" }],
  ])("%s → bad-request", async (_what, attrs) => {
    const { romeoLink, juliet } = scene();
    const error = await refusal(
      romeoLink.request(xml("iq", { type: "set", to: JULIET }, xml("open", { xmlns: NS.IBB, ...attrs }))),
    );
    expect(error.condition).toBe("bad-request");
    expect(juliet.streams).toEqual([]);
  });
});

describe("a sender whose <data/> fails treats the bytestream as closed and invalid (XEP-0047 §2.2)", () => {
  /** Answers Romeo's `<data/>` number `seq` with `condition` instead of delivering it. */
  function failDataAt(router: LocalRouter, seq: string, condition: StanzaError["condition"]) {
    router.intercept((stanza, route) => {
      const data = stanza.getChild("data", NS.IBB);
      if (route.from !== ROMEO || stanza.name !== "iq" || data?.attrs.seq !== seq) return undefined;
      router.inject(
        xml(
          "iq",
          { type: "error", id: stanza.attrs.id, from: JULIET, to: ROMEO },
          new StanzaError(condition).toElement(),
        ),
      );
      return null;
    });
  }

  it("the peer went offline: its server bounces with service-unavailable → IbbDeliveryError, no <close/> sent", async () => {
    const { romeo, juliet, julietLink, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    theirs.on("error", () => {});
    const failed = outcome(ours);
    theirs.once("data", () => julietLink.close());
    ours.write(payload(256 * 1024));
    const error = await failed;
    expect(error).toBeInstanceOf(IbbDeliveryError);
    expect((error as IbbDeliveryError).stanzaError?.condition).toBe("service-unavailable");
    expect(ours.state).toBe("closed");
    expect(romeo.streams).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(sent(wire, ROMEO, "close")).toEqual([]);
  });

  it.each(["recipient-unavailable", "remote-server-timeout"] as const)(
    "%s (XEP-0047's delivery failures) → IbbDeliveryError carrying the condition",
    async (condition) => {
      const { router, romeo, juliet } = scene();
      const { ours, theirs } = await openPair(romeo, juliet);
      readAll(theirs).catch(() => {});
      theirs.on("error", () => {});
      failDataAt(router, "3", condition);
      const failed = outcome(ours);
      ours.write(payload(64 * 1024));
      const error = (await failed) as IbbDeliveryError;
      expect(error).toBeInstanceOf(IbbDeliveryError);
      expect(error.stanzaError?.condition).toBe(condition);
      expect(error.code).toBe(`ibb-delivery:${condition}`);
    },
  );

  it("no ack within ackTimeoutMs → IbbDeliveryError caused by a TimeoutError", async () => {
    const { router, romeo, juliet } = scene({ romeo: { ackTimeoutMs: 100 } });
    const { ours } = await openPair(romeo, juliet);
    router.intercept((stanza, route) =>
      route.from === ROMEO && stanza.getChild("data", NS.IBB) ? null : undefined,
    );
    const failed = outcome(ours);
    ours.write(Buffer.from("into the void"));
    const error = (await failed) as IbbDeliveryError;
    expect(error).toBeInstanceOf(IbbDeliveryError);
    expect(error.cause).toBeInstanceOf(TimeoutError);
  });

  it("the peer refuses our data (unexpected-request) → IbbDeliveryError, and we send <close/> (the sender MUST close)", async () => {
    const { router, romeo, juliet, wire } = scene();
    const { ours, theirs } = await openPair(romeo, juliet, { sid: "s9" });
    readAll(theirs).catch(() => {});
    theirs.on("error", () => {});
    failDataAt(router, "2", "unexpected-request");
    const failed = outcome(ours);
    ours.write(payload(64 * 1024));
    expect(((await failed) as IbbDeliveryError).stanzaError?.condition).toBe("unexpected-request");
    await until(() => sent(wire, ROMEO, "close").length === 1);
    expect(ibbChild(sent(wire, ROMEO, "close")[0]!.stanza)?.attrs.sid).toBe("s9");
  });

  it("our own connection closes → every stream fails with IbbClosedError", async () => {
    const { romeo, juliet, romeoLink } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    theirs.on("error", () => {});
    const failed = outcome(ours);
    romeoLink.close();
    const error = await failed;
    expect(error).toBeInstanceOf(IbbClosedError);
    expect(error?.message).toContain("the XMPP connection closed");
  });

  it("the peer's presence goes unavailable → its streams fail with IbbClosedError", async () => {
    const { romeo, juliet, julietLink } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    theirs.on("error", () => {});
    const failed = outcome(ours);
    await julietLink.send(xml("presence", { to: ROMEO, type: "unavailable" }));
    expect((await failed)?.message).toContain("the peer went offline");
  });

  it("a write after the stream failed is refused, not silently dropped", async () => {
    const { romeo, juliet, julietLink } = scene();
    const { ours, theirs } = await openPair(romeo, juliet);
    theirs.on("error", () => {});
    const failed = outcome(ours);
    julietLink.close();
    ours.write(payload(10_000));
    await failed;
    await expect(
      new Promise<void>((resolve, reject) =>
        ours.write(Buffer.from("more"), (e) => (e ? reject(e) : resolve())),
      ),
    ).rejects.toBeInstanceOf(Error);
  });
});
