import { createHash } from "node:crypto";
import { LocalRouter, NS, StanzaError, xml } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import { type IqTunnel, TunnelRefusedError } from "../src/index.js";
import {
  closeLater,
  closeRouters,
  identityOf,
  JULIET,
  pair,
  ROMEO,
  stanzasOf,
  tick,
  until,
} from "./helpers.js";

const LINES =
  "I take thee at thy word:\nCall me but love, and I'll be new baptized;\nHenceforth I never will be Romeo.";
afterEach(closeRouters);

function incoming(service: { once(e: "tunnel", l: (t: IqTunnel) => void): unknown }) {
  return new Promise<IqTunnel>((resolve) => service.once("tunnel", resolve));
}

describe("Mode Q on the embedded router", () => {
  it("opens a mutually authenticated TLS 1.3 tunnel, carries the seed's message, and closes cleanly", async () => {
    const { romeo, juliet, wire } = await pair();
    const julietSide = incoming(juliet.service);
    const tunnel = await romeo.service.open(JULIET);
    const theirs = await julietSide;
    expect(tunnel.role).toBe("initiator");
    expect(theirs.role).toBe("responder");
    expect(tunnel.channel?.protocol).toBe("TLSv1.3");
    expect(tunnel.peer?.fingerprint).toBe(identityOf(JULIET).fingerprint);
    expect(theirs.peer?.fingerprint).toBe(identityOf(ROMEO).fingerprint);

    const atJuliet = stanzasOf(theirs);
    const atRomeo = stanzasOf(tunnel);
    await tunnel.send(
      xml(
        "message",
        { type: "chat", from: ROMEO, to: JULIET },
        xml("thread", {}, "act2scene2chat1"),
        xml("body", {}, LINES),
        xml("active", { xmlns: NS.CHATSTATES }),
      ),
    );
    await until(() => atJuliet.length === 1);
    await theirs.send(
      xml("message", { type: "chat" }, xml("body", {}, "My bounty is as boundless as the sea")),
    );
    await until(() => atRomeo.length === 1);

    // Routing restored from the carrying IQs
    expect(atJuliet[0]?.attrs).toMatchObject({ from: ROMEO, to: JULIET, type: "chat" });
    expect(atJuliet[0]?.getChildText("body")).toBe(LINES);
    expect(atJuliet[0]?.getChild("active", NS.CHATSTATES)).toBeDefined();
    expect(atRomeo[0]?.attrs).toMatchObject({ from: JULIET, to: ROMEO });

    // The router never saw the plaintext: only Base64 TLS records in <data/> IQs
    expect(wire.some((e) => e.wire.includes("boundless") || e.wire.includes("baptized"))).toBe(false);
    const first = wire.find((e) => e.stanza.getChild("data", NS.XTLS_IQ));
    expect(first?.stanza.getChild("data", NS.XTLS_IQ)?.attrs.method).toBe("x509");
    expect(Buffer.from(first!.stanza.getChildText("data", NS.XTLS_IQ)!, "base64")[0]).toBe(0x16); // TLS handshake record

    const romeoClosed = new Promise<Error | undefined>((r) => tunnel.once("close", r));
    const julietClosed = new Promise<Error | undefined>((r) => theirs.once("close", r));
    await tunnel.close();
    expect(await romeoClosed).toBeUndefined();
    expect(await julietClosed).toBeUndefined();
    const closes = wire.filter(
      (e) => e.stanza.getChild("close", NS.XTLS_IQ) || e.stanza.getChild("closed", NS.XTLS_IQ),
    );
    expect(closes.map((e) => e.stanza.getChildElements()[0]?.name)).toEqual(["close", "closed"]);
    expect(romeo.service.tunnel(JULIET)).toBeUndefined();
    expect(juliet.service.tunnel(ROMEO)).toBeUndefined();
  });

  it("carries 1 MiB of stanzas intact, in order", async () => {
    const { romeo, juliet } = await pair({ window: 4 });
    const julietSide = incoming(juliet.service);
    const tunnel = await romeo.service.open(JULIET);
    const theirs = await julietSide;
    const got = stanzasOf(theirs);
    const bodies: string[] = [];
    let total = 0;
    for (let i = 0; total < 1024 * 1024; i++) {
      const body = `${i}:${createHash("sha256").update(String(i)).digest("base64").repeat(60)}`;
      bodies.push(body);
      total += body.length;
      void tunnel.send(xml("message", { id: String(i) }, xml("body", {}, body)));
    }
    await until(() => got.length === bodies.length, 20_000);
    expect(got.map((s) => s.getChildText("body"))).toEqual(bodies);
    await tunnel.close();
  });

  it("answers IQs through the tunnel, and service-unavailable for what nobody handles there", async () => {
    const { romeo, juliet } = await pair();
    const julietSide = incoming(juliet.service);
    const tunnel = await romeo.service.open(JULIET);
    const theirs = await julietSide;
    theirs.handle("get", "urn:example:inner", "q", (iq) => xml("a", { xmlns: "urn:example:inner" }, iq.from));
    const result = await tunnel.request(xml("iq", { type: "get" }, xml("q", { xmlns: "urn:example:inner" })));
    expect(result.getChildText("a", "urn:example:inner")).toBe(ROMEO);
    await expect(
      tunnel.request(xml("iq", { type: "get" }, xml("nope", { xmlns: "urn:example:inner" }))),
    ).rejects.toSatisfy((e) => StanzaError.is(e, "service-unavailable"));
    await tunnel.close();
  });

  it("returns the existing tunnel when asked to open one twice", async () => {
    const { romeo } = await pair();
    const [a, b] = await Promise.all([romeo.service.open(JULIET), romeo.service.open(JULIET)]);
    expect(a).toBe(b);
    expect(await romeo.service.open(JULIET)).toBe(a);
    await a.close();
  });
});

