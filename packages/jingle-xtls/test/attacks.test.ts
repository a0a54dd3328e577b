// What the draft's security precondition must stop, on the embedded router: a relaying
// man in the middle, a downgrade by stripping <security/>, peers that cannot verify each
// other, and stanzas from third parties. Each: the attack fails, both sides get a typed
// error, and no application byte is sent.
import { type Element, LocalRouter, NS, type RouteEvent, StanzaError, xml } from "@xtls/core";
import {
  INSECURE_OPT_OUT,
  JingleReasonError,
  type JingleSession,
  SessionTerminatedError,
} from "@xtls/jingle";
import { pairOnRouter } from "@xtls/testkit/parties";
import { CertificateChangedError, createIdentity } from "@xtls/tls";
import { XmlStreamSession } from "@xtls/xmlstream";
import { afterEach, describe, expect, it } from "vitest";
import type { XtlsChannel } from "../src/index.js";
import {
  acceptEverything,
  identityOf,
  inbox,
  JULIET,
  JULIET_LINE,
  MALLORY,
  openXmlStreamSession,
  type Party,
  type PartyOptions,
  partyOn,
  ROMEO,
  ROMEO_LINE,
  until,
} from "./helpers.js";

let router: LocalRouter;
afterEach(() => router?.close());

async function scene(
  romeoOptions: PartyOptions = { pins: [JULIET] },
  julietOptions: PartyOptions = { pins: [ROMEO] },
) {
  router = new LocalRouter();
  return pairOnRouter(router, [ROMEO, JULIET], partyOn, { romeo: romeoOptions, juliet: julietOptions });
}

/** Romeo initiates; resolves with both sessions (Juliet's once offered). */
function initiate(romeo: Party, juliet: Party) {
  const app = new XmlStreamSession();
  const incoming = acceptEverything(juliet);
  const session = romeo.manager.initiate(JULIET, {
    application: app,
    transports: [romeo.transport],
    security: romeo.security,
  });
  return { session, app, incoming };
}

async function endedWith(session: JingleSession): Promise<SessionTerminatedError> {
  const error = await session.done.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SessionTerminatedError);
  return error as SessionTerminatedError;
}

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "opened",
    () => "failed",
  );

const ibbData = (wire: readonly RouteEvent[]) => wire.filter((e) => e.stanza.getChild("data", NS.IBB));
const jingleActions = (wire: readonly RouteEvent[]) =>
  wire
    .map((e) => e.stanza.getChild("jingle", NS.JINGLE))
    .filter((j): j is Element => j !== undefined)
    .map(
      (j) =>
        `${j.attrs.action}${j.getChild("reason") ? `(${j.getChild("reason")!.getChildElements()[0]?.name})` : ""}`,
    );

