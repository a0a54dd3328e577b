// The draft's main flow (draft-meyer-xmpp-e2e-encryption-02 §3) on the embedded router,
// with the real plug-ins: Jingle + XTLS + IBB + an end-to-end XML stream.
import { createHash } from "node:crypto";
import { LocalRouter, NS, queryDiscoInfo, xml } from "@xtls/core";
import { NS_JINGLE_IBB_0 } from "@xtls/ibb";
import type { SessionPhase } from "@xtls/jingle";
import { pairOnRouter } from "@xtls/testkit/parties";
import { trace } from "@xtls/testkit/stanzas";
import { fingerprintOf } from "@xtls/tls";
import { afterEach, describe, expect, it } from "vitest";
import { NS_XTLS_JINGLE_DRAFT, supportsXtls, type XtlsChannel } from "../src/index.js";
import {
  identityOf,
  inbox,
  JULIET,
  JULIET_LINE,
  openXmlStreamSession,
  partyOn,
  ROMEO,
  ROMEO_LINE,
  until,
} from "./helpers.js";

let router: LocalRouter;
afterEach(() => router?.close());

async function scene() {
  router = new LocalRouter();
  return pairOnRouter(router, [ROMEO, JULIET], partyOn);
}

describe("Jingle + XTLS + IBB + XML stream on the embedded router", () => {
  it("runs initiate → accept → security-info → IBB → TLS 1.3 → XML stream → close → terminate success", async () => {
    const { wire, romeo, juliet } = await scene();
    const opened = await openXmlStreamSession(romeo, juliet);
    const phases: SessionPhase[] = [];
    opened.session.on("phase", (p) => phases.push(p));

    // Both certificates were verified inside TLS 1.3, mutually.
    const ours = opened.session.secured as XtlsChannel;
    const theirs = opened.responder.secured as XtlsChannel;
    expect(ours.protocol).toBe("TLSv1.3");
    expect(ours.peer.fingerprint).toBe(identityOf(JULIET).fingerprint);
    expect(theirs.peer.fingerprint).toBe(identityOf(ROMEO).fingerprint);
    expect(opened.session.transportNamespace).toBe(NS.JINGLE_IBB);

    // message and presence both ways, with routing filled in from the tunnel's JIDs
    const atJuliet = inbox(opened.juliet);
    const atRomeo = inbox(opened.romeo);
    await opened.romeo.send(xml("message", { type: "chat" }, xml("body", {}, ROMEO_LINE)));
    await opened.juliet.send(xml("message", { type: "chat" }, xml("body", {}, JULIET_LINE)));
    await opened.juliet.send(xml("presence", {}, xml("show", {}, "chat")));
    await until(() => atJuliet.length === 1 && atRomeo.length === 2);
    expect(atJuliet[0]?.attrs).toMatchObject({ from: ROMEO, to: JULIET, type: "chat" });
    expect(atJuliet[0]?.getChildText("body")).toBe(ROMEO_LINE);
    expect(atRomeo[0]?.getChildText("body")).toBe(JULIET_LINE);
    expect(atRomeo[1]?.name).toBe("presence");

    // an IQ each way inside the stream
    opened.juliet.handle("get", "urn:xmpp:time", "time", () =>
      xml("time", { xmlns: "urn:xmpp:time" }, xml("utc", {}, "1597-01-01T00:00:00Z")),
    );
    const time = await opened.romeo.request(
      xml("iq", { type: "get" }, xml("time", { xmlns: "urn:xmpp:time" })),
    );
    expect(time.getChild("time", "urn:xmpp:time")?.getChildText("utc")).toBe("1597-01-01T00:00:00Z");
    const info = await queryDiscoInfo(opened.juliet, ROMEO);
    expect(info.features).toContain(NS.DISCO_INFO);

    await opened.romeo.close();
    await Promise.all([opened.session.done, opened.responder.done]);
    expect(phases).toEqual(["ended"]);
    expect([opened.session.state, opened.responder.state]).toEqual(["ended", "ended"]);

    // The order on the wire is the draft's: the choice is signalled before the transport
    // opens, and the first bytes on the transport are the TLS handshake.
    const names = { [ROMEO]: "R", [JULIET]: "J" };
    const t = trace(wire, names, { ibb: true });
    expect(t.slice(0, 4)).toEqual([
      "R:session-initiate",
      "J:session-accept",
      "R:security-info",
      "R:ibb-open",
    ]);
    expect(t.at(-1)).toBe("R:session-terminate(success)");
    expect(t.filter((x) => x.includes("session-terminate"))).toHaveLength(1);
    const firstData = wire.find((e) => e.stanza.getChild("data", NS.IBB))!;
    expect(Buffer.from(firstData.stanza.getChildText("data", NS.IBB)!, "base64")[0]).toBe(0x16);

    // The session-initiate carries Romeo's fingerprint, the accept Juliet's.
    const initiate = wire[0]!.stanza.getChild("jingle", NS.JINGLE)!;
    const security = initiate.getChild("content")!.getChild("security", NS.XTLS_JINGLE)!;
    expect(security.getChildText("fingerprint")).toBe(identityOf(ROMEO).fingerprint);
    expect(initiate.getChild("content")!.getChild("transport")!.getNS()).toBe(NS.JINGLE_IBB);
    const accept = wire.find(
      (e) => e.stanza.getChild("jingle", NS.JINGLE)?.attrs.action === "session-accept",
    )!;
    expect(accept.stanza.toString()).toContain(identityOf(JULIET).fingerprint);

    // Nothing readable crossed the router.
    for (const e of wire) {
      expect(e.wire).not.toContain("acquaintance");
      expect(e.wire).not.toContain("Montague?");
      expect(e.wire).not.toContain("1597-01-01");
    }
    expect(romeo.manager.sessions).toEqual([]);
    expect(juliet.manager.sessions).toEqual([]);
    await until(() => romeo.ibb.streams.length === 0 && juliet.ibb.streams.length === 0);
  });

  it("moves 4 MiB of stanzas in order and intact through the tunnel", async () => {
    const { romeo, juliet } = await scene();
    const opened = await openXmlStreamSession(romeo, juliet);
    const atJuliet = inbox(opened.juliet);
    const sent = createHash("sha256");
    const chunk = 64 * 1024;
    let total = 0;
    for (let i = 0; total < 4 * 1024 * 1024; i++) {
      const body = createHash("sha512")
        .update(String(i))
        .digest("base64")
        .repeat(chunk / 88)
        .slice(0, chunk);
      sent.update(body);
      total += body.length;
      await opened.romeo.send(xml("message", { id: `m${i}` }, xml("body", {}, body)));
    }
    await until(
      () => atJuliet.reduce((n, m) => n + (m.getChildText("body")?.length ?? 0), 0) >= total,
      60_000,
    );
    const got = createHash("sha256");
    for (const m of atJuliet) got.update(m.getChildText("body") ?? "");
    expect(got.digest("hex")).toBe(sent.digest("hex"));
    expect(atJuliet.map((m) => m.attrs.id)).toEqual(atJuliet.map((_, i) => `m${i}`));
    await opened.juliet.close();
    await Promise.all([opened.session.done, opened.responder.done]);
  }, 120_000);

  it("advertises the XTLS feature it emits and reads the draft's as support too", async () => {
    const { romeo, juliet } = await scene();
    const features = (await queryDiscoInfo(romeo.link, JULIET)).features;
    expect(features).toEqual(
      expect.arrayContaining([NS.JINGLE, NS.XTLS_JINGLE, NS.JINGLE_IBB, NS.JINGLE_XMLSTREAM]),
    );
    expect(features).not.toContain(NS_XTLS_JINGLE_DRAFT);
    expect(supportsXtls(features)).toBe(true);
    expect(supportsXtls([NS_XTLS_JINGLE_DRAFT])).toBe(true);
    expect(supportsXtls([NS.JINGLE])).toBe(false);
    void juliet;
  });

  it("speaks the draft's own dialect on input: ibb:0 (no <open/>), xtls:1, xmlstream:1 and a SHA-1 fingerprint", async () => {
    const { wire, romeo, juliet } = await scene();
    // Rewrite Romeo's offer the way a draft-02 implementation would have written it.
    router.intercept((stanza) => {
      const content = stanza.getChild("jingle", NS.JINGLE)?.getChild("content");
      if (stanza.attrs.from !== ROMEO || !content) return undefined;
      const description = content.getChild("description");
      const transport = content.getChild("transport");
      if (description) description.attrs.xmlns = "urn:xmpp:jingle:apps:xmlstream:1";
      if (transport) transport.attrs.xmlns = NS_JINGLE_IBB_0;
      const security = content.getChild("security");
      if (security) {
        security.attrs.xmlns = NS_XTLS_JINGLE_DRAFT;
        const fp = security.getChild("fingerprint");
        if (fp) {
          fp.attrs.algo = "sha1";
          fp.children = [fingerprintOf(identityOf(ROMEO).certificateDer, "sha-1")];
        }
      }
      return stanza;
    });
    const opened = await openXmlStreamSession(romeo, juliet);
    const atJuliet = inbox(opened.juliet);
    await opened.romeo.send(xml("message", {}, xml("body", {}, ROMEO_LINE)));
    await until(() => atJuliet.length === 1);
    await opened.romeo.close();
    await Promise.all([opened.session.done, opened.responder.done]);
    const accept = wire.find(
      (e) => e.stanza.getChild("jingle", NS.JINGLE)?.attrs.action === "session-accept",
    )!;
    expect(accept.stanza.getChild("jingle")!.getChild("content")!.getChild("transport")!.getNS()).toBe(
      NS_JINGLE_IBB_0,
    );
    expect(wire.filter((e) => e.stanza.getChild("open", NS.IBB))).toEqual([]);
    expect((opened.responder.secured as XtlsChannel).peer.fingerprint).toBe(identityOf(ROMEO).fingerprint);
  });
});
