// The facade on the embedded router: chats both ways, decline, and first contact refused
// without a way to verify.
import { mkdtemp, rm } from "node:fs/promises";
import { type AddressInfo, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Element, LocalRouter, NS, queryDiscoInfo, type StanzaError, xml } from "@xtls/core";
import { SessionTerminatedError } from "@xtls/jingle";
import { requestPubkeys } from "@xtls/pubkey";
import { fingerprintOf, MethodDowngradeError, TooManyAttemptsError } from "@xtls/tls";
import { afterEach, describe, expect, it } from "vitest";
import { createXtls, type Xtls } from "../src/index.js";

const ROMEO = "romeo@montague.lit/orchard";
const JULIET = "juliet@capulet.lit/balcony";
let router: LocalRouter;
afterEach(() => router?.close());

async function pair(options: Parameters<typeof createXtls>[1] = {}): Promise<[Xtls, Xtls]> {
  router = new LocalRouter();
  const romeo = await createXtls(router.createLink(ROMEO), options);
  const juliet = await createXtls(router.createLink(JULIET), options);
  return [romeo, juliet];
}

describe("@xtls/client on the embedded router", () => {
  it("pinned peers chat both ways; the chat reports who the peer is and the TLS in use", async () => {
    const [romeo, juliet] = await pair();
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    const theirs = new Promise<Awaited<ReturnType<Xtls["openChat"]>>>((resolve) =>
      juliet.on("chat", (incoming) => void incoming.accept().then(resolve)),
    );
    const chat = await romeo.openChat(JULIET);
    const hers = await theirs;
    const got = new Promise<string>((r) => hers.once("message", (m) => r(`${m.from}: ${m.body}`)));
    await chat.send("Did my heart love till now?");
    expect(await got).toBe(`${ROMEO}: Did my heart love till now?`);
    const back = new Promise<string>((r) => chat.once("message", (m) => r(m.body)));
    await hers.send("Forswear it, sight!");
    expect(await back).toBe("Forswear it, sight!");
    expect(chat.peerIdentity?.fingerprint).toBe(juliet.fingerprint);
    expect(chat.tls?.protocol).toBe("TLSv1.3");
    // SOCKS5 is preferred (our loopback streamhost here), IBB the fallback.
    expect(chat.session.transportNamespace).toBe(NS.JINGLE_S5B);
    expect(await romeo.supportsXtls(JULIET)).toBe(true);
    await chat.close();
    await hers.closed;
  });

  it("with socks5: false, the chat runs over in-band bytestreams", async () => {
    const [romeo, juliet] = await pair({ socks5: false });
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    juliet.on("chat", (incoming) => void incoming.accept());
    const chat = await romeo.openChat(JULIET);
    expect(chat.session.transportNamespace).toBe(NS.JINGLE_IBB);
    await chat.close();
  });

  it("a declined chat rejects openChat with decline", async () => {
    const [romeo, juliet] = await pair();
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    juliet.on("chat", (incoming) => void incoming.decline());
    const error = await romeo.openChat(JULIET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionTerminatedError);
    expect((error as SessionTerminatedError).reason.condition).toBe("decline");
  });

  it("strangers with no password and no pin cannot chat: security-error, nothing pinned", async () => {
    const [romeo, juliet] = await pair();
    juliet.on("chat", (incoming) => void incoming.accept().catch(() => {}));
    const error = await romeo.openChat(JULIET).catch((e: unknown) => e);
    expect((error as SessionTerminatedError).reason.condition).toBe("security-error");
    expect(await romeo.trustStore.entries(JULIET)).toEqual([]);
  });
});