describe("a relaying man in the middle (the router, or whoever controls it)", () => {
  // Mallory sits between Romeo and Juliet, answers each in the other's name, and runs TLS
  // with each using certificates she made for their JIDs (anyone can self-sign one).
  async function mitm(fingerprints: "her-own" | "copied" | "stripped") {
    const { wire, romeo, juliet } = await scene();
    const relay = router.interpose(ROMEO, JULIET);
    const forgedJuliet = createIdentity("juliet@capulet.lit");
    const forgedRomeo = createIdentity("romeo@montague.lit");
    const asJuliet = await partyOn(relay.asB, { identity: forgedJuliet, pins: [ROMEO] });
    const asRomeo = await partyOn(relay.asA, { identity: forgedRomeo, pins: [JULIET] });
    if (fingerprints === "stripped") {
      // She leaves every fingerprint out, hoping a pinned peer falls back to a password.
      router.intercept((stanza) => {
        const security = stanza.getChild("jingle", NS.JINGLE)?.getChild("content")?.getChild("security");
        if (security)
          security.children = security.children.filter(
            (c) => typeof c === "string" || c.name !== "fingerprint",
          );
        return undefined;
      });
    }
    if (fingerprints === "copied") {
      // She copies the real fingerprints into her own signalling, so that the cleartext
      // negotiation looks right; only TLS can tell.
      router.intercept((stanza, route) => {
        const fp = stanza
          .getChild("jingle", NS.JINGLE)
          ?.getChild("content")
          ?.getChild("security")
          ?.getChild("fingerprint");
        if (fp && (route.from === ROMEO || route.from === JULIET) && stanza.attrs.type === "set") {
          fp.children = [identityOf(route.from).fingerprint];
          fp.attrs.algo = "sha-256";
        }
        return undefined;
      });
    }
    const malloryGot: string[] = [];
    const malloryStreams: Promise<string>[] = [];
    asJuliet.manager.on("incoming", (incoming) => {
      // Accept Romeo's session and open one to Juliet in Romeo's name.
      const toRomeo = new XmlStreamSession();
      malloryStreams.push(
        outcome(toRomeo.stream.then((s) => s.on("stanza", (m) => malloryGot.push(m.toString())))),
      );
      void incoming.session.accept({ application: toRomeo }).catch(() => {});
      const toJuliet = new XmlStreamSession();
      malloryStreams.push(
        outcome(toJuliet.stream.then((s) => s.on("stanza", (m) => malloryGot.push(m.toString())))),
      );
      asRomeo.manager.initiate(JULIET, {
        application: toJuliet,
        transports: [asRomeo.transport],
        security: asRomeo.security,
      });
    });
    const { session, app, incoming } = initiate(romeo, juliet);
    const sent = outcome(app.stream.then((s) => s.send(xml("message", {}, xml("body", {}, ROMEO_LINE)))));
    const responder = (await incoming).incoming.session;
    const [atRomeo, atJuliet] = await Promise.all([endedWith(session), endedWith(responder)]);
    expect(await sent).toBe("failed");
    expect(await Promise.all(malloryStreams)).toEqual(["failed", "failed"]);
    expect(malloryGot).toEqual([]);
    for (const e of wire) expect(e.wire).not.toContain("acquaintance");
    return { atRomeo, atJuliet, wire };
  }

  it("announcing her own certificates: both refuse before any byte is sent (security-error)", async () => {
    const { atRomeo, atJuliet, wire } = await mitm("her-own");
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atRomeo.by).toBe("local");
    // Both had pinned each other: the certificate she announces is the key-change alarm.
    expect(atRomeo.message).toMatch(/has CHANGED/);
    expect(atRomeo.cause).toBeInstanceOf(JingleReasonError);
    expect((atRomeo.cause as JingleReasonError).cause).toBeInstanceOf(CertificateChangedError);
    expect(atJuliet.reason.condition).toBe("security-error");
    expect(atJuliet.by).toBe("local");
    expect(ibbData(wire)).toEqual([]);
  });

  it("leaving every fingerprint out of the signalling: TLS raises the key-change alarm on both sides (security-error), no password asked, no application byte", async () => {
    const { atRomeo, atJuliet, wire } = await mitm("stripped");
    for (const end of [atRomeo, atJuliet]) {
      expect(end.reason.condition).toBe("security-error");
      expect(end.message).toMatch(/has CHANGED/);
    }
    // x509 only, both ways: no srp or sas was offered to her.
    for (const e of wire) {
      const security = e.stanza.getChild("jingle", NS.JINGLE)?.getChild("content")?.getChild("security");
      if (security) expect(security.getChildren("method").map((m) => m.attrs.name)).not.toContain("srp");
    }
  });

  it("copying the real fingerprints into the signalling: TLS fails on both sides (security-error), no application byte", async () => {
    const { atRomeo, atJuliet, wire } = await mitm("copied");
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atJuliet.reason.condition).toBe("security-error");
    // They got as far as the TLS handshake, and no further.
    expect(ibbData(wire).length).toBeGreaterThan(0);
    expect(
      jingleActions(wire).filter((a) => a === "session-terminate(security-error)").length,
    ).toBeGreaterThanOrEqual(2);
  });
});

