// Mode Q first contact with the srp method: <srp/> in both XEP-0250 offers, method='srp'
// on the first <data/>, SRP-6a inside TLS 1.3; then x509 with no password.
import { LocalRouter, NS, type RouteEvent } from "@xtls/core";
import { MemoryTrustStore, NodeTlsEngine, SecurityError } from "@xtls/tls";
import { afterEach, describe, expect, it } from "vitest";
import { type IqTunnel, IqTunnelService } from "../src/index.js";
import { identityOf, JULIET, ROMEO } from "./helpers.js";

let router: LocalRouter;
afterEach(() => router?.close());

function party(jid: string, password: string | null, asked: string[]) {
  const trust = new MemoryTrustStore();
  const service = new IqTunnelService(router.createLink(jid), {
    engine: new NodeTlsEngine({ identity: identityOf(jid), trustStore: trust }),
    askPassword: async (req) => {
      asked.push(req.peer);
      return password;
    },
  });
  return { service, trust };
}

describe("Mode Q: srp", () => {
  it("offers <srp/>, the responder names no certificate it cannot verify, the first <data/> says method='srp'; both pin; the next tunnel is x509", async () => {
    router = new LocalRouter();
    const wire: RouteEvent[] = [];
    router.observe((e) => wire.push(e));
    const asked: string[] = [];
    const romeo = party(ROMEO, "benvolio-knows", asked);
    const juliet = party(JULIET, "benvolio-knows", asked);
    const incoming = new Promise<IqTunnel>((r) => juliet.service.once("tunnel", r));
    const tunnel = await romeo.service.open(JULIET);
    await incoming;
    const start = wire
      .find((e) => e.stanza.getChild("start", NS.XTLS_IQ))!
      .stanza.getChild("start", NS.XTLS_IQ)!;
    expect(start.getChild("offer", NS.C2CTLS)?.getChild("srp")).toBeDefined();
    const proceed = wire
      .find((e) => e.stanza.getChild("proceed", NS.XTLS_IQ))!
      .stanza.getChild("proceed", NS.XTLS_IQ)!;
    expect(proceed.getChild("offer", NS.C2CTLS)?.getChildren("keyinfo", NS.PUBKEY_TMP)).toEqual([]);
    expect(proceed.getChild("offer", NS.C2CTLS)?.getChild("srp")).toBeDefined();
    const firstData = wire
      .find((e) => e.stanza.getChild("data", NS.XTLS_IQ))!
      .stanza.getChild("data", NS.XTLS_IQ)!;
    expect(firstData.attrs.method).toBe("srp");
    expect(asked.sort()).toEqual([JULIET, ROMEO].sort());
    expect(await romeo.trust.entries(JULIET)).toEqual([
      expect.objectContaining({
        fingerprint: identityOf(JULIET).fingerprint,
        method: "srp",
        state: "verified",
      }),
    ]);
    await tunnel.close();

    wire.length = 0;
    const again = new Promise<IqTunnel>((r) => juliet.service.once("tunnel", r));
    const second = await romeo.service.open(JULIET);
    await again;
    expect(
      wire.find((e) => e.stanza.getChild("data", NS.XTLS_IQ))!.stanza.getChild("data", NS.XTLS_IQ)!.attrs
        .method,
    ).toBe("x509");
    expect(asked).toHaveLength(2);
    await second.close();
  });

  it("a wrong password: both sides fail with a typed error, nothing pinned", async () => {
    router = new LocalRouter();
    const romeo = party(ROMEO, "benvolio-knows", []);
    const juliet = party(JULIET, "mercutio-guessed", []);
    const failed = new Promise<{ error: Error }>((r) => juliet.service.once("failed", r));
    const error = await romeo.service.open(JULIET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecurityError);
    expect((await failed).error).toBeInstanceOf(SecurityError);
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
  });

  it("without srp on the responder, an unverifiable initiator is refused before any handshake", async () => {
    router = new LocalRouter();
    const romeo = party(ROMEO, "benvolio-knows", []);
    const juliet = new IqTunnelService(router.createLink(JULIET), {
      engine: new NodeTlsEngine({ identity: identityOf(JULIET), trustStore: new MemoryTrustStore() }),
    });
    void juliet;
    const error = await romeo.service.open(JULIET).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/cannot verify our certificate/);
  });
});