describe("inside every end-to-end stream: XEP-0199 ping, XEP-0189 pubkeys and the application's IQ handlers", () => {
  it("answers ping and <pubkeys/> (our certificate, the one TLS presented) by default, and a handler registered on the facade before the chat answers an IQ sent right behind the stream header", async () => {
    const [romeo, juliet] = await pair();
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    const asked: string[] = [];
    juliet.handle("get", "urn:example:balcony", "query", (iq) => {
      asked.push(iq.from);
      return xml("query", { xmlns: "urn:example:balcony" }, "here");
    });
    juliet.on("chat", (incoming) => void incoming.accept());
    // Romeo's stream resolves on Juliet's header; his IQ follows at once, while Juliet's
    // accept() may not have resolved yet — her handler must already be there.
    const chat = await romeo.openChat(JULIET);
    const answer = await chat.stream.request(
      xml("iq", { type: "get" }, xml("query", { xmlns: "urn:example:balcony" })),
    );
    expect(answer.getChildText("query", "urn:example:balcony")).toBe("here");
    expect(asked).toEqual([ROMEO]);
    const pong = await chat.stream.request(xml("iq", { type: "get" }, xml("ping", { xmlns: NS.PING })));
    expect(pong.attrs.type).toBe("result");
    const keys = await requestPubkeys(chat.stream, juliet.fingerprint);
    expect(keys.devices.map((d) => fingerprintOf(d.raw))).toEqual([juliet.fingerprint]);
    const features = (await queryDiscoInfo(chat.stream, JULIET)).features;
    expect(features).toEqual(expect.arrayContaining([NS.PING, NS.PUBKEY]));
    await chat.close();
  });

  it("a handler registered while a chat is open applies to it; unsubscribed, the IQ gets service-unavailable", async () => {
    const [romeo, juliet] = await pair();
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    const hers = new Promise<Awaited<ReturnType<Xtls["openChat"]>>>((resolve) =>
      juliet.on("chat", (incoming) => void incoming.accept().then(resolve)),
    );
    const chat = await romeo.openChat(JULIET);
    await hers;
    const ask = () =>
      chat.stream.request(xml("iq", { type: "get" }, xml("query", { xmlns: "urn:example:late" })));
    const off = juliet.handle("get", "urn:example:late", "query", () => undefined);
    expect((await ask()).attrs.type).toBe("result");
    off();
    const refused = await ask().catch((e: unknown) => e);
    expect((refused as StanzaError).condition).toBe("service-unavailable");
    await chat.close();
  });
});