describe("downgrades and unverifiable peers", () => {
  // The fingerprint in the signalling is only a hint: the certificate presented in TLS is
  // what must match the pin. A peer (or a server) that leaves it out gets no password
  // prompt out of it — a pinned peer is verified by its certificate, or not at all.
  it("a <fingerprint/> absent from a pinned peer's offer and answer: verified in TLS against the pin (x509), no srp or sas offered, no password asked", async () => {
    const asked: string[] = [];
    const askPassword = async ({ peer }: { peer: string }) => {
      asked.push(peer);
      return "wherefore-1597";
    };
    const { wire, romeo, juliet } = await scene(
      { pins: [JULIET], security: { askPassword } },
      { pins: [ROMEO], security: { askPassword } },
    );
    router.intercept((stanza) => {
      const jingle = stanza.getChild("jingle", NS.JINGLE);
      const security = jingle?.getChild("content")?.getChild("security");
      if (!security || !["session-initiate", "session-accept"].includes(jingle!.attrs.action!))
        return undefined;
      security.children = security.children.filter((c) => typeof c === "string" || c.name !== "fingerprint");
      return stanza;
    });
    const opened = await openXmlStreamSession(romeo, juliet);
    const offered = wire
      .map((e) => e.stanza.getChild("jingle", NS.JINGLE)?.getChild("content")?.getChild("security"))
      .filter((el): el is Element => el !== undefined);
    // Juliet answered with x509 only: no bootstrap is ever offered for a pinned peer.
    expect(offered[1]!.getChildren("method").map((m) => m.attrs.name)).toEqual(["x509"]);
    expect((opened.session.secured as XtlsChannel).peer.fingerprint).toBe(identityOf(JULIET).fingerprint);
    expect((opened.responder.secured as XtlsChannel).peer.fingerprint).toBe(identityOf(ROMEO).fingerprint);
    const got = inbox(opened.juliet);
    await opened.romeo.send(xml("message", {}, xml("body", {}, ROMEO_LINE)));
    await until(() => got.length === 1);
    expect(asked).toEqual([]);
    await opened.session.terminate();
  });

  it("<security/> stripped from the session-accept: Romeo terminates with security-error and sends no byte in the clear", async () => {
    const { wire, romeo, juliet } = await scene();
    router.intercept((stanza) => {
      const jingle = stanza.getChild("jingle", NS.JINGLE);
      if (jingle?.attrs.action !== "session-accept") return undefined;
      const content = jingle.getChild("content")!;
      content.children = content.children.filter((c) => typeof c === "string" || c.name !== "security");
      return stanza;
    });
    const { session, app, incoming } = initiate(romeo, juliet);
    const responder = (await incoming).incoming.session;
    const atRomeo = await endedWith(session);
    const atJuliet = await endedWith(responder);
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atRomeo.message).toMatch(/without <security\/>/);
    expect(atJuliet.reason.condition).toBe("security-error");
    expect(atJuliet.by).toBe("peer");
    await expect(app.stream).rejects.toBeDefined();
    expect(
      wire.filter((e) => e.stanza.getChild("open", NS.IBB) || e.stanza.getChild("data", NS.IBB)),
    ).toEqual([]);
  });

  it("a responder without XTLS accepts in the clear: Romeo's XML stream is never sent unencrypted", async () => {
    // A responder that ignores <security/>: without XTLS, it must have opted out by name
    // to take the offer at all (else its engine refuses it with security-error).
    const { wire, romeo, juliet } = await scene(
      { pins: [JULIET] },
      { xtls: false, jingle: { insecure: INSECURE_OPT_OUT } },
    );
    const { session, app } = initiate(romeo, juliet);
    const atRomeo = await endedWith(session);
    expect(atRomeo.reason.condition).toBe("security-error");
    await expect(app.stream).rejects.toBeDefined();
    expect(ibbData(wire)).toEqual([]);
    await until(() => jingleActions(wire).length === 3);
    expect(jingleActions(wire)).toEqual([
      "session-initiate",
      "session-accept",
      "session-terminate(security-error)",
    ]);
  });

  it("a responder that cannot verify the initiator ends the session with security-error (rule 5), and its accept() says why", async () => {
    const { wire, romeo, juliet } = await scene({ pins: [JULIET] }, { pins: [] });
    const app = new XmlStreamSession();
    const acceptResult = new Promise<unknown>((resolve) =>
      juliet.manager.once("incoming", (incoming) =>
        incoming.session.accept({ application: new XmlStreamSession() }).then(resolve, resolve),
      ),
    );
    const session = romeo.manager.initiate(JULIET, {
      application: app,
      transports: [romeo.transport],
      security: romeo.security,
    });
    const atRomeo = await endedWith(session);
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atRomeo.by).toBe("peer");
    const error = await acceptResult;
    expect(error).toBeInstanceOf(JingleReasonError);
    expect((error as JingleReasonError).message).toMatch(/cannot verify/);
    expect(jingleActions(wire)).toEqual(["session-initiate", "session-terminate(security-error)"]);
  });

  it("an initiator that cannot verify the responder ends the session with security-error (initiator rule 2)", async () => {
    const { wire, romeo, juliet } = await scene({ pins: [] }, { pins: [ROMEO] });
    const { session, incoming } = initiate(romeo, juliet);
    const atRomeo = await endedWith(session);
    const atJuliet = await endedWith((await incoming).incoming.session);
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atJuliet.reason.condition).toBe("security-error");
    expect(atJuliet.by).toBe("peer");
    expect(ibbData(wire)).toEqual([]);
  });

  it("a security-info rewritten to a method the responder did not offer: both end with security-error, no application byte", async () => {
    const { romeo, juliet } = await scene();
    router.intercept((stanza) => {
      const jingle = stanza.getChild("jingle", NS.JINGLE);
      if (jingle?.attrs.action !== "security-info") return undefined;
      const method = jingle.getChild("content")?.getChild("security")?.getChild("method");
      if (method) method.attrs.name = "openpgp";
      return stanza;
    });
    const { session, app, incoming } = initiate(romeo, juliet);
    const { incoming: theirs, app: theirApp } = await incoming;
    const [atRomeo, atJuliet] = await Promise.all([endedWith(session), endedWith(theirs.session)]);
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atJuliet.reason.condition).toBe("security-error");
    expect(await outcome(app.stream)).toBe("failed");
    expect(await outcome(theirApp.stream)).toBe("failed");
  });

  it("a revoked certificate is not trusted even when pinned before", async () => {
    const { romeo, juliet } = await scene();
    await romeo.trust.revoke(JULIET, identityOf(JULIET).fingerprint);
    const { session } = initiate(romeo, juliet);
    expect((await endedWith(session)).reason.condition).toBe("security-error");
  });
});

