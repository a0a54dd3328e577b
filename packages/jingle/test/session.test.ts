import { NS, type StanzaError, xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import {
  buildJingle,
  INSECURE_OPT_OUT,
  type IncomingSession,
  type JingleManager,
  JingleReasonError,
  type JingleSession,
  type SecuredStream,
  type SecurityHandle,
  type SecurityMethod,
  SessionTerminatedError,
} from "../src/index.js";
import { echoApplication, JULIET, loopbackTransport, nullSecurity, ROMEO, Wire } from "./harness.js";

function scene(
  options: {
    security?: boolean;
    responderSecurity?: boolean;
    transports?: ReturnType<typeof loopbackTransport>[];
  } = {},
) {
  const wire = new Wire();
  const app = echoApplication();
  const transports = options.transports ?? [loopbackTransport()];
  const security = nullSecurity();
  const romeo = wire.add(ROMEO, {
    applications: [app.format],
    transports,
    security: options.security === false ? [] : [security],
  });
  const juliet = wire.add(JULIET, {
    applications: [app.format],
    transports,
    security: options.responderSecurity === false ? [] : [security],
    // A responder without the security method stands for one that ignores <security/>
    // (an old client, or a server that strips it): it must have opted out to accept at all.
    ...(options.responderSecurity === false ? { insecure: INSECURE_OPT_OUT } : {}),
  });
  return { wire, app, romeo, juliet, security, transports };
}

const acceptAll = (incoming: IncomingSession) =>
  void incoming.session.accept({
    application: incoming.application!.accept({} as never, incoming.description) as never,
  });

describe("a session from initiate to terminate", () => {
  it("runs initiate → ack → accept → transport → security → application → terminate success", async () => {
    const { wire, app, romeo, juliet, security, transports } = scene();
    let responder: JingleSession | undefined;
    juliet.on("incoming", (incoming) => {
      responder = incoming.session;
      expect(incoming.peer).toBe(ROMEO);
      expect(incoming.securityOffered).toBe(true);
      acceptAll(incoming);
    });
    const session = romeo.initiate(JULIET, { application: app.handle(), transports, security });
    const phases: string[] = [];
    session.on("phase", (p) => phases.push(p));
    await session.done;
    await responder!.done;
    expect(app.seen).toEqual([
      { role: "responder", text: "ping", secured: true },
      { role: "initiator", text: "pong", secured: true },
    ]);
    expect(phases).toEqual(["connecting", "securing", "established", "ended"]);
    expect(wire.actions()).toEqual([
      "R:session-initiate",
      "J:session-accept",
      "R:session-terminate(success)",
    ]);
    for (let i = 0; i < 100 && wire.log.some((e) => e.answer === undefined); i++)
      await new Promise((r) => setTimeout(r, 2));
    expect(wire.log.map((e) => e.answer)).toEqual(["result", "result", "result"]);
    // initiator= only on session-initiate, responder= only on session-accept (XEP-0166 §7.1)
    expect(wire.log[0]?.jingle.initiator).toBe(ROMEO);
    expect(wire.log[1]?.jingle.responder).toBe(JULIET);
    expect(wire.log[1]?.jingle.initiator).toBeUndefined();
    expect(wire.log[2]?.xml).not.toContain("initiator=");
    expect(romeo.sessions).toEqual([]);
    expect(juliet.sessions).toEqual([]);
  });

  it("a session-accept that arrives before the ack of the session-initiate is not lost", async () => {
    const { wire, app, romeo, juliet, security, transports } = scene();
    wire.lateAcks = { actions: ["session-initiate"], ms: 50 };
    juliet.on("incoming", acceptAll);
    const session = romeo.initiate(JULIET, { application: app.handle(), transports, security });
    await session.done;
    expect(wire.actions()).toEqual([
      "R:session-initiate",
      "J:session-accept",
      "R:session-terminate(success)",
    ]);
  });

  it("a declined session ends on both sides with decline", async () => {
    const { wire, app, romeo, juliet, security, transports } = scene();
    juliet.on("incoming", ({ session }) => void session.decline());
    const session = romeo.initiate(JULIET, { application: app.handle(), transports, security });
    const err = await session.done.catch((e) => e);
    expect(err).toBeInstanceOf(SessionTerminatedError);
    expect(err.reason.condition).toBe("decline");
    expect(err.by).toBe("peer");
    expect(wire.actions()).toEqual(["R:session-initiate", "J:session-terminate(decline)"]);
  });

  it("acknowledges, then terminates with unsupported-applications / unsupported-transports", async () => {
    const { romeo, juliet, security } = scene();
    juliet.on("incoming", acceptAll);
    const other = echoApplication();
    const unknownApp = {
      ...other.handle(),
      namespace: "urn:example:unknown",
      description: () => xml("description", { xmlns: "urn:example:unknown" }),
    };
    const s1 = romeo.initiate(JULIET, {
      application: unknownApp,
      transports: [loopbackTransport()],
      security,
    });
    expect((await s1.done.catch((e) => e)).reason.condition).toBe("unsupported-applications");
    const s2 = romeo.initiate(JULIET, {
      application: other.handle(),
      transports: [loopbackTransport({ namespace: "urn:example:pigeon" })],
      security,
    });
    expect((await s2.done.catch((e) => e)).reason.condition).toBe("unsupported-transports");
  });

  it("a peer without Jingle (service-unavailable) fails the session without a terminate", async () => {
    const wire = new Wire();
    const app = echoApplication();
    const romeo = wire.add(ROMEO, { transports: [loopbackTransport()] });
    const session = romeo.initiate("nobody@capulet.lit/x", {
      application: app.handle(),
      transports: [loopbackTransport()],
      security: nullSecurity(),
    });
    const err = await session.done.catch((e) => e);
    expect(err.reason.condition).toBe("general-error");
    expect(err.message).toContain("service-unavailable");
    expect(wire.actions()).toEqual(["R:session-initiate"]);
  });

  it("times out waiting for the accept, and honours AbortSignal", async () => {
    const { wire, app, romeo, juliet, security, transports } = scene();
    juliet.on("incoming", () => {}); // never answers
    const slow = romeo.initiate(JULIET, { application: app.handle(), transports, security });
    expect((await slow.done.catch((e) => e)).reason.condition).toBe("timeout");
    const ac = new AbortController();
    const aborted = romeo.initiate(JULIET, {
      application: app.handle(),
      transports,
      security,
      signal: ac.signal,
    });
    ac.abort();
    expect((await aborted.done.catch((e) => e)).reason.condition).toBe("cancel");
    expect(wire.actions()).toContain("R:session-terminate(cancel)");
  });

  it("the peer's terminate mid-run aborts the local application", async () => {
    const { romeo, juliet, security, transports } = scene();
    const hanging = echoApplication({ hang: true });
    let responder: JingleSession | undefined;
    juliet.on("incoming", (i) => {
      responder = i.session;
      void i.session.accept({ application: hanging.handle() });
    });
    const session = romeo.initiate(JULIET, { application: hanging.handle(), transports, security });
    await new Promise<void>((r) => session.once("established", () => r()));
    await responder!.terminate({ condition: "cancel", text: "changed my mind" });
    const err = await session.done.catch((e) => e);
    expect(err.reason).toEqual({ condition: "cancel", text: "changed my mind" });
    expect(err.by).toBe("peer");
    expect(session.signal.aborted).toBe(true);
  });
});

describe("security precondition and downgrade", () => {
  it("a failed security step ends both sides with security-error", async () => {
    const wire = new Wire();
    const app = echoApplication();
    const transports = [loopbackTransport()];
    const romeo = wire.add(ROMEO, { applications: [app.format], transports, security: [nullSecurity()] });
    const juliet = wire.add(JULIET, {
      applications: [app.format],
      transports,
      security: [nullSecurity({ failOn: "responder" })],
    });
    let responder: JingleSession | undefined;
    juliet.on("incoming", (i) => {
      responder = i.session;
      acceptAll(i);
    });
    const session = romeo.initiate(JULIET, {
      application: app.handle(),
      transports,
      security: nullSecurity(),
    });
    const mine = await session.done.catch((e) => e);
    const theirs = await responder!.done.catch((e) => e);
    expect(theirs.reason.condition).toBe("security-error");
    expect(theirs.by).toBe("local");
    expect(mine.reason.condition).toBe("security-error");
    expect(app.seen).toEqual([]);
  });

  // Both sides fail the handshake: ours found something (e.g. a pinned peer's CHANGED
  // key), told the peer inside the tunnel and lingers so it reads that; the peer's
  // session-terminate (over XMPP) can overtake our own verdict. The verdict must not be
  // lost: it is the cause of the session's end, so the user sees the alarm.
  it("the peer's terminate during the handshake does not hide our own security verdict", async () => {
    class OurVerdict extends Error {}
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const ns = "urn:example:verdict-security";
    const method: SecurityMethod = {
      namespaces: [ns],
      offer: (ctx) => verdictHandle(ctx.role),
      accept: (ctx) => verdictHandle(ctx.role),
    };
    function verdictHandle(role: string): SecurityHandle {
      return {
        element: () => xml("security", { xmlns: ns }),
        secure: async (stream) => {
          if (role === "initiator") {
            stream.write("ABORT");
            await gate; // lingering until the peer has read it
            throw new OurVerdict("the certificate of juliet@capulet.lit has CHANGED");
          }
          await new Promise((r) => stream.once("data", r));
          throw new Error("the peer refused our certificate");
        },
      };
    }
    const wire = new Wire();
    const app = echoApplication();
    const transports = [loopbackTransport()];
    const romeo = wire.add(ROMEO, { applications: [app.format], transports, security: [method] });
    const juliet = wire.add(JULIET, { applications: [app.format], transports, security: [method] });
    juliet.on("incoming", acceptAll);
    // The verdict comes only once the peer's terminate has been handled here.
    const receive = romeo.receive.bind(romeo);
    romeo.receive = async (from, el) => {
      const answer = await receive(from, el);
      if (el.attrs.action === "session-terminate") release();
      return answer;
    };
    const session = romeo.initiate(JULIET, { application: app.handle(), transports, security: method });
    const err = await session.done.catch((e) => e);
    expect(err).toBeInstanceOf(SessionTerminatedError);
    expect(err.reason.condition).toBe("security-error");
    expect(err.cause).toBeInstanceOf(OurVerdict);
    expect(app.seen).toEqual([]);
    expect(wire.actions()).toEqual([
      "R:session-initiate",
      "J:session-accept",
      "J:session-terminate(security-error)",
    ]);
  });

  it("the peer's terminate during a handshake that never settles ends the session within the grace", async () => {
    const ns = "urn:example:hanging-security";
    const hanging = (): SecurityHandle => ({
      element: () => xml("security", { xmlns: ns }),
      secure: () => new Promise<SecuredStream>(() => {}),
    });
    const method: SecurityMethod = { namespaces: [ns], offer: hanging, accept: hanging };
    const wire = new Wire();
    const app = echoApplication();
    const transports = [loopbackTransport()];
    const r = wire.add(ROMEO, { applications: [app.format], transports, security: [method] });
    const j = wire.add(JULIET, { applications: [app.format], transports, security: [method] });
    let responder: JingleSession | undefined;
    j.on("incoming", (i) => {
      responder = i.session;
      acceptAll(i);
    });
    const session = r.initiate(JULIET, { application: app.handle(), transports, security: method });
    await expect.poll(() => session.phase).toBe("securing");
    await responder!.terminate({ condition: "cancel", text: "changed my mind" });
    const err = await session.done.catch((e) => e);
    expect(err.reason).toEqual({ condition: "cancel", text: "changed my mind" });
    expect(err.by).toBe("peer");
    expect(err.cause).toBeUndefined();
    expect(session.signal.aborted).toBe(true);
  });

  it("a responder without the security method answers without <security/>: the initiator refuses to go on in the clear", async () => {
    const { wire, app, romeo, juliet, security, transports } = scene({ responderSecurity: false });
    juliet.on("incoming", acceptAll);
    const session = romeo.initiate(JULIET, { application: app.handle(), transports, security });
    const err = await session.done.catch((e) => e);
    expect(err.reason.condition).toBe("security-error");
    expect(err.reason.text).toContain("without <security/>");
    expect(wire.log[1]?.jingle.contents[0]?.security).toBeUndefined();
    expect(app.seen).toEqual([]);
  });

  it("continues in the clear only when the application allows it and the caller asked", async () => {
    const { romeo, juliet, security, transports } = scene({ responderSecurity: false });
    const plain = echoApplication({ plaintextAllowed: true });
    juliet.on("incoming", (i) => void i.session.accept({ application: plain.handle() }));
    const refused = romeo.initiate(JULIET, { application: plain.handle(), transports, security });
    expect((await refused.done.catch((e) => e)).reason.condition).toBe("security-error");
    const allowed = romeo.initiate(JULIET, {
      application: plain.handle(),
      transports,
      security,
      insecure: INSECURE_OPT_OUT,
    });
    await allowed.done;
    expect(plain.seen.map((s) => s.secured)).toEqual([false, false]);
  });
});

describe("the engine invariant: no application byte without end-to-end security", () => {
  it("a session-initiate without <security/> is terminated with security-error before any incoming event; no session-accept", async () => {
    const { wire, app, romeo, juliet, transports } = scene();
    const incoming: IncomingSession[] = [];
    juliet.on("incoming", (i) => {
      incoming.push(i);
      acceptAll(i);
    });
    const refused = new Promise<unknown>((resolve) => juliet.once("refused", resolve));
    // Mallory's side opted out by name, so it can send what an attacker would.
    const session = romeo.initiate(JULIET, {
      application: app.handle(),
      transports,
      insecure: INSECURE_OPT_OUT,
    });
    const err = await session.done.catch((e) => e);
    expect(err).toBeInstanceOf(SessionTerminatedError);
    expect(err.by).toBe("peer");
    expect(err.reason).toEqual({ condition: "security-error", text: "no end-to-end security was offered" });
    expect(await refused).toEqual({
      peer: ROMEO,
      sid: session.sid,
      reason: { condition: "security-error", text: "no end-to-end security was offered" },
    });
    expect(incoming).toEqual([]);
    expect(wire.actions()).toEqual(["R:session-initiate", "J:session-terminate(security-error)"]);
    expect(app.seen).toEqual([]);
  });

  it("a <security/> of a method the responder does not run is refused the same way", async () => {
    const { wire, app, juliet, transports } = scene();
    const romeo = wire.add("mallory@evil.example/x", {
      applications: [app.format],
      transports,
      security: [nullSecurity({ ns: "urn:example:bogus-security" })],
    });
    let incoming = 0;
    juliet.on("incoming", () => incoming++);
    const session = romeo.initiate(JULIET, {
      application: app.handle(),
      transports,
      security: nullSecurity({ ns: "urn:example:bogus-security" }),
    });
    const err = await session.done.catch((e) => e);
    expect(err.reason.condition).toBe("security-error");
    expect(incoming).toBe(0);
    expect(wire.log.some((e) => e.jingle.action === "session-accept")).toBe(false);
  });

  it("initiate without a security method throws a TypeError unless the opt-out is given by name", () => {
    const { app, romeo, transports } = scene();
    expect(() => romeo.initiate(JULIET, { application: app.handle(), transports })).toThrow(TypeError);
    expect(() =>
      romeo.initiate(JULIET, { application: app.handle(), transports, insecure: true as never }),
    ).toThrow(TypeError);
  });

  it("a manager created with the opt-out takes a cleartext offer (and only then)", async () => {
    const wire = new Wire();
    const plain = echoApplication({ plaintextAllowed: true });
    const transports = [loopbackTransport()];
    const romeo = wire.add(ROMEO, { applications: [plain.format], transports });
    const juliet = wire.add(JULIET, {
      applications: [plain.format],
      transports,
      insecure: INSECURE_OPT_OUT,
    });
    juliet.on("incoming", (i) => void i.session.accept({ application: plain.handle() }));
    const session = romeo.initiate(JULIET, {
      application: plain.handle(),
      transports,
      insecure: INSECURE_OPT_OUT,
    });
    await session.done;
    expect(plain.seen.map((s) => s.secured)).toEqual([false, false]);
  });
});

describe("transport fallback (transport-replace)", () => {
  it("replaces a transport that cannot open with the next method", async () => {
    const broken = loopbackTransport({ namespace: "urn:example:broken", failOn: "both" });
    const working = loopbackTransport();
    const { wire, app, romeo, juliet, security } = scene({ transports: [broken, working] });
    juliet.on("incoming", acceptAll);
    const session = romeo.initiate(JULIET, {
      application: app.handle(),
      transports: [broken, working],
      security,
    });
    await session.done;
    expect(session.transportNamespace).toBe("urn:example:loopback");
    expect(wire.actions()).toEqual([
      "R:session-initiate",
      "J:session-accept",
      "R:transport-replace",
      "J:transport-accept",
      "R:session-terminate(success)",
    ]);
    expect(app.seen).toHaveLength(2);
  });

  it("ends with failed-transport when every method fails, and a transport that must not fall back ends at once", async () => {
    const broken = loopbackTransport({ namespace: "urn:example:broken", failOn: "both" });
    const { app, romeo, juliet, security } = scene({ transports: [broken] });
    juliet.on("incoming", acceptAll);
    const session = romeo.initiate(JULIET, { application: app.handle(), transports: [broken], security });
    expect((await session.done.catch((e) => e)).reason.condition).toBe("failed-transport");
    const fatal = loopbackTransport({
      namespace: "urn:example:broken",
      failOn: "initiator",
      fallback: false,
    });
    const s2 = romeo.initiate(JULIET, {
      application: app.handle(),
      transports: [fatal, loopbackTransport()],
      security,
    });
    expect((await s2.done.catch((e) => e)).reason.condition).toBe("connectivity-error");
  });
});

describe("transport fallback for any transport (issue #14)", () => {
  it("a peer that refuses the offered transport with unsupported-transports gets a fresh session-initiate with the next method, and the session runs", async () => {
    const other = loopbackTransport({ namespace: "urn:example:third-party" });
    const ibbLike = loopbackTransport();
    const wire = new Wire();
    const app = echoApplication();
    const security = nullSecurity();
    const romeo = wire.add(ROMEO, {
      applications: [app.format],
      transports: [other, ibbLike],
      security: [security],
    });
    // Juliet runs only the second method.
    const juliet = wire.add(JULIET, {
      applications: [app.format],
      transports: [ibbLike],
      security: [security],
    });
    juliet.on("incoming", acceptAll);
    const session = romeo.initiate(JULIET, {
      application: app.handle(),
      transports: [other, ibbLike],
      security,
    });
    const firstSid = session.sid;
    const reinitiated: { previousSid: string; sid: string; transport: string }[] = [];
    session.on("reinitiated", (info) => reinitiated.push(info));
    await session.done;
    expect(wire.actions()).toEqual([
      "R:session-initiate",
      "J:session-terminate(unsupported-transports)",
      "R:session-initiate",
      "J:session-accept",
      "R:session-terminate(success)",
    ]);
    expect(wire.log[2]!.jingle.contents[0]!.transport?.attrs.xmlns).toBe("urn:example:loopback");
    expect(reinitiated).toEqual([
      { previousSid: firstSid, sid: session.sid, transport: "urn:example:loopback" },
    ]);
    expect(session.sid).not.toBe(firstSid);
    expect(session.transportNamespace).toBe("urn:example:loopback");
    expect(app.seen.map((s) => s.text).sort()).toEqual(["ping", "pong"]);
  });

  it("unsupported-transports for the last method left ends the session with that reason", async () => {
    const other = loopbackTransport({ namespace: "urn:example:third-party" });
    const wire = new Wire();
    const app = echoApplication();
    const security = nullSecurity();
    const romeo = wire.add(ROMEO, { applications: [app.format], transports: [other], security: [security] });
    const juliet = wire.add(JULIET, {
      applications: [app.format],
      transports: [loopbackTransport()],
      security: [security],
    });
    juliet.on("incoming", acceptAll);
    const session = romeo.initiate(JULIET, { application: app.handle(), transports: [other], security });
    const error = await session.done.catch((e: unknown) => e);
    expect((error as SessionTerminatedError).reason.condition).toBe("unsupported-transports");
    expect(wire.actions()).toEqual(["R:session-initiate", "J:session-terminate(unsupported-transports)"]);
  });

  it("a third-party transport whose connect() rejects with a plain Error is replaced by the next method (transport-replace)", async () => {
    const plain: ReturnType<typeof loopbackTransport> = {
      namespaces: ["urn:example:plain"],
      offer: () => ({
        element: () => xml("transport", { xmlns: "urn:example:plain" }),
        connect: () => Promise.reject(new Error("no route")),
        close: () => {},
      }),
      accept: () => ({
        element: () => xml("transport", { xmlns: "urn:example:plain" }),
        connect: () => Promise.reject(new Error("no route")),
        close: () => {},
      }),
    };
    const working = loopbackTransport();
    const { wire, app, romeo, juliet, security } = scene({ transports: [plain, working] });
    juliet.on("incoming", acceptAll);
    const session = romeo.initiate(JULIET, {
      application: app.handle(),
      transports: [plain, working],
      security,
    });
    await session.done;
    expect(session.transportNamespace).toBe("urn:example:loopback");
    expect(wire.actions()).toEqual([
      "R:session-initiate",
      "J:session-accept",
      "R:transport-replace",
      "J:transport-accept",
      "R:session-terminate(success)",
    ]);
  });

  it("a transport-replace once the security layer or the application runs is refused with out-of-order, and the session is untouched", async () => {
    const { wire, romeo, juliet, security, transports } = scene();
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const app = echoApplication();
    // The application waits until the replace was answered, then runs.
    const handle = () => {
      const h = app.handle();
      return {
        ...h,
        run: async (...args: Parameters<typeof h.run>) => {
          await held;
          return h.run(...args);
        },
      };
    };
    juliet.on("incoming", (i) => void i.session.accept({ application: handle() }));
    const session = romeo.initiate(JULIET, { application: handle(), transports, security });
    await new Promise<void>((r) => session.once("established", () => r()));
    const replace = buildJingle({
      action: "transport-replace",
      sid: session.sid,
      contents: [
        {
          creator: "initiator",
          name: "echo",
          transport: xml("transport", { xmlns: "urn:example:loopback", id: "evil" }),
        },
      ],
    });
    const error = (await juliet.receive(ROMEO, replace).catch((e: unknown) => e)) as StanzaError;
    expect(error.condition).toBe("unexpected-request");
    expect(error.appCondition?.name).toBe("out-of-order");
    release();
    await session.done;
    expect(app.seen.map((s) => s.text).sort()).toEqual(["ping", "pong"]);
    expect(wire.actions()).not.toContain("J:transport-accept");
  });
});

describe("default answers (XEP-0166 §6.3, §7.2, §10)", () => {
  async function activeSession() {
    const s = scene();
    const hanging = echoApplication({ hang: true });
    let responder: JingleSession | undefined;
    s.juliet.on("incoming", (i) => {
      responder = i.session;
      void i.session.accept({ application: hanging.handle() });
    });
    const session = s.romeo.initiate(JULIET, {
      application: hanging.handle(),
      transports: s.transports,
      security: s.security,
    });
    await new Promise<void>((r) => session.once("established", () => r()));
    return { ...s, session, responder: responder! };
  }

  const send = (from: string, to: string, s: ReturnType<typeof scene>, el: ReturnType<typeof buildJingle>) =>
    s.wire
      .signalling(from)
      .send(to, el)
      .then(
        () => "result",
        (e: StanzaError) => `${e.condition}${e.appCondition ? `+${e.appCondition.name}` : ""}`,
      );

  it("answers an unknown sid with item-not-found + unknown-session, but acknowledges a terminate", async () => {
    const s = scene();
    const bogus = (action: "transport-info" | "session-terminate") =>
      buildJingle({
        action,
        sid: "nope",
        contents: [
          { creator: "initiator", name: "x", transport: xml("transport", { xmlns: "urn:example:loopback" }) },
        ],
      });
    expect(await send(ROMEO, JULIET, s, bogus("transport-info"))).toBe("item-not-found+unknown-session");
    expect(await send(ROMEO, JULIET, s, bogus("session-terminate"))).toBe("result");
  });

  it("keys sessions by (peer, sid): a third party using the sid gets unknown-session and changes nothing", async () => {
    const s = await activeSession();
    const terminate = buildJingle({
      action: "session-terminate",
      sid: s.session.sid,
      contents: [],
      reason: { condition: "success" },
    });
    const info = buildJingle({
      action: "transport-info",
      sid: s.session.sid,
      contents: [
        {
          creator: "initiator",
          name: "echo",
          transport: xml("transport", { xmlns: "urn:example:loopback" }),
        },
      ],
    });
    // The terminate is acknowledged (REC: stop retries) but touches nothing.
    expect(await send("mallory@capulet.lit/arras", JULIET, s, terminate)).toBe("result");
    expect(await send("mallory@capulet.lit/arras", JULIET, s, info)).toBe("item-not-found+unknown-session");
    expect(s.responder.state).toBe("active");
    expect(s.session.state).toBe("active");
    await s.session.terminate();
  });

  it("answers actions out of order with unexpected-request + out-of-order", async () => {
    const s = await activeSession();
    const accept = buildJingle({ action: "session-accept", sid: s.session.sid, contents: [] });
    expect(await send(JULIET, ROMEO, s, accept)).toBe("unexpected-request+out-of-order");
    expect(await send(ROMEO, JULIET, s, accept)).toBe("unexpected-request+out-of-order");
    const ta = buildJingle({ action: "transport-accept", sid: s.session.sid, contents: [] });
    expect(await send(JULIET, ROMEO, s, ta)).toBe("unexpected-request+out-of-order");
    const init = buildJingle({
      action: "session-initiate",
      sid: s.session.sid,
      initiator: ROMEO,
      contents: [{ creator: "initiator", name: "x" }],
    });
    expect(await send(ROMEO, JULIET, s, init)).toBe("unexpected-request+out-of-order");
    await s.session.terminate();
  });

  it("answers a ping (empty session-info) and refuses unknown info with unsupported-info", async () => {
    const s = await activeSession();
    expect(
      await send(JULIET, ROMEO, s, buildJingle({ action: "session-info", sid: s.session.sid, contents: [] })),
    ).toBe("result");
    const ringing = buildJingle({
      action: "session-info",
      sid: s.session.sid,
      contents: [],
      info: xml("ringing", { xmlns: "urn:xmpp:jingle:apps:rtp:info:1" }),
    });
    expect(await send(JULIET, ROMEO, s, ringing)).toBe("feature-not-implemented+unsupported-info");
    await s.session.terminate();
  });

  it("rejects malformed Jingle with bad-request", async () => {
    const s = scene();
    const raw = (attrs: Record<string, string>, ...children: ReturnType<typeof xml>[]) =>
      xml("jingle", { xmlns: NS.JINGLE, ...attrs }, ...children);
    expect(await send(ROMEO, JULIET, s, raw({ action: "session-dance", sid: "a" }))).toBe("bad-request");
    expect(await send(ROMEO, JULIET, s, raw({ action: "session-initiate" }))).toBe("bad-request");
    expect(
      await send(
        ROMEO,
        JULIET,
        s,
        raw({ action: "session-initiate", sid: "a" }, xml("content", { name: "x" })),
      ),
    ).toBe("bad-request");
    expect(
      await send(
        ROMEO,
        JULIET,
        s,
        raw(
          { action: "session-initiate", sid: "b" },
          xml("content", { creator: "initiator", name: "x", disposition: "early-session" }),
        ),
      ),
    ).toBe("bad-request");
    expect(
      await send(
        ROMEO,
        JULIET,
        s,
        raw(
          { action: "session-initiate", sid: "c", initiator: "tybalt@capulet.lit/x" },
          xml("content", { creator: "initiator", name: "x" }),
        ),
      ),
    ).toBe("bad-request");
  });

  it("after our terminate, the session is unknown", async () => {
    const s = await activeSession();
    await s.session.terminate({ condition: "success" });
    const info = buildJingle({ action: "session-info", sid: s.session.sid, contents: [] });
    expect(await send(JULIET, ROMEO, s, info)).toBe("item-not-found+unknown-session");
  });

  it("acknowledges content-add, then rejects it with content-reject", async () => {
    const s = await activeSession();
    const add = buildJingle({
      action: "content-add",
      sid: s.session.sid,
      contents: [{ creator: "responder", name: "video" }],
    });
    expect(await send(JULIET, ROMEO, s, add)).toBe("result");
    await expect.poll(() => s.wire.actions()).toContain("R:content-reject(unsupported-applications)");
    await s.session.terminate();
  });

  it("resolves simultaneous session-initiates by the lower sid: one session survives", async () => {
    const s = scene();
    const apps = [echoApplication(), echoApplication()];
    const incoming: JingleSession[] = [];
    for (const [m, a] of [
      [s.romeo, apps[0]!],
      [s.juliet, apps[1]!],
    ] as const) {
      m.on("incoming", (i) => {
        incoming.push(i.session);
        void i.session.accept({ application: a.handle() });
      });
    }
    const a = s.romeo.initiate(JULIET, {
      application: apps[0]!.handle(),
      transports: s.transports,
      security: s.security,
    });
    const b = s.juliet.initiate(ROMEO, {
      application: apps[1]!.handle(),
      transports: s.transports,
      security: s.security,
    });
    const [ra, rb] = await Promise.allSettled([a.done, b.done]);
    const loser = a.sid < b.sid ? rb : ra;
    const winner = a.sid < b.sid ? ra : rb;
    expect(winner.status).toBe("fulfilled");
    expect(loser.status).toBe("rejected");
    expect((loser as PromiseRejectedResult).reason.reason.condition).toBe("alternative-session");
    expect(incoming).toHaveLength(1);
    expect(s.wire.log.filter((e) => e.answer === "conflict+tie-break")).toHaveLength(1);
  });
});

describe("advertising and reasons", () => {
  it("advertises each plug-in's namespace plus an application's extra features, once each", () => {
    const wire = new Wire();
    const app = echoApplication();
    const manager = wire.add(ROMEO, {
      applications: [
        { ...app.format, namespaces: app.format.namespaces, features: ["urn:xmpp:hashes:2", NS.JINGLE] },
      ],
      transports: [loopbackTransport()],
      security: [nullSecurity()],
    });
    const features = manager.features();
    expect(features).toContain("urn:xmpp:hashes:2");
    expect(features).toContain(app.format.namespaces[0]);
    expect(features.filter((f) => f === NS.JINGLE)).toHaveLength(1);
  });

  it("a JingleReasonError's application condition travels in the <reason/>", () => {
    const extra = xml("file-too-large", { xmlns: "urn:xmpp:jingle:apps:file-transfer:errors:0" });
    const error = new JingleReasonError("media-error", "more octets than offered", { extra });
    const el = buildJingle({ action: "session-terminate", sid: "s1", contents: [], reason: error.reason });
    expect(
      el.getChild("reason")?.getChild("file-too-large", "urn:xmpp:jingle:apps:file-transfer:errors:0"),
    ).toBeDefined();
    expect(el.getChild("reason")?.getChild("media-error")).toBeDefined();
  });
});

describe("limits on sessions offered to us and not answered yet", () => {
  // Threat: a flood of session-initiates holding state (and prompts) at the responder.
  // The limits must also give the slots back: a bookkeeping leak would lock a peer out.
  it("per peer and in all; accept, decline and the initiator's cancel each free a slot", async () => {
    const MERCUTIO = "mercutio@verona.lit/square";
    const wire = new Wire();
    const app = echoApplication({ hang: true });
    const security = nullSecurity();
    const transports = [loopbackTransport()];
    const plug = { applications: [app.format], transports, security: [security] };
    const juliet = wire.add(JULIET, { ...plug, maxPendingPerPeer: 2, maxPending: 3 });
    const romeo = wire.add(ROMEO, plug);
    const mercutio = wire.add(MERCUTIO, plug);
    const offered: IncomingSession[] = [];
    juliet.on("incoming", (i) => offered.push(i));
    // Refused offers are retried (`wait`); count only the first answer to each.
    const firstAnswer = async (from: JingleManager) => {
      const session = from.initiate(JULIET, { application: app.handle(), transports, security });
      const entries = () => wire.log.filter((e) => e.jingle.sid === session.sid && e.answer);
      while (entries().length === 0) await new Promise((r) => setImmediate(r));
      return { session, answer: entries()[0]!.answer };
    };
    const r1 = await firstAnswer(romeo);
    const r2 = await firstAnswer(romeo);
    const r3 = await firstAnswer(romeo);
    expect([r1.answer, r2.answer, r3.answer]).toEqual(["result", "result", "resource-constraint"]);
    const m1 = await firstAnswer(mercutio);
    expect(m1.answer).toBe("result"); // 3 pending in all now
    await r3.session.terminate().catch(() => {}); // stop its retries
    const m2 = await firstAnswer(mercutio);
    expect(m2.answer).toBe("resource-constraint"); // the total limit, not Mercutio's own
    await m2.session.terminate().catch(() => {});
    await until(() => offered.length === 3);

    // Juliet declines one of Romeo's, accepts the other, Mercutio cancels his own.
    await offered.find((i) => i.session.sid === r1.session.sid)!.session.decline();
    await offered
      .find((i) => i.session.sid === r2.session.sid)!
      .session.accept({ application: app.handle() });
    await m1.session.terminate({ condition: "cancel" });
    await until(() => offered.every((i) => i.session.state !== "pending"));
    const again = await Promise.all([firstAnswer(romeo), firstAnswer(romeo), firstAnswer(mercutio)]);
    expect(again.map((a) => a.answer)).toEqual(["result", "result", "result"]);
    for (const s of [...again.map((a) => a.session), r2.session]) await s.terminate().catch(() => {});
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !condition(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(condition()).toBe(true);
}
