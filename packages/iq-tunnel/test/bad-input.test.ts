import { type Element, encodeBase64, NS, StanzaError, xml } from "@xtls/core";
import { expectOneReplyPerRequest } from "@xtls/testkit/stanzas";
import {
  createIdentity,
  NodeTlsEngine,
  SecurityError,
  TlsHandshakeError,
  TruncationError,
  UntrustedCertificateError,
} from "@xtls/tls";
import { afterEach, describe, expect, it } from "vitest";
import {
  InnerStanzaError,
  type IqTunnel,
  IqTunnelService,
  offerElement,
  TunnelClosedError,
} from "../src/index.js";
import {
  closeLater,
  closeRouters,
  identityOf,
  JULIET,
  pair,
  ROMEO,
  setup,
  stanzasOf,
  tick,
  until,
} from "./helpers.js";

const MALLORY = "mallory@capulet.lit/arras";
afterEach(closeRouters);

async function openPair(romeo: { service: IqTunnelService }, juliet: { service: IqTunnelService }) {
  const theirs = new Promise<IqTunnel>((r) => juliet.service.once("tunnel", r));
  const ours = await romeo.service.open(JULIET);
  return { ours, theirs: await theirs };
}

const dataIq = (to: string, payload: string, attrs: Record<string, string> = {}) =>
  xml("iq", { type: "set", to }, xml("data", { xmlns: NS.XTLS_IQ, ...attrs }, payload));

describe("authentication failures", () => {
  it("a wrong pinned fingerprint fails both sides with a typed error; no application data anywhere", async () => {
    const { romeo, juliet, wire } = await pair();
    await romeo.trust.forget(JULIET);
    await romeo.trust.pin(JULIET, createIdentity(JULIET).fingerprint, { method: "manual" });
    const julietOutcome = new Promise<Error | undefined>((resolve) => {
      juliet.service.once("failed", ({ error }) => resolve(error));
      juliet.service.once("tunnel", (t) => {
        stanzasOf(t);
        t.once("close", resolve);
      });
    });
    const err = await romeo.service.open(JULIET).catch((e) => e);
    expect(err).toBeInstanceOf(UntrustedCertificateError);
    expect(await julietOutcome).toBeInstanceOf(SecurityError);
    await until(() => !romeo.service.tunnel(JULIET) && !juliet.service.tunnel(ROMEO));
    await expectOneReplyPerRequest(wire);
  });

  it("a relaying man in the middle with its own certificates is refused by both sides and gets no application byte", async () => {
    const { router, romeo, juliet } = await pair();
    const mitm = router.interpose(ROMEO, JULIET);
    // Mallory answers each side with certificates that name the right JIDs, but are hers.
    const asJuliet = new IqTunnelService(mitm.asB, {
      engine: new NodeTlsEngine({ identity: createIdentity(JULIET) }),
    });
    const asRomeo = new IqTunnelService(mitm.asA, {
      engine: new NodeTlsEngine({ identity: createIdentity(ROMEO) }),
    });
    const malloryGot: Element[] = [];
    asJuliet.on("tunnel", (t) => t.on("stanza", (s) => malloryGot.push(s)));
    const relayed = asRomeo.open(JULIET).catch((e) => e);
    const julietFailed = new Promise((r) => juliet.service.once("failed", r));
    const err = await romeo.service.open(JULIET).catch((e) => e);
    expect(err).toBeInstanceOf(UntrustedCertificateError);
    expect(await relayed).toBeInstanceOf(Error); // Juliet refused Mallory-as-Romeo
    await julietFailed;
    expect(malloryGot).toEqual([]);
    mitm.remove();
  });
});