describe("stanzas from third parties", () => {
  it("IBB data for the session's bytestream from another JID gets item-not-found; the session goes on", async () => {
    const { romeo, juliet, wire } = await scene();
    const mallory = router.createLink(MALLORY);
    const opened = await openXmlStreamSession(romeo, juliet);
    const ibbSid = wire.find((e) => e.stanza.getChild("open", NS.IBB))!.stanza.getChild("open", NS.IBB)!.attrs
      .sid!;
    const error = await mallory
      .request(
        xml("iq", { type: "set", to: JULIET }, xml("data", { xmlns: NS.IBB, sid: ibbSid, seq: "3" }, "AAAA")),
      )
      .catch((e: unknown) => e);
    expect(StanzaError.is(error, "item-not-found")).toBe(true);
    const atJuliet = inbox(opened.juliet);
    await opened.romeo.send(xml("message", {}, xml("body", {}, ROMEO_LINE)));
    await until(() => atJuliet.length === 1);
    expect(atJuliet[0]?.getChildText("body")).toBe(ROMEO_LINE);
    await opened.romeo.close();
    await Promise.all([opened.session.done, opened.responder.done]);
  });

  it("a Jingle action for an unknown sid gets item-not-found with <unknown-session/>; a third party cannot end someone else's session", async () => {
    const { romeo, juliet } = await scene();
    const mallory = router.createLink(MALLORY);
    const opened = await openXmlStreamSession(romeo, juliet);
    const jingle = (sid: string, action: string) =>
      xml(
        "iq",
        { type: "set", to: JULIET },
        xml("jingle", { xmlns: NS.JINGLE, action, sid }, xml("reason", {}, xml("success"))),
      );
    for (const sid of ["no-such-session", opened.session.sid]) {
      const error = await mallory.request(jingle(sid, "session-terminate")).catch((e: unknown) => e);
      // A terminate for a session we do not know is acknowledged (docs/protocol/jingle.md#terminate-for-an-unknown-session), so
      // ask with an action that must be answered.
      void error;
      const info = await mallory.request(jingle(sid, "session-info")).catch((e: unknown) => e);
      expect(StanzaError.is(info, "item-not-found")).toBe(true);
      expect((info as StanzaError).appCondition?.name).toBe("unknown-session");
      expect((info as StanzaError).appCondition?.ns).toBe(NS.JINGLE_ERRORS);
    }
    expect(opened.responder.state).toBe("active");
    const atRomeo = inbox(opened.romeo);
    await opened.juliet.send(xml("message", {}, xml("body", {}, JULIET_LINE)));
    await until(() => atRomeo.length === 1);
    await opened.romeo.close();
    await Promise.all([opened.session.done, opened.responder.done]);
  });

  it("IBB data with an unknown sid gets item-not-found", async () => {
    const { juliet } = await scene();
    const mallory = router.createLink(MALLORY);
    void juliet;
    const error = await mallory
      .request(
        xml("iq", { type: "set", to: JULIET }, xml("data", { xmlns: NS.IBB, sid: "nope", seq: "0" }, "AAAA")),
      )
      .catch((e: unknown) => e);
    expect(StanzaError.is(error, "item-not-found")).toBe(true);
  });
});

