// First contact in the draft's flow: the srp method (a one-time password, channel-bound)
// and short authentication strings, on the embedded router, including a relaying man in
// the middle who knows the password.
import { LocalRouter, NS, type RouteEvent, xml } from "@xtls/core";
import { SessionTerminatedError } from "@xtls/jingle";
import { pairOnRouter } from "@xtls/testkit/parties";
import { AttemptLimiter, createIdentity, type SasConfirmRequest } from "@xtls/tls";
import { XmlStreamSession } from "@xtls/xmlstream";
import { afterEach, describe, expect, it } from "vitest";
import {
  acceptEverything,
  identityOf,
  inbox,
  JULIET,
  openXmlStreamSession,
  type Party,
  type PartyOptions,
  partyOn,
  ROMEO,
  ROMEO_LINE,
  until,
} from "./helpers.js";

const PASSWORD = "wherefore-1597";
let router: LocalRouter;
afterEach(() => router?.close());

async function scene(romeo: PartyOptions, juliet: PartyOptions) {
  router = new LocalRouter();
  return pairOnRouter(router, [ROMEO, JULIET], partyOn, { romeo, juliet });
}

function passwords(answer: string | null) {
  const asked: string[] = [];
  return {
    asked,
    askPassword: async (req: { peer: string }) => {
      asked.push(req.peer);
      return answer;
    },
  };
}

const securityOf = (e: RouteEvent | undefined) =>
  e?.stanza.getChild("jingle", NS.JINGLE)?.getChild("content")?.getChild("security", NS.XTLS_JINGLE);
const action = (wire: RouteEvent[], name: string) =>
  wire.find((e) => e.stanza.getChild("jingle", NS.JINGLE)?.attrs.action === name);

async function failure(p: Promise<unknown>): Promise<SessionTerminatedError> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(SessionTerminatedError);
  return e as SessionTerminatedError;
}