describe("SOCKS5 candidate addresses (the peer's choice): connected to only as the policy allows", () => {
  // A TCP listener that counts connections: where a peer's candidate points on our host.
  async function decoy(): Promise<{ server: Server; port: number; connections: () => number }> {
    let n = 0;
    const server = createServer((socket) => {
      n++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { server, port: (server.address() as AddressInfo).port, connections: () => n };
  }

  it("a candidate at 0.0.0.0 (which reaches loopback on Linux) is never connected to; the chat still opens", async () => {
    const trap = await decoy();
    router = new LocalRouter();
    const romeo = await createXtls(router.createLink(ROMEO), {
      socks5: {
        streamhost: false,
        proxies: [{ jid: "proxy.evil.example", host: "0.0.0.0", port: trap.port }],
      },
    });
    const juliet = await createXtls(router.createLink(JULIET));
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    juliet.on("chat", (incoming) => void incoming.accept());
    const chat = await romeo.openChat(JULIET);
    expect(trap.connections()).toBe(0);
    await chat.close();
    trap.server.close();
  });

  it('candidatePolicy { allow: ["global"] }: no connection to loopback candidates; the chat falls back to in-band bytestreams', async () => {
    const [romeo, juliet] = await pair({ candidatePolicy: { allow: ["global"] } });
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    juliet.on("chat", (incoming) => void incoming.accept());
    const chat = await romeo.openChat(JULIET);
    expect(chat.session.transportNamespace).toBe(NS.JINGLE_IBB);
    await chat.close();
  });
});

describe("openChat({ firstContact }): the initiator picks the first-contact method", () => {
  // Both sides could do both; without firstContact, XTLS prefers the password.
  async function strangers() {
    const asked: string[] = [];
    router = new LocalRouter();
    const make = (jid: string) =>
      createXtls(router.createLink(jid), {
        askPassword: () => {
          asked.push(`${jid}: password`);
          return "wherefore-1597";
        },
        confirmSas: ({ digits }) => {
          asked.push(`${jid}: code ${digits.length} digits`);
          return true;
        },
      });
    return { romeo: await make(ROMEO), juliet: await make(JULIET), asked };
  }

  for (const [method, expected] of [
    [undefined, "srp"],
    ["srp", "srp"],
    ["sas", "sas"],
  ] as const) {
    it(`${method ?? "default"} → the session is verified by ${expected}, and only its prompts run`, async () => {
      const { romeo, juliet, asked } = await strangers();
      juliet.on("chat", (incoming) => void incoming.accept());
      const phases: string[] = [];
      const chat = await romeo.openChat(JULIET, {
        ...(method ? { firstContact: method } : {}),
        onSession: (session) => session.on("phase", (p) => phases.push(p)),
      });
      expect(chat.peerIdentity?.trust.source).toBe(expected);
      expect(phases).toContain("established");
      const kind = expected === "srp" ? "password" : "code 6 digits";
      expect(asked.sort()).toEqual([`${JULIET}: ${kind}`, `${ROMEO}: ${kind}`]);
      expect((await romeo.trustStore.entries(JULIET))[0]).toMatchObject({
        state: "verified",
        method: expected,
      });
      await chat.close();
    });
  }

  it("a method without its callback is refused before anything is sent", async () => {
    const [romeo] = await pair({ askPassword: () => "x" });
    let sent = 0;
    router.observe(() => sent++);
    await expect(romeo.openChat(JULIET, { firstContact: "sas" })).rejects.toThrow(
      /needs createXtls\(\{ confirmSas \}\)/,
    );
    expect(sent).toBe(0);
  });
});

describe("downgrade by a forged disco answer", () => {
  it("a server hiding XTLS from the peer's disco#info cannot make a chat run in the clear", async () => {
    const [romeo, juliet] = await pair();
    await romeo.trustStore.pin(JULIET, juliet.fingerprint, { method: "manual" });
    await juliet.trustStore.pin(ROMEO, romeo.fingerprint, { method: "manual" });
    // The router (a hostile server) strips every XTLS and Jingle feature from Juliet's answer.
    router.intercept((stanza) => {
      const query = stanza.getChild("query", NS.DISCO_INFO);
      if (stanza.attrs.type !== "result" || !query) return undefined;
      query.children = query.children.filter(
        (c) => typeof c === "string" || !/jingle|xtls/.test(String(c.attrs.var ?? "")),
      );
      return stanza;
    });
    expect(await romeo.supportsXtls(JULIET)).toBe(false);
    // There is no clear-text chat to fall back to: openChat always runs the precondition.
    juliet.on("chat", (incoming) => void incoming.accept());
    const chat = await romeo.openChat(JULIET);
    expect(chat.tls?.protocol).toBe("TLSv1.3");
    expect(chat.peerIdentity?.fingerprint).toBe(juliet.fingerprint);
    await chat.close();
  });
});

/** The first error of class `type` in the cause chain. */
function causeOf<T>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (let e = error; e; e = (e as { cause?: unknown }).cause) if (e instanceof type) return e;
  return undefined;
}

describe("password attempts are limited across processes (counts in trust.json)", () => {
  it("wrong passwords through fresh facades on the same dirs: locked out, the time shown, no password asked", async () => {
    const base = await mkdtemp(join(tmpdir(), "xtls-attempts-"));
    try {
      const asked: string[] = [];
      // Each round is a new "process": a fresh router and fresh facades on the same dirs.
      const round = async (romeoDir: string, password: string) => {
        router?.close();
        router = new LocalRouter();
        const make = (jid: string, dir: string, pw: string) =>
          createXtls(router.createLink(jid), {
            dir,
            socks5: false,
            askPassword: () => {
              asked.push(jid);
              return pw;
            },
          });
        const juliet = await make(JULIET, join(base, "juliet"), "wherefore-1597");
        const romeo = await make(ROMEO, romeoDir, password);
        juliet.on("chat", (incoming) => void incoming.accept().catch(() => {}));
        const error = await romeo.openChat(JULIET).then(
          () => undefined,
          (e: unknown) => e,
        );
        await Promise.all([romeo.close(), juliet.close()]);
        return error;
      };
      for (let i = 0; i < 3; i++) {
        const error = await round(join(base, "romeo"), `guess-${i}`);
        expect((error as SessionTerminatedError).reason.condition).toBe("security-error");
      }
      expect(asked).toHaveLength(6);
      asked.length = 0;

      // Romeo's fourth try, in a new process: his own stored count stops it before any
      // password is asked (his ABORT may reach Juliet first, and her terminate then says it).
      const lockedOut = /locked out until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)/;
      const t0 = Date.now();
      const fourth = await round(join(base, "romeo"), "guess-3");
      expect((fourth as SessionTerminatedError).reason.condition).toBe("security-error");
      const until = (fourth as SessionTerminatedError).reason.text?.match(lockedOut)?.[1];
      expect(Date.parse(until ?? "")).toBeGreaterThan(t0 - 1000);
      expect(asked).toEqual([]);
      // An attacker with no count of its own meets Juliet's, read from her trust.json.
      const told = causeOf(await round(join(base, "mallory"), "guess-4"), TooManyAttemptsError);
      expect(told).toMatchObject({ detectedBy: "peer" });
      expect(told?.message).toMatch(lockedOut);
      expect(asked.filter((jid) => jid === JULIET)).toEqual([]); // Juliet never asked for one
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("method policy: no silent fall-back from srp to sas", () => {
  /** A router (a hostile server) that removes `<method name='srp'/>` from Jingle `action`s. */
  function stripSrp(action: string) {
    router.intercept((stanza) => {
      const jingle = stanza.getChild("jingle", NS.JINGLE);
      if (jingle?.attrs.action !== action) return undefined;
      for (const content of jingle.getChildren("content")) {
        for (const security of content.getChildren("security")) {
          security.children = security.children.filter(
            (c) => typeof c === "string" || (c as Element).attrs.name !== "srp",
          );
        }
      }
      return stanza;
    });
  }

  async function strangers() {
    const shown: string[] = [];
    router = new LocalRouter();
    const make = (jid: string) =>
      createXtls(router.createLink(jid), {
        socks5: false,
        askPassword: () => "wherefore-1597",
        confirmSas: () => {
          shown.push(jid);
          return true;
        },
      });
    return { romeo: await make(ROMEO), juliet: await make(JULIET), shown };
  }

  it("with the one-time password in hand (firstContact: srp), an answer stripped of srp fails with MethodDowngradeError; no code is shown", async () => {
    const { romeo, juliet, shown } = await strangers();
    juliet.on("chat", (incoming) => void incoming.accept().catch(() => {}));
    stripSrp("session-accept");
    const error = await romeo.openChat(JULIET, { firstContact: "srp" }).catch((e: unknown) => e);
    expect((error as SessionTerminatedError).reason.condition).toBe("security-error");
    expect(causeOf(error, MethodDowngradeError)).toMatchObject({
      code: "method-downgrade",
      expected: "srp",
      why: "password-in-hand",
    });
    expect(shown).toEqual([]);
    expect(await romeo.trustStore.entries(JULIET)).toEqual([]);
  });

  it("a peer first verified by srp is not moved to sas: after its pins are forgotten, an offer stripped of srp is refused", async () => {
    const { romeo, juliet, shown } = await strangers();
    juliet.on("chat", (incoming) => void incoming.accept().catch(() => {}));
    const first = await romeo.openChat(JULIET);
    expect(first.peerIdentity?.trust.source).toBe("srp");
    await first.close();
    // Both forget the pins (say, a reinstall); the stores remember how they met.
    await romeo.trustStore.forget(JULIET);
    await juliet.trustStore.forget(ROMEO);
    stripSrp("session-initiate");
    juliet.removeAllListeners("chat");
    const failed = new Promise<unknown>((resolve) =>
      juliet.on("chat", (incoming) => void incoming.accept().catch(resolve)),
    );
    const error = await romeo.openChat(JULIET).catch((e: unknown) => e);
    expect((error as SessionTerminatedError).reason.condition).toBe("security-error");
    expect(causeOf(await failed, MethodDowngradeError)).toMatchObject({ why: "first-verified-by-srp" });
    expect(shown).toEqual([]);
  });
});