describe("tampering with the data path", () => {
  // Flips one bit in the next IBB <data/> Romeo sends, once armed.
  function flipper() {
    const state = { armed: false, flipped: 0 };
    router.intercept((stanza, route) => {
      const data = stanza.getChild("data", NS.IBB);
      if (!state.armed || !data || route.from !== ROMEO || stanza.attrs.type !== "set") return undefined;
      state.armed = false;
      const bytes = Buffer.from(data.getText(), "base64");
      bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
      data.children = [bytes.toString("base64")];
      state.flipped++;
      return stanza;
    });
    return state;
  }

  it("a flipped bit in a data chunk: TLS rejects the record (bad_record_mac), both sides end with security-error, nothing tampered is delivered", async () => {
    const { romeo, juliet } = await scene();
    const tamper = flipper();
    const opened = await openXmlStreamSession(romeo, juliet);
    const atJuliet = inbox(opened.juliet);
    tamper.armed = true;
    await opened.romeo.send(xml("message", {}, xml("body", {}, ROMEO_LINE))).catch(() => {});
    const [atRomeo, atJulietEnd] = await Promise.all([
      endedWith(opened.session),
      endedWith(opened.responder),
    ]);
    expect(tamper.flipped).toBe(1);
    expect(atJulietEnd.reason.condition).toBe("security-error");
    expect(atJulietEnd.by).toBe("local");
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atJuliet).toEqual([]);
  });

  it("a replayed data chunk (same seq) is refused: the bytestream closes, the session ends in error, nothing is delivered twice", async () => {
    const { romeo, juliet } = await scene();
    let replay = false;
    router.intercept((stanza, route) => {
      const data = stanza.getChild("data", NS.IBB);
      if (!replay || !data || route.from !== ROMEO || stanza.attrs.type !== "set") return undefined;
      replay = false;
      const copy = xml(
        "iq",
        { ...stanza.attrs, id: `${stanza.attrs.id}-again` },
        xml("data", { ...data.attrs }, data.getText()),
      );
      return [stanza, copy];
    });
    const opened = await openXmlStreamSession(romeo, juliet);
    const atJuliet = inbox(opened.juliet);
    replay = true;
    await opened.romeo.send(xml("message", {}, xml("body", {}, ROMEO_LINE))).catch(() => {});
    const [a, b] = await Promise.all([endedWith(opened.session), endedWith(opened.responder)]);
    expect(a.reason.condition).not.toBe("success");
    expect(b.reason.condition).not.toBe("success");
    expect(atJuliet.length).toBeLessThanOrEqual(1);
  });
});

describe("floods", () => {
  it("session-initiates from one account beyond 8 pending get resource-constraint (wait); others still get through", async () => {
    const { romeo, juliet } = await scene();
    const mallory = await partyOn(router.createLink(MALLORY), { pins: [JULIET] });
    const held: JingleSession[] = [];
    juliet.manager.on("incoming", (incoming) => {
      // Mallory's offers are left unanswered (a person would be asked); Romeo's accepted.
      if (incoming.peer === MALLORY) held.push(incoming.session);
      else void incoming.session.accept({ application: new XmlStreamSession() }).catch(() => {});
    });
    // The first answer to each offer (a refused offer is retried later, as `wait` asks).
    const sidOf = new Map<string, string>();
    const first = new Map<string, string>();
    router.observe((e) => {
      const jingle = e.stanza.getChild("jingle", NS.JINGLE);
      if (e.from === MALLORY && jingle?.attrs.action === "session-initiate")
        sidOf.set(e.stanza.attrs.id!, jingle.attrs.sid!);
      const sid = sidOf.get(e.stanza.attrs.id ?? "");
      if (e.from === JULIET && e.to === MALLORY && sid && !first.has(sid)) {
        first.set(
          sid,
          e.stanza.attrs.type === "error" ? StanzaError.fromStanza(e.stanza).condition : "result",
        );
      }
    });
    const flood = Array.from({ length: 20 }, () =>
      mallory.manager.initiate(JULIET, {
        application: new XmlStreamSession(),
        transports: [mallory.transport],
        security: mallory.security,
      }),
    );
    await until(() => first.size >= 20);
    const answers = [...first.values()];
    expect(answers.filter((a) => a === "result")).toHaveLength(8);
    expect(answers.filter((a) => a === "resource-constraint")).toHaveLength(12);
    expect(held).toHaveLength(8);
    // Romeo (another account) is not affected by Mallory's flood.
    const app = new XmlStreamSession();
    const session = romeo.manager.initiate(JULIET, {
      application: app,
      transports: [romeo.transport],
      security: romeo.security,
    });
    const stream = await app.stream;
    expect(session.state).toBe("active");
    await stream.close();
    for (const s of flood) await s.terminate().catch(() => {});
  });
});