describe("srp: first contact with a one-time password", () => {
  it("bootstraps: the responder answers without a fingerprint, srp is chosen, both pin each other; the next session is x509 with no password", async () => {
    const r = passwords(PASSWORD);
    const j = passwords(PASSWORD);
    const { wire, romeo, juliet } = await scene(
      { security: { askPassword: r.askPassword } },
      { security: { askPassword: j.askPassword } },
    );
    const first = await openXmlStreamSession(romeo, juliet);
    const atJuliet = inbox(first.juliet);
    await first.romeo.send(xml("message", {}, xml("body", {}, ROMEO_LINE)));
    await until(() => atJuliet.length === 1);
    // The draft's rules on the wire.
    expect(
      securityOf(action(wire, "session-initiate"))
        ?.getChildren("method")
        .map((m) => m.attrs.name),
    ).toEqual(["x509", "srp"]);
    const accept = securityOf(action(wire, "session-accept"));
    expect(accept?.getChild("fingerprint")).toBeUndefined();
    expect(accept?.getChildren("method").map((m) => m.attrs.name)).toEqual(["srp"]);
    expect(securityOf(action(wire, "security-info"))?.getChild("method")?.attrs.name).toBe("srp");
    expect(r.asked).toEqual([JULIET]);
    expect(j.asked).toEqual([ROMEO]);
    // Both pinned the other's real certificate as verified, by srp.
    expect(await romeo.trust.entries(JULIET)).toEqual([
      expect.objectContaining({
        fingerprint: identityOf(JULIET).fingerprint,
        state: "verified",
        method: "srp",
      }),
    ]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([
      expect.objectContaining({
        fingerprint: identityOf(ROMEO).fingerprint,
        state: "verified",
        method: "srp",
      }),
    ]);
    await first.romeo.close();
    await Promise.all([first.session.done, first.responder.done]);

    wire.length = 0;
    const second = await openXmlStreamSession(romeo, juliet);
    expect(securityOf(action(wire, "security-info"))?.getChild("method")?.attrs.name).toBe("x509");
    expect(securityOf(action(wire, "session-accept"))?.getChildText("fingerprint")).toBe(
      identityOf(JULIET).fingerprint,
    );
    expect([r.asked.length, j.asked.length]).toEqual([1, 1]);
    await second.romeo.close();
    await Promise.all([second.session.done, second.responder.done]);
  });

  it("a wrong password fails on both sides with security-error; no application byte; the attempt is counted", async () => {
    const limiter = new AttemptLimiter();
    const { romeo, juliet } = await scene(
      { security: { askPassword: async () => PASSWORD } },
      { security: { askPassword: async () => "something-else" }, engine: { attemptLimiter: limiter } },
    );
    const incoming = acceptEverything(juliet);
    const app = new XmlStreamSession();
    const session = romeo.manager.initiate(JULIET, {
      application: app,
      transports: [romeo.transport],
      security: romeo.security,
    });
    const theirs = await incoming;
    const [atRomeo, atJuliet] = await Promise.all([
      failure(session.done),
      failure(theirs.incoming.session.done),
    ]);
    expect(atRomeo.reason.condition).toBe("security-error");
    expect(atJuliet.reason.condition).toBe("security-error");
    await expect(app.stream).rejects.toBeDefined();
    await expect(theirs.app.stream).rejects.toBeDefined();
    expect(limiter.failures(ROMEO)).toBe(1);
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
  });

  it("a man in the middle without the password: srp fails on both sides, nothing pinned, no application byte", async () => {
    const { romeo, juliet } = await scene(
      { security: { askPassword: async () => PASSWORD } },
      { security: { askPassword: async () => PASSWORD } },
    );
    const relay = router.interpose(ROMEO, JULIET);
    // Certificates she made for their JIDs, and her best guess at the password. (That the
    // proof is bound to each TLS session, so that even relaying the SRP messages between
    // her two sessions fails, is shown in @xtls/tls's srp tests.)
    const guess = { askPassword: async () => "romeo-and-juliet" };
    const asJuliet = await partyOn(relay.asB, {
      identity: createIdentity("juliet@capulet.lit"),
      security: guess,
    });
    const asRomeo = await partyOn(relay.asA, {
      identity: createIdentity("romeo@montague.lit"),
      security: guess,
    });
    relayMitm(asJuliet, asRomeo);
    const julietSide = acceptEverything(juliet);
    const app = new XmlStreamSession();
    const session = romeo.manager.initiate(JULIET, {
      application: app,
      transports: [romeo.transport],
      security: romeo.security,
    });
    const theirs = await julietSide;
    const [atRomeo, atJuliet] = await Promise.all([
      failure(session.done),
      failure(theirs.incoming.session.done),
    ]);
    expect([atRomeo.reason.condition, atJuliet.reason.condition]).toEqual([
      "security-error",
      "security-error",
    ]);
    await expect(app.stream).rejects.toBeDefined();
    await expect(theirs.app.stream).rejects.toBeDefined();
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
  });
});

/** Mallory accepts Romeo's session (as Juliet) and opens her own to Juliet (as Romeo). */
function relayMitm(asJuliet: Party, asRomeo: Party): void {
  asJuliet.manager.on("incoming", (incoming) => {
    void incoming.session.accept({ application: new XmlStreamSession() }).catch(() => {});
    asRomeo.manager.initiate(JULIET, {
      application: new XmlStreamSession(),
      transports: [asRomeo.transport],
      security: asRomeo.security,
    });
  });
}

describe("sas: comparing a short code", () => {
  it("both see the same 6 digits and emoji; confirming pins each other as verified (sas)", async () => {
    const shown: Record<string, SasConfirmRequest> = {};
    const confirm = (who: string) => async (req: SasConfirmRequest) => {
      shown[who] = req;
      return true;
    };
    const { romeo, juliet } = await scene(
      { security: { confirmSas: confirm("romeo") } },
      { security: { confirmSas: confirm("juliet") } },
    );
    const opened = await openXmlStreamSession(romeo, juliet);
    expect(shown.romeo?.digits).toMatch(/^\d{6}$/);
    expect(shown.romeo?.digits).toBe(shown.juliet?.digits);
    expect(shown.romeo?.emoji.map((e) => e.emoji)).toEqual(shown.juliet?.emoji.map((e) => e.emoji));
    expect(await romeo.trust.entries(JULIET)).toEqual([
      expect.objectContaining({ state: "verified", method: "sas" }),
    ]);
    await opened.romeo.close();
    await Promise.all([opened.session.done, opened.responder.done]);
  });

  it("one user says the codes differ: both sides fail with security-error, nothing pinned", async () => {
    const { romeo, juliet } = await scene(
      { security: { confirmSas: async () => true } },
      { security: { confirmSas: async () => false } },
    );
    const incoming = acceptEverything(juliet);
    const app = new XmlStreamSession();
    const session = romeo.manager.initiate(JULIET, {
      application: app,
      transports: [romeo.transport],
      security: romeo.security,
    });
    const theirs = await incoming;
    const [a, b] = await Promise.all([failure(session.done), failure(theirs.incoming.session.done)]);
    expect([a.reason.condition, b.reason.condition]).toEqual(["security-error", "security-error"]);
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
  });
});