describe("Mode Q: refusals and policy", () => {
  it("service-unavailable from a peer without XTLS → TunnelRefusedError, nothing else sent", async () => {
    const router = closeLater(new LocalRouter());
    const { IqTunnelService } = await import("../src/index.js");
    const { NodeTlsEngine } = await import("@xtls/tls");
    router.createLink(JULIET); // plain client, no XTLS
    const svc = new IqTunnelService(router.createLink(ROMEO), {
      engine: new NodeTlsEngine({ identity: identityOf(ROMEO) }),
    });
    const err = await svc.open(JULIET).catch((e) => e);
    expect(err).toBeInstanceOf(TunnelRefusedError);
    expect(err.stanzaError.condition).toBe("service-unavailable");
    expect(await svc.open(JULIET, { discover: true }).catch((e) => e.message)).toContain(
      "does not support XTLS",
    );
  });

  it("service-unavailable once XTLS is switched off (the service closed), and the feature is gone", async () => {
    const { romeo, juliet } = await pair();
    await juliet.service.close();
    const err = await romeo.service.open(JULIET).catch((e) => e);
    expect(err).toBeInstanceOf(TunnelRefusedError);
    expect(err.stanzaError.condition).toBe("service-unavailable");
    expect(juliet.service.link.disco.hasFeature(NS.XTLS_IQ)).toBe(false);
  });

  it("not-acceptable (type cancel, as the ProtoXEP shows) when the responder's policy declines", async () => {
    const { romeo, wire } = await pair({ accept: ({ peer }: { peer: string }) => !peer.startsWith("romeo") });
    const err = await romeo.service.open(JULIET).catch((e) => e);
    expect(err).toBeInstanceOf(TunnelRefusedError);
    expect(err.stanzaError.condition).toBe("not-acceptable");
    expect(wire.find((e) => e.stanza.attrs.type === "error")?.stanza.getChild("error")?.attrs.type).toBe(
      "cancel",
    );
  });

  it("the responder who cannot verify us omits its key name; the initiator closes at once", async () => {
    const { romeo, juliet, wire } = await pair();
    await juliet.trust.forget(ROMEO);
    const err = await romeo.service.open(JULIET).catch((e) => e);
    expect(err).toBeInstanceOf(TunnelRefusedError);
    expect(err.message).toContain("cannot verify");
    await tick(20);
    expect(wire.some((e) => e.stanza.getChild("data", NS.XTLS_IQ))).toBe(false); // no handshake attempted
    expect(wire.some((e) => e.stanza.getChild("close", NS.XTLS_IQ))).toBe(true);
  });
});