describe("malformed and misdirected stanzas", () => {
  it("malformed Base64 in <data/> → bad-request (cancel), tunnel closed on both sides", async () => {
    const { romeo, juliet, wire } = await pair();
    const { ours, theirs } = await openPair(romeo, juliet);
    const closed = new Promise<Error | undefined>((r) => theirs.once("close", r));
    const oursClosed = new Promise<Error | undefined>((r) => ours.once("close", r));
    const err = await romeo.service.link.request(dataIq(JULIET, "!!not base64!!")).catch((e) => e);
    expect(StanzaError.is(err, "bad-request")).toBe(true);
    expect((err as StanzaError).type).toBe("cancel");
    expect(await closed).toBeInstanceOf(TunnelClosedError);
    expect(await oursClosed).toBeInstanceOf(Error); // Juliet's <close/> without close_notify: truncation
    await expectOneReplyPerRequest(wire);
  });

  it("a third party's <data/> and <close/> get item-not-found; the real tunnel's bytes are untouched", async () => {
    const { router, romeo, juliet, wire } = await pair();
    const mallory = router.createLink(MALLORY);
    const { ours, theirs } = await openPair(romeo, juliet);
    const got = stanzasOf(theirs);
    const e1 = await mallory
      .request(dataIq(JULIET, encodeBase64(Buffer.from([0x17, 3, 3, 0, 1, 0]))))
      .catch((e) => e);
    const e2 = await mallory
      .request(xml("iq", { type: "set", to: JULIET }, xml("close", { xmlns: NS.XTLS_IQ })))
      .catch((e) => e);
    expect(StanzaError.is(e1, "item-not-found")).toBe(true);
    expect(StanzaError.is(e2, "item-not-found")).toBe(true);
    await ours.send(xml("message", {}, xml("body", {}, "still ours")));
    await until(() => got.length === 1);
    expect(got[0]?.getChildText("body")).toBe("still ours");
    expect(theirs.state).toBe("open");
    await ours.close();
    await expectOneReplyPerRequest(wire);
  });

  it("<close/> for an unknown tunnel → item-not-found", async () => {
    const { romeo } = await pair();
    const err = await romeo.service.link
      .request(xml("iq", { type: "set", to: JULIET }, xml("close", { xmlns: NS.XTLS_IQ })))
      .catch((e) => e);
    expect(StanzaError.is(err, "item-not-found")).toBe(true);
  });

  it("<data/> while our own <start/> is unanswered → unexpected-request", async () => {
    const { router, romeo } = await pair();
    const mallory = router.createLink(MALLORY);
    mallory.handle("set", NS.XTLS_IQ, "start", () => new Promise(() => {})); // never answers
    const opening = romeo.service.open(MALLORY).catch(() => {});
    await tick(5);
    const err = await mallory.request(dataIq(ROMEO, "AAAA")).catch((e) => e);
    expect(StanzaError.is(err, "unexpected-request")).toBe(true);
    void opening;
  });

  it("a method we cannot do (openpgp) → not-acceptable and the tunnel is closed", async () => {
    const { router, juliet } = await pair();
    const mallory = router.createLink(MALLORY);
    await juliet.trust.pin(MALLORY, identityOf(MALLORY).fingerprint, { method: "manual" });
    await mallory.request(xml("iq", { type: "set", to: JULIET }, xml("start", { xmlns: NS.XTLS_IQ })));
    const err = await mallory.request(dataIq(JULIET, "AAAA", { method: "openpgp" })).catch((e) => e);
    expect(StanzaError.is(err, "not-acceptable")).toBe(true);
    expect(juliet.service.tunnel(MALLORY)).toBeUndefined();
  });
});

