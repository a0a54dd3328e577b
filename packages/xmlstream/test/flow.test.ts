// The end-to-end XML stream flow of the draft (seed 004 §4), over an in-memory pair and over
// a real, mutually authenticated TLS 1.3 channel (the plaintext side of an XTLS tunnel).
import { createHash } from "node:crypto";
import { NS, queryDiscoInfo, StanzaError, xml } from "@xtls/core";
import { TruncationError } from "@xtls/tls";
import { describe, expect, it } from "vitest";
import { StreamTruncatedError } from "../src/index.js";
import { type CarrierKind, eventually, JULIET, openPair, outcome, ROMEO, stanzasOf } from "./helpers.js";

const MLADY = "M'lady, I would be pleased to make your acquaintance.";
const MONTAGUE = "Art thou not Romeo, and a Montague?";

describe.each<CarrierKind>(["duplexPair", "TLS 1.3"])("over %s", (kind) => {
  it("runs the draft's §4 flow: headers, features, both messages, </stream:stream> both ways", async () => {
    const { romeo, juliet, connection } = await openPair(kind);
    if (kind === "TLS 1.3") expect(connection.channels?.[0].protocol).toBe("TLSv1.3");
    expect([romeo.state, juliet.state]).toEqual(["open", "open"]);
    expect(juliet.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(romeo.id).toBe(juliet.id);

    const atJuliet = stanzasOf(juliet);
    const atRomeo = stanzasOf(romeo);
    // The draft's message, addressed with full JIDs as in the example.
    await romeo.send(xml("message", { from: ROMEO, to: JULIET }, xml("body", {}, MLADY)));
    await eventually(() => atJuliet.length === 1);
    await juliet.send(xml("message", { from: JULIET, to: ROMEO }, xml("body", {}, MONTAGUE)));
    await eventually(() => atRomeo.length === 1);
    expect(atJuliet[0]?.attrs).toMatchObject({ from: ROMEO, to: JULIET });
    expect(atJuliet[0]?.getChildText("body")).toBe(MLADY);
    expect(atRomeo[0]?.attrs).toMatchObject({ from: JULIET, to: ROMEO });
    expect(atRomeo[0]?.getChildText("body")).toBe(MONTAGUE);

    // "either party (here the responder) constructs a closing </stream:stream>"
    const romeoDone = outcome(romeo);
    await juliet.close();
    expect(await outcome(juliet)).toBe("clean");
    expect(await romeoDone).toBe("clean");
    expect([juliet.closedBy, romeo.closedBy]).toEqual(["local", "peer"]);
    expect([romeo.state, juliet.state]).toEqual(["closed", "closed"]);
    if (connection.channels) {
      // </stream:stream> both ways, then TLS close_notify both ways (docs/protocol/mode-j.md#teardown-order).
      await expect(connection.channels[0].closed).resolves.toBeUndefined();
      await expect(connection.channels[1].closed).resolves.toBeUndefined();
    }
  });

  it("closes cleanly when the initiator closes, and nothing can be sent afterwards", async () => {
    const { romeo, juliet } = await openPair(kind);
    const closes: Array<Error | undefined> = [];
    romeo.on("close", (e) => closes.push(e));
    juliet.on("close", (e) => closes.push(e));
    await romeo.close();
    await juliet.closed;
    expect(closes).toEqual([undefined, undefined]);
    expect([romeo.closedBy, juliet.closedBy]).toEqual(["local", "peer"]);
    await expect(romeo.send(xml("message", {}, xml("body", {}, "too late")))).rejects.toThrow(/not open/);
  });

  it("stamps every stanza with the stream's JIDs: from = peer full JID, to = own full JID", async () => {
    const { romeo, juliet } = await openPair(kind);
    const got = stanzasOf(juliet);
    await romeo.send(xml("message", {}, xml("body", {}, "no addresses")));
    await romeo.send(xml("presence", { from: "romeo@montague.lit" })); // bare JID: accepted
    await romeo.send(xml("message", { to: "juliet@capulet.lit" }, xml("body", {}, "to her bare JID")));
    await romeo.send(xml("message", { from: "ROMEO@Montague.lit/orchard", type: "chat" })); // normalises
    await eventually(() => got.length === 4);
    for (const s of got) expect(s.attrs).toMatchObject({ from: ROMEO, to: JULIET });
    expect(got.map((s) => s.name)).toEqual(["message", "presence", "message", "message"]);
    expect(got[3]?.attrs.type).toBe("chat");
    await romeo.close();
  });

  it("answers IQs through the stream: a handler's result, service-unavailable otherwise, disco#info", async () => {
    const { romeo, juliet } = await openPair(kind);
    // The draft's §5.1: certificates are exchanged inside the secured stream only.
    juliet.handle("get", NS.PUBKEY, "pubkeys", (iq) => {
      expect(iq.from).toBe(ROMEO);
      return xml("pubkeys", { xmlns: NS.PUBKEY }, xml("keyinfo", {}, xml("x509cert", {}, "TUlJQg==")));
    });
    const result = await romeo.request(xml("iq", { type: "get" }, xml("pubkeys", { xmlns: NS.PUBKEY })));
    expect(result.attrs).toMatchObject({ type: "result", from: JULIET, to: ROMEO });
    expect(result.getChild("pubkeys", NS.PUBKEY)?.getChild("keyinfo")?.getChildText("x509cert")).toBe(
      "TUlJQg==",
    );

    const refused = romeo.request(
      xml("iq", { type: "set" }, xml("nothing", { xmlns: "urn:example:unhandled" })),
    );
    await expect(refused).rejects.toSatisfy((e) => StanzaError.is(e, "service-unavailable"));

    const info = await queryDiscoInfo(juliet, ROMEO);
    expect(info.features).toContain(NS.DISCO_INFO);
    await romeo.close();
  });

  it("carries more than 4 MiB of stanzas intact and in order, both ways at once", async () => {
    const { romeo, juliet } = await openPair(kind);
    const COUNT = 4200; // × ~1 KiB bodies ≈ 4.2 MiB each way
    const body = (who: string, i: number) =>
      `${who}-${i}:` + createHash("sha512").update(`${who}${i}`).digest("hex").repeat(8);
    const digest = (bodies: string[]) => createHash("sha256").update(bodies.join("\n")).digest("hex");
    const sent = { romeo: [] as string[], juliet: [] as string[] };
    for (let i = 0; i < COUNT; i++) {
      sent.romeo.push(body("romeo", i));
      sent.juliet.push(body("juliet", i));
    }
    const receive = async (stream: typeof romeo) => {
      const bodies: string[] = [];
      for await (const s of stream) {
        bodies.push(s.getChildText("body") ?? "");
        if (bodies.length === COUNT) break;
      }
      return bodies;
    };
    const [atJuliet, atRomeo] = await Promise.all([
      receive(juliet),
      receive(romeo),
      (async () => {
        for (const b of sent.romeo) await romeo.send(xml("message", { type: "chat" }, xml("body", {}, b)));
      })(),
      (async () => {
        for (const b of sent.juliet) await juliet.send(xml("message", { type: "chat" }, xml("body", {}, b)));
      })(),
    ]);
    expect(sent.romeo.join("").length).toBeGreaterThan(4 * 1024 * 1024);
    expect(atJuliet.length).toBe(COUNT);
    expect(digest(atJuliet)).toBe(digest(sent.romeo));
    expect(digest(atRomeo)).toBe(digest(sent.juliet));
    await romeo.close();
    expect(await outcome(juliet)).toBe("clean");
  });

  it("reports a transport that ends without </stream:stream> as truncation on both sides", async () => {
    const { romeo, juliet, connection } = await openPair(kind);
    const got = stanzasOf(juliet);
    await romeo.send(xml("message", {}, xml("body", {}, "before the cut")));
    await eventually(() => got.length === 1);
    // Romeo's application ends the byte stream (over TLS: a clean close_notify) without
    // closing the XML stream first.
    connection.romeo.end();
    const [j, r] = await Promise.all([outcome(juliet), outcome(romeo)]);
    expect(j).toBeInstanceOf(StreamTruncatedError);
    expect(r).toBeInstanceOf(StreamTruncatedError);
  });
});

describe("over TLS 1.3 only", () => {
  it("surfaces a cut carrier (no close_notify) as the TLS TruncationError, never as a clean close", async () => {
    const { romeo, juliet, connection } = await openPair("TLS 1.3");
    const got = stanzasOf(juliet);
    await romeo.send(xml("message", {}, xml("body", {}, "wherefore art thou")));
    await eventually(() => got.length === 1);
    connection.carriers[1].destroy();
    const [j, r] = await Promise.all([outcome(juliet), outcome(romeo)]);
    expect(j).toBeInstanceOf(TruncationError);
    expect(r).toBeInstanceOf(TruncationError);
  });
});