describe("TLS-level faults", () => {
  it("a <start/> offering <insecure/>, then a stanza in the clear: still TLS — the stanza never reaches the application", async () => {
    const { router, juliet } = await pair();
    const mallory = router.createLink(MALLORY);
    mallory.handle("set", NS.XTLS_IQ, "data", () => undefined);
    mallory.handle("set", NS.XTLS_IQ, "close", () => xml("closed", { xmlns: NS.XTLS_IQ }));
    const delivered: Element[] = [];
    juliet.service.on("tunnel", (t) => t.on("stanza", (st) => delivered.push(st)));
    const failed = new Promise<{ error: Error }>((r) => juliet.service.once("failed", r));
    const start = xml(
      "start",
      { xmlns: NS.XTLS_IQ },
      offerElement({ fingerprints: [], srp: false, insecure: true }),
    );
    await mallory.request(xml("iq", { type: "set", to: JULIET }, start));
    const clear = Buffer.from("<message><body>Wherefore art thou?</body></message>");
    await mallory.request(dataIq(JULIET, encodeBase64(clear), { method: "x509" }));
    // There is no cleartext mode: the bytes go to the TLS layer, which refuses them.
    expect((await failed).error).toBeInstanceOf(SecurityError);
    expect(delivered).toEqual([]);
  });

  it("garbage TLS bytes → a TLS alert back, the tunnel closed, a typed error", async () => {
    const { router, juliet, wire } = await pair();
    const mallory = router.createLink(MALLORY);
    const dataFromJuliet: Buffer[] = [];
    mallory.handle("set", NS.XTLS_IQ, "data", (iq) => {
      dataFromJuliet.push(Buffer.from(iq.payload.getText(), "base64"));
    });
    let closedByJuliet = false;
    mallory.handle("set", NS.XTLS_IQ, "close", () => {
      closedByJuliet = true;
      return xml("closed", { xmlns: NS.XTLS_IQ });
    });
    const failed = new Promise<{ error: Error }>((r) => juliet.service.once("failed", r));
    await mallory.request(xml("iq", { type: "set", to: JULIET }, xml("start", { xmlns: NS.XTLS_IQ })));
    // A handshake record whose ClientHello is nonsense.
    const bogus = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0xff]);
    await mallory.request(dataIq(JULIET, encodeBase64(bogus), { method: "x509" }));
    const { error } = await failed;
    expect(error).toBeInstanceOf(TlsHandshakeError);
    await until(() => closedByJuliet);
    // The alert record: content type 21, level fatal (2).
    const alert = Buffer.concat(dataFromJuliet);
    expect(alert[0]).toBe(0x15);
    expect(alert[5]).toBe(2);
    await expectOneReplyPerRequest(wire);
  });

  it("<close/> without a TLS close_notify first → TruncationError, never a clean close", async () => {
    const { romeo, juliet } = await pair();
    const { theirs } = await openPair(romeo, juliet);
    const closed = new Promise<Error | undefined>((r) => theirs.once("close", r));
    await romeo.service.link.request(
      xml("iq", { type: "set", to: JULIET }, xml("close", { xmlns: NS.XTLS_IQ })),
    );
    expect(await closed).toBeInstanceOf(TruncationError);
  });

  it("an error reply to our <data/> makes the tunnel closed and invalid", async () => {
    const { router, romeo, juliet } = await pair();
    const { ours, theirs } = await openPair(romeo, juliet);
    router.intercept((s) =>
      s.getChild("data", NS.XTLS_IQ) && s.attrs.from === ROMEO
        ? xml("iq", { ...s.attrs, type: "set" }, xml("data", { xmlns: NS.XTLS_IQ }, "@@@@"))
        : undefined,
    );
    const closed = new Promise<Error | undefined>((r) => ours.once("close", r));
    await ours.send(xml("message", {}, xml("body", {}, "x"))).catch(() => {});
    expect(await closed).toBeInstanceOf(Error);
    await expect(ours.send(xml("message"))).rejects.toBeInstanceOf(Error);
    void theirs;
  });
});

describe("routing restoration and spoofing inside the tunnel", () => {
  it.each([
    ["a foreign from", "<message from='tybalt@capulet.lit/street'><body>it was Romeo</body></message>"],
    ["a foreign to", "<message to='nurse@capulet.lit/kitchen'><body>psst</body></message>"],
    ["a non-stanza", "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>"],
    ["a DTD", "<!DOCTYPE message [<!ENTITY x 'y'>]><message/>"],
  ])("%s: not delivered, the tunnel is closed", async (_what, raw) => {
    const { romeo, juliet } = await pair();
    const { ours, theirs } = await openPair(romeo, juliet);
    const got = stanzasOf(theirs);
    const closed = new Promise<Error | undefined>((r) => theirs.once("close", r));
    ours.channel!.stream.write(raw);
    expect(await closed).toBeInstanceOf(InnerStanzaError);
    expect(got).toEqual([]);
  });

  // core's parser took input that ended inside a tag for a clean end (found by the fuzz suite).
  it.each([
    ["inside a start tag", "<message to='juliet@capulet.lit"],
    ["between the tags of a stanza", "<message><body>cut"],
  ])("a stanza cut off %s, then a clean close: InnerStanzaError, not a clean close", async (_where, raw) => {
    const { romeo, juliet } = await pair();
    const { ours, theirs } = await openPair(romeo, juliet);
    const got = stanzasOf(theirs);
    const closed = new Promise<Error | undefined>((r) => theirs.once("close", r));
    ours.channel!.stream.write(raw);
    await ours.close().catch(() => {});
    expect(await closed).toBeInstanceOf(InnerStanzaError);
    expect(got).toEqual([]);
  });

  it("a </stream:stream> inside the tunnel, then more stanzas: InnerStanzaError, nothing after it delivered unnoticed", async () => {
    const { romeo, juliet } = await pair();
    const { ours, theirs } = await openPair(romeo, juliet);
    const got = stanzasOf(theirs);
    const closed = new Promise<Error | undefined>((r) => theirs.once("close", r));
    ours.channel!.stream.write("<message><body>before</body></message></stream:stream>");
    ours.channel!.stream.write("<message><body>after</body></message>");
    const error = await closed;
    expect(error).toBeInstanceOf(InnerStanzaError);
    expect(error?.message).toMatch(/<\/stream:stream> inside the tunnel/);
    expect(got.map((s) => s.getChildText("body"))).toEqual(["before"]);
    expect(theirs.state).toBe("closed");
  });

  it("accepts the peer's own full or bare JID in 'from', and our bare JID in 'to'", async () => {
    const { romeo, juliet } = await pair();
    const { ours, theirs } = await openPair(romeo, juliet);
    const got = stanzasOf(theirs);
    ours.channel!.stream.write(
      `<message from='${ROMEO}'><body>1</body></message><message from='Romeo@Montague.lit'><body>2</body></message>` +
        "<message to='juliet@capulet.lit'><body>3</body></message>",
    );
    await until(() => got.length === 3);
    expect(got.map((s) => [s.attrs.from, s.attrs.to, s.getChildText("body")])).toEqual([
      [ROMEO, JULIET, "1"],
      [ROMEO, JULIET, "2"],
      [ROMEO, JULIET, "3"],
    ]);
    await ours.close();
  });
});

describe("simultaneous starts: the i;octet conflict rule on full JIDs", () => {
  it("the JID that sorts first (UTF-8 bytes, not UTF-16) becomes the initiator; one tunnel results", async () => {
    const fullwidth = "alice@a.example/\uFF21"; // UTF-8 EF BC A1
    const emoji = "alice@a.example/\u{1F600}"; // UTF-8 F0 9F 98 80 — but UTF-16 D83D sorts before FF21
    expect(emoji < fullwidth).toBe(true); // the trap
    const { parties, wire, router } = await setup([emoji, fullwidth]);
    closeLater(router);
    const [e, f] = parties as [(typeof parties)[0], (typeof parties)[0]];
    const [te, tf] = await Promise.all([e.service.open(fullwidth), f.service.open(emoji)]);
    expect(tf.role).toBe("initiator");
    expect(te.role).toBe("responder");
    const conflict = wire.find((w) =>
      w.stanza.getChild("error")?.getChild("conflict", "urn:ietf:params:xml:ns:xmpp-stanzas"),
    );
    expect(conflict?.from).toBe(fullwidth);
    expect(conflict?.to).toBe(emoji);
    const got = stanzasOf(tf);
    await te.send(xml("message", {}, xml("body", {}, "one tunnel")));
    await until(() => got.length === 1);
    await tf.close();
    await expectOneReplyPerRequest(wire);
  });

  it("a start from a peer we already have a tunnel with replaces the old tunnel (the peer lost its state)", async () => {
    const { romeo, juliet } = await pair();
    const { theirs } = await openPair(romeo, juliet);
    const oldClosed = new Promise<Error | undefined>((r) => theirs.once("close", r));
    const fresh = new Promise<IqTunnel>((r) => juliet.service.once("tunnel", r));
    // Romeo's client restarted and starts again (raw, as its old state is gone)
    const result = await romeo.service.link.request(
      xml("iq", { type: "set", to: JULIET }, xml("start", { xmlns: NS.XTLS_IQ })),
    );
    expect(result.getChild("proceed", NS.XTLS_IQ)).toBeDefined();
    expect((await oldClosed)?.message).toContain("started a new tunnel");
    expect(juliet.service.tunnel(ROMEO)).not.toBe(theirs);
    void fresh;
  });
});

describe("backpressure", () => {
  it("a reader that does not read holds the sender back (acks are withheld) instead of buffering without bound", async () => {
    const { romeo, juliet } = await pair();
    const { ours, theirs } = await openPair(romeo, juliet);
    theirs.channel!.stream.pause();
    const big = "x".repeat(16 * 1024);
    let sent = 0;
    for (let i = 0; i < 256; i++) void ours.send(xml("message", {}, xml("body", {}, big))).then(() => sent++);
    await tick(300);
    // 4 MiB offered; what crossed is bounded by the buffers, not by what was offered.
    expect(theirs.carrier.bytesIn).toBeLessThan(1024 * 1024);
    expect(sent).toBeLessThan(256);
    const got = stanzasOf(theirs);
    theirs.channel!.stream.resume();
    await until(() => got.length === 256, 20_000);
    await ours.close();
  });
});
