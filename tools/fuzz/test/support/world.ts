/**
 * The world a fuzz case runs in: a fresh embedded router with Romeo and Juliet, each a
 * full XTLS client (IBB, SOCKS5, Jingle with XtlsSecurity / IBB and S5B transports /
 * XML-stream and file-transfer applications, Mode Q, disco), and Mallory, a scripted
 * peer whose answers the case chooses. Everything a link sends is re-parsed and
 * recorded; everything the router delivers is recorded; `check()` then says whether
 * every IQ get/set got exactly one reply, no result or error got one, and every error
 * is well-formed (RFC 6120 §8.2.3, §8.3).
 *
 * Key generation is the slow part, so identities and TLS engines are made once per
 * test file and shared by every world.
 */
import { Buffer } from "node:buffer";
import {
  CLIENT_STREAM_HEADER,
  type Element,
  type LocalLink,
  LocalRouter,
  NS,
  type RouteEvent,
  StanzaError,
  StanzaStreamParser,
  tryParseJid,
  xml,
} from "@xtls/core";
import { FileTransferApplication, FileTransferService } from "@xtls/file-transfer";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import { IqTunnelService } from "@xtls/iq-tunnel";
import {
  createJingleManager,
  type IncomingSession,
  type JingleManager,
  type JingleSession,
} from "@xtls/jingle";
import { XtlsSecurity } from "@xtls/jingle-xtls";
import { dstAddr, S5bTransport, Socks5Bytestreams } from "@xtls/socks5";
import { createIdentity, type Identity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { type XmlStream, XmlStreamApplication, XmlStreamSession } from "@xtls/xmlstream";
import { unreportedEscapes } from "./guards.js";
import { checkErrorStanza, checkResultStanza } from "./stanza-checks.js";
import { type Streamhosts, startStreamhosts } from "./streamhosts.js";
import { materialise, type Ref, type XNode } from "./xml-model.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";
export const MALLORY = "mallory@montague.lit/arras";
export const PARTIES = [ROMEO, JULIET, MALLORY] as const;

const noop = () => {};
const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ─── shared, slow to make ────────────────────────────────────────────────────────────

interface Shared {
  readonly identities: Record<string, Identity>;
  readonly engines: Record<string, NodeTlsEngine>;
  readonly streamhosts: Streamhosts;
}

let shared: Promise<Shared> | undefined;

/** Identities, engines (Romeo and Juliet pin each other) and the loopback streamhosts. */
export function sharedSetup(): Promise<Shared> {
  shared ??= (async () => {
    const identities = {
      [ROMEO]: createIdentity("romeo@montague.lit"),
      [JULIET]: createIdentity("juliet@capulet.lit"),
    };
    const engines: Record<string, NodeTlsEngine> = {};
    for (const [jid, other] of [
      [ROMEO, JULIET],
      [JULIET, ROMEO],
    ] as const) {
      const trust = new MemoryTrustStore();
      await trust.pin(other, identities[other]!.fingerprint, { method: "manual" });
      // Juliet also knows Mallory by Romeo's certificate, so Mallory can offer her a session
      // she accepts (see offerFromMallory).
      if (jid === JULIET) await trust.pin(MALLORY, identities[ROMEO]!.fingerprint, { method: "manual" });
      engines[jid] = new NodeTlsEngine({ identity: identities[jid]!, trustStore: trust });
    }
    return { identities, engines, streamhosts: await startStreamhosts() };
  })();
  return shared;
}

/**
 * For `afterAll`: stops the streamhosts, then fails if anything escaped after the last
 * case looked (a timer of an old world firing late, say), which no property has reported.
 */
export async function closeShared(): Promise<void> {
  const s = await shared;
  shared = undefined;
  await s?.streamhosts.close();
  for (let i = 0; i < 4; i++) await immediate();
  const late = unreportedEscapes();
  if (late.length > 0) throw new Error(`escaped after the last case:\n${late.join("\n")}`);
}

// ─── policies and parties ────────────────────────────────────────────────────────────

/** How a party answers what it is offered (chosen per case). */
export interface Policy {
  /** Unsolicited IBB `<open/>`s. */
  readonly ibb: boolean;
  /** Unsolicited S5B offers (only ever to the loopback streamhosts). */
  readonly s5b: boolean;
  /** Mode Q `<start/>`s. */
  readonly modeq: boolean;
  /** Incoming XML-stream Jingle sessions: leave pending, or accept. */
  readonly jingle: "hold" | "accept";
}

export const DEFAULT_POLICY: Policy = { ibb: true, s5b: true, modeq: true, jingle: "hold" };

/** Mallory's scripted answers. */
export interface MalloryScript {
  /** setImmediate turns before it answers an IBB `<open/>`. */
  readonly ibbOpenDelay: number;
  readonly ibbOpenAccept: boolean;
}

export const DEFAULT_MALLORY: MalloryScript = { ibbOpenDelay: 2, ibbOpenAccept: true };

export interface Party {
  readonly jid: string;
  readonly link: LocalLink;
  readonly ibb: InBandBytestreams;
  readonly s5b: Socks5Bytestreams;
  readonly jingle: JingleManager;
  readonly modeq: IqTunnelService;
  readonly files: FileTransferService;
  readonly security: XtlsSecurity;
  readonly ibbTransport: IbbTransport;
  readonly s5bTransport: S5bTransport;
  readonly incoming: IncomingSession[];
  readonly xmlStreams: XmlStream[];
}

interface Sent {
  readonly origin: string;
  readonly name: string;
  readonly type: string | undefined;
  readonly id: string | undefined;
  readonly to: string | undefined;
  /** The stanza as re-parsed from its wire form (namespaces resolved), if it parsed. */
  readonly parsed: Element | undefined;
  readonly wire: string;
}

const TIMEOUTS = { short: 2000 };

/** What was found wrong in a case. */
export type Problems = string[];

export class World {
  readonly router = new LocalRouter();
  readonly romeo: Party;
  readonly juliet: Party;
  readonly mallory: LocalLink;
  readonly sent: Sent[] = [];
  readonly delivered: RouteEvent[] = [];
  readonly problems: Problems = [];
  /** Promises of setup steps, settled or not; their outcome is not the property. */
  readonly background: Array<Promise<unknown>> = [];
  readonly #shared: Shared;
  /** Sids of bytestreams reserved (expected or being opened) by the case's setup. */
  readonly #reserved = { ibb: [] as string[], s5b: [] as string[] };
  /** Stanzas injected `from` Romeo go out from this JID instead (Mallory posing as the peer). */
  speakAs: string | undefined;
  #checker: { parser: StanzaStreamParser; out: Element[]; error: Error | undefined };
  #activity = 0;
  #closed = false;

  private constructor(s: Shared, policies: { romeo: Policy; juliet: Policy }, mallory: MalloryScript) {
    this.#shared = s;
    this.#checker = this.#newChecker();
    this.router.observe((event) => {
      this.#activity++;
      if (event.outcome === "delivered") this.delivered.push(event);
    });
    this.romeo = this.#party(ROMEO, policies.romeo);
    this.juliet = this.#party(JULIET, policies.juliet);
    this.mallory = this.#link(MALLORY);
    this.#script(this.mallory, mallory);
  }

  static async create(
    policies: { romeo?: Policy; juliet?: Policy } = {},
    mallory: MalloryScript = DEFAULT_MALLORY,
  ): Promise<World> {
    const s = await sharedSetup();
    return new World(
      s,
      { romeo: policies.romeo ?? DEFAULT_POLICY, juliet: policies.juliet ?? DEFAULT_POLICY },
      mallory,
    );
  }

  get fingerprints(): string[] {
    return [ROMEO, JULIET].map((j) => this.#shared.identities[j]!.fingerprint);
  }

  get streamhosts(): Streamhosts {
    return this.#shared.streamhosts;
  }

  party(jid: string): Party {
    return jid === ROMEO ? this.romeo : this.juliet;
  }

  // ─── building ───────────────────────────────────────────────────────────────────

  #link(jid: string): LocalLink {
    const link = this.router.createLink(jid);
    const send = link.send.bind(link);
    // Every stanza a link sends is re-parsed here first: one that does not parse would
    // make the router throw from a timer, so it is recorded as a problem and dropped.
    link.send = (stanza: Element): Promise<void> => {
      this.#activity++;
      const wire = stanza.toString();
      const parsed = this.#reparse(wire);
      const record: Sent = {
        origin: link.jid,
        name: stanza.name,
        type: stanza.attrs.type,
        id: stanza.attrs.id,
        to: stanza.attrs.to,
        parsed,
        wire,
      };
      this.sent.push(record);
      if (!parsed) {
        this.problems.push(`${link.jid} sent a stanza that does not re-parse: ${wire.slice(0, 400)}`);
        return Promise.resolve();
      }
      return send(stanza);
    };
    return link;
  }

  #party(jid: string, policy: Policy): Party {
    const link = this.#link(jid);
    const engine = this.#shared.engines[jid]!;
    const ibb = new InBandBytestreams(link, {
      accept: () => policy.ibb,
      requestTimeoutMs: TIMEOUTS.short,
      ackTimeoutMs: TIMEOUTS.short,
    });
    ibb.on("stream", (stream) => {
      stream.on("error", noop);
      stream.resume();
    });
    const { okPort, hangupPort, refusedPort } = this.#shared.streamhosts;
    const ours = new Set([okPort, hangupPort, refusedPort]);
    const s5b = new Socks5Bytestreams(link, {
      streamhost: false,
      proxies: false,
      // Only offers whose every streamhost is one of ours on loopback are taken.
      accept: (request) =>
        policy.s5b &&
        request.streamhosts.every((h) => /^(127\.0\.0\.1|::1|localhost)$/.test(h.host) && ours.has(h.port)),
      requestTimeoutMs: TIMEOUTS.short,
      connectTimeoutMs: 1000,
      staggerMs: 1,
    });
    s5b.on("stream", (stream) => {
      stream.on("error", noop);
      stream.resume();
    });
    const security = new XtlsSecurity({ engine, handshakeTimeoutMs: TIMEOUTS.short, choiceTimeoutMs: 1000 });
    const ibbTransport = new IbbTransport({ ibb });
    const s5bTransport = new S5bTransport({
      socks5: s5b,
      proxies: false,
      connectTimeoutMs: 1000,
      staggerMs: 1,
    });
    const jingle = createJingleManager(link, {
      applications: [new XmlStreamApplication(), new FileTransferApplication()],
      transports: [ibbTransport, s5bTransport],
      security: [security],
      acceptTimeoutMs: TIMEOUTS.short,
      connectTimeoutMs: TIMEOUTS.short,
      replaceTimeoutMs: TIMEOUTS.short,
      requestTimeoutMs: TIMEOUTS.short,
    });
    const files = new FileTransferService(jingle, { transports: [ibbTransport], security });
    const modeq = new IqTunnelService(link, {
      engine,
      accept: () => policy.modeq,
      requestTimeoutMs: TIMEOUTS.short,
      handshakeTimeoutMs: TIMEOUTS.short,
    });
    modeq.on("tunnel", (tunnel) => tunnel.on("stanza", noop));
    const party: Party = {
      jid,
      link,
      ibb,
      s5b,
      jingle,
      modeq,
      files,
      security,
      ibbTransport,
      s5bTransport,
      incoming: [],
      xmlStreams: [],
    };
    jingle.on("incoming", (incoming) => {
      party.incoming.push(incoming);
      if (policy.jingle !== "accept" || !(incoming.application instanceof XmlStreamApplication)) return;
      const app = new XmlStreamSession();
      this.#keepStream(party, app);
      this.background.push(incoming.session.accept({ application: app }).catch(noop));
    });
    return party;
  }

  #keepStream(party: Party, app: XmlStreamSession): void {
    app.stream.then((stream) => {
      party.xmlStreams.push(stream);
      stream.on("stanza", noop);
    }, noop);
  }

  // Mallory: a peer that follows a script instead of a protocol engine.
  #script(link: LocalLink, script: MalloryScript): void {
    link.handle("set", NS.IBB, "open", async () => {
      for (let i = 0; i < script.ibbOpenDelay; i++) await immediate();
      if (!script.ibbOpenAccept) throw new StanzaError("not-acceptable", { type: "cancel" });
    });
    link.handle("set", NS.IBB, "data", () => undefined);
    link.handle("set", NS.IBB, "close", () => undefined);
    link.handle("set", NS.XTLS_IQ, "start", () => xml("proceed", { xmlns: NS.XTLS_IQ }));
    link.handle("set", NS.XTLS_IQ, "data", () => undefined);
    link.handle("set", NS.XTLS_IQ, "close", () => xml("closed", { xmlns: NS.XTLS_IQ }));
    link.handle("set", NS.JINGLE, "jingle", () => undefined);
  }

  // ─── live state, for references ─────────────────────────────────────────────────

  #sidsOnWire(kind: "jingle" | "transport" | "ibb" | "s5b"): string[] {
    const out = new Set<string>();
    for (const s of this.sent) {
      const walk = (el: Element) => {
        const sid = el.attrs.sid;
        if (sid !== undefined) {
          const ns = el.getNS();
          const k =
            el.name === "jingle"
              ? "jingle"
              : el.name === "transport"
                ? "transport"
                : ns === NS.IBB
                  ? "ibb"
                  : ns === NS.S5B
                    ? "s5b"
                    : undefined;
          if (k === kind) out.add(sid);
        }
        for (const c of el.getChildElements()) walk(c);
      };
      if (s.parsed) walk(s.parsed);
    }
    return [...out];
  }

  /** Outgoing get/set requests, oldest first. */
  #requests(): Sent[] {
    return this.sent.filter((s) => s.name === "iq" && (s.type === "get" || s.type === "set"));
  }

  readonly resolve = (r: Ref): string | undefined => {
    const at = <T>(list: readonly T[]): T | undefined =>
      list.length === 0 ? undefined : list[Math.abs(r.index) % list.length];
    switch (r.ref) {
      case "jid":
        // Romeo and Juliet run the handlers; Mallory is a scripted peer.
        return at([ROMEO, JULIET, ROMEO, JULIET, MALLORY]);
      case "jidVariant": {
        const base = PARTIES[r.index % PARTIES.length]!;
        const [bare, resource] = base.split("/") as [string, string];
        const [local, domain] = bare.split("@") as [string, string];
        const variants = [
          `${local.toUpperCase()}@${domain.toUpperCase()}/${resource}`,
          bare,
          domain,
          `${local}@${domain}./${resource}`,
          `${bare}/other`,
          `${bare}/${resource.toUpperCase()}`,
          `${bare}/${resource} `,
          `${local}@${domain.replace("a", "\u0430")}/${resource}`,
        ];
        return variants[Math.floor(r.index / PARTIES.length) % variants.length];
      }
      case "sid":
        return at([
          ...this.#sidsOnWire("jingle"),
          ...this.#sidsOnWire("transport"),
          ...this.#sidsOnWire("ibb"),
          ...this.#sidsOnWire("s5b"),
        ]);
      case "jingleSid":
        return (
          at([...this.romeo.jingle.sessions, ...this.juliet.jingle.sessions].map((s) => s.sid)) ??
          at(this.#sidsOnWire("jingle")) ??
          "s0"
        );
      case "transportSid":
        return at(this.#sidsOnWire("transport")) ?? "s0";
      case "ibbSid":
        return (
          at([...this.romeo.ibb.streams, ...this.juliet.ibb.streams].map((s) => s.sid)) ??
          at([...this.#reserved.ibb, ...this.#sidsOnWire("ibb"), ...this.#sidsOnWire("transport")]) ??
          "s0"
        );
      case "s5bSid":
        return at([...this.#reserved.s5b, ...this.#sidsOnWire("s5b")]) ?? "s0";
      case "seq": {
        const next = [...this.romeo.ibb.streams, ...this.juliet.ibb.streams].map((s) => s.stanzasIn & 0xffff);
        const base = at(next) ?? 0;
        // Mostly the seq due; sometimes a repeat or a skip.
        const delta = [0, 0, 0, -1, 1, 65535][Math.floor(r.index / Math.max(1, next.length)) % 6]!;
        return String((base + delta) & 0xffff);
      }
      case "iqId":
        return at(this.#requests())?.id;
      case "requestTo":
        return at(this.#requests())?.to;
      case "requestFrom":
        return at(this.#requests())?.origin;
      case "fingerprint":
        return at(this.fingerprints);
      case "dstaddr": {
        const sid = at(this.#sidsOnWire("s5b")) ?? "s0";
        return r.index % 2 === 0 ? dstAddr(sid, ROMEO, JULIET) : dstAddr(sid, JULIET, ROMEO);
      }
      case "port": {
        const { okPort, hangupPort, refusedPort } = this.#shared.streamhosts;
        return String(at([okPort, hangupPort, refusedPort]));
      }
    }
  };

  // ─── driving ────────────────────────────────────────────────────────────────────

  /** Delivers a fuzzed stanza as a spoofing peer or a compromised server could. */
  inject(node: XNode): Element {
    const stanza = materialise(node, this.resolve);
    if (this.speakAs && stanza.attrs.from === ROMEO) stanza.attrs.from = this.speakAs;
    // The router's parser would choke on it for good: that is a fault of the fuzzer.
    if (!this.#reparse(stanza.toString())) throw new Error(`the fuzzer built a malformed stanza: ${stanza}`);
    this.router.inject(stanza);
    return stanza;
  }

  /**
   * Injects each stanza in turn, letting the world settle after each, or (where `burst`
   * says so) injecting the next one in the same turn, so both arrive together.
   */
  async play(nodes: readonly XNode[], burst: readonly boolean[] = []): Promise<void> {
    for (const [i, node] of nodes.entries()) {
      this.inject(node);
      if (!burst[i] || i === nodes.length - 1) await this.settle();
    }
  }

  /**
   * Runs the event loop until nothing has moved for a few turns and every IQ get/set
   * delivered so far is answered, or `limitMs` passed (a hang detector, not a
   * measurement: what is unanswered then is reported by `check()`).
   */
  async settle(limitMs = 5000): Promise<void> {
    const start = performance.now();
    let idle = 0;
    for (let turn = 0; ; turn++) {
      const before = this.#activity;
      if (turn < 400) await immediate();
      else await sleep(1);
      idle = this.#activity === before ? idle + 1 : 0;
      if (idle >= 3 && this.#unanswered().length === 0) return;
      if (performance.now() - start > limitMs) return;
    }
  }

  /** Waits (bounded) for `promise`, letting the world run. */
  async until<T>(promise: Promise<T>, limitMs = 5000): Promise<T | undefined> {
    let done = false;
    let value: T | undefined;
    promise.then(
      (v) => {
        done = true;
        value = v;
      },
      () => {
        done = true;
      },
    );
    const start = performance.now();
    for (let turn = 0; !done && performance.now() - start < limitMs; turn++) {
      if (turn < 400) await immediate();
      else await sleep(1);
    }
    return value;
  }

  // ─── the properties ─────────────────────────────────────────────────────────────

  /** Per (recipient link, id, from) the IQ get/set delivered, minus the replies sent. */
  #ledger(): Map<string, { requests: number; replies: number; sample: string }> {
    const ledger = new Map<string, { requests: number; replies: number; sample: string }>();
    const entry = (key: string, sample: string) => {
      let e = ledger.get(key);
      if (!e) {
        e = { requests: 0, replies: 0, sample };
        ledger.set(key, e);
      }
      return e;
    };
    for (const event of this.delivered) {
      if (event.stanza.name !== "iq") continue;
      const target = tryParseJid(event.to)?.full;
      if (!target || !this.router.link(target)) continue;
      const type = event.stanza.attrs.type;
      if (type === "result" || type === "error") continue;
      const key = JSON.stringify([target, event.stanza.attrs.id ?? null, event.stanza.attrs.from ?? null]);
      entry(key, event.wire).requests++;
    }
    for (const s of this.sent) {
      if (s.name !== "iq" || (s.type !== "result" && s.type !== "error")) continue;
      const key = JSON.stringify([s.origin, s.id ?? null, s.to ?? null]);
      entry(key, s.wire).replies++;
    }
    return ledger;
  }

  #unanswered(): string[] {
    const out: string[] = [];
    for (const e of this.#ledger().values()) if (e.replies < e.requests) out.push(e.sample);
    return out;
  }

  /** Everything wrong so far: re-parse failures, missing or extra replies, malformed errors. */
  check(): Problems {
    const problems = [...this.problems];
    for (const [key, e] of this.#ledger()) {
      if (e.replies < e.requests) {
        problems.push(`no reply (${e.replies} of ${e.requests}) to ${key}: ${e.sample.slice(0, 400)}`);
      } else if (e.replies > e.requests) {
        problems.push(
          e.requests === 0
            ? `a reply to no IQ get/set (to a result or error, or unsolicited) ${key}: ${e.sample.slice(0, 400)}`
            : `${e.replies} replies to ${e.requests} IQ get/set ${key}: ${e.sample.slice(0, 400)}`,
        );
      }
    }
    for (const s of this.sent) {
      if (!s.parsed) continue;
      const problem =
        s.parsed.attrs.type === "error"
          ? checkErrorStanza(s.parsed)
          : s.name === "iq" && s.type === "result"
            ? checkResultStanza(s.parsed)
            : undefined;
      if (problem) problems.push(`${s.origin} sent ${problem}: ${s.wire.slice(0, 400)}`);
    }
    return problems;
  }

  /** The connection drops for everyone (itself a path worth fuzzing), then a few turns. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.router.close();
    for (const p of [this.romeo, this.juliet]) {
      for (const s of p.s5b.streams) s.destroy();
      for (const s of p.xmlStreams) s.destroy();
      this.background.push(p.s5b.close().catch(noop));
    }
    for (let i = 0; i < 2; i++) await immediate();
  }

  // ─── in-session states ──────────────────────────────────────────────────────────

  /** An open IBB stream `from` → `to` (both parties read what arrives). */
  async openIbb(from: Party, to: Party, sid = "ch3d9s71", blockSize = 4096): Promise<void> {
    this.#reserved.ibb.push(sid);
    const opening = from.ibb.open(to.jid, { sid, blockSize });
    this.background.push(opening.catch(noop));
    const stream = await this.until(opening);
    if (stream) {
      stream.on("error", noop);
      stream.resume();
    }
  }

  /** `party` waits for an IBB `<open/>` from `peer`. */
  expectIbb(party: Party, peer: string, sid = "ch3d9s71", blockSize = 4096): void {
    this.#reserved.ibb.push(sid);
    const expecting = party.ibb.expect(peer, sid, { blockSize });
    this.background.push(
      expecting.then((stream) => {
        stream.on("error", noop);
        stream.resume();
      }, noop),
    );
  }

  /** Romeo's `<open/>` to Mallory, who answers after the script's delay. */
  openIbbToMallory(sid = "ch3d9s71"): void {
    this.#reserved.ibb.push(sid);
    this.background.push(
      this.romeo.ibb.open(MALLORY, { sid }).then((stream) => {
        stream.on("error", noop);
        stream.resume();
      }, noop),
    );
  }

  /** `party` waits for a SOCKS5 offer from `peer`. */
  expectS5b(party: Party, peer: string, sid = "vj3hs98y"): void {
    this.#reserved.s5b.push(sid);
    this.background.push(
      party.s5b.expect(peer, sid).then((stream) => {
        stream.on("error", noop);
        stream.resume();
      }, noop),
    );
  }

  /**
   * Romeo offers Juliet an XML-stream session with the XTLS precondition over IBB (or
   * over SOCKS5 first, which cannot connect here — no candidates — so the session falls
   * back to IBB with transport-replace).
   */
  initiateJingle(to: string = JULIET, transports: "ibb" | "s5b-then-ibb" = "ibb"): JingleSession {
    const app = new XmlStreamSession();
    this.#keepStream(this.romeo, app);
    const session = this.romeo.jingle.initiate(to, {
      application: app,
      transports:
        transports === "ibb" ? [this.romeo.ibbTransport] : [this.romeo.s5bTransport, this.romeo.ibbTransport],
      security: this.romeo.security,
    });
    this.background.push(session.done.catch(noop));
    return session;
  }

  /**
   * Mallory offers Juliet an XML-stream session over IBB (transport sid ch3d9s71, as in
   * seed 004) with the XTLS precondition, presenting Romeo's certificate, which Juliet
   * pins for Mallory. Juliet (when her policy accepts) answers, then waits for Mallory's
   * IBB `<open/>` with her TLS server ready: the stanzas of the case, sent as Romeo, come
   * from Mallory (`speakAs`).
   */
  offerFromMallory(): void {
    this.speakAs = MALLORY;
    this.#reserved.ibb.push("ch3d9s71");
    this.router.inject(
      xml(
        "iq",
        { type: "set", id: "mallory-si", from: MALLORY, to: JULIET },
        xml(
          "jingle",
          { xmlns: NS.JINGLE, action: "session-initiate", sid: "a73sjjvkl37jfea", initiator: MALLORY },
          xml(
            "content",
            { creator: "initiator", name: "xmlstream", senders: "both" },
            xml("description", { xmlns: NS.JINGLE_XMLSTREAM }),
            xml("transport", { xmlns: NS.JINGLE_IBB, sid: "ch3d9s71", "block-size": "4096" }),
            xml(
              "security",
              { xmlns: NS.XTLS_JINGLE },
              xml("fingerprint", { algo: "sha-256" }, this.fingerprints[0]!),
              xml("method", { name: "x509" }),
            ),
          ),
        ),
      ),
    );
  }

  /**
   * Swallows the parties' IBB `<data/>` and acknowledges it on the recipient's behalf: the
   * transport opens, but the TLS handshake over it never gets its first record through, so
   * the session stays in its "securing" phase with nothing in flight. (Dropping `<open/>`
   * instead would make the opener hold the peer's early `<data/>` — and its reply — until
   * the open times out, which XEP-0047's ordering makes legitimate; leaving the data
   * unacknowledged would make a `<close/>` wait for the ack timeout, as it should.)
   */
  holdIbbData(): void {
    this.router.intercept((stanza, route) => {
      if (stanza.attrs.type !== "set" || !stanza.getChild("data", NS.IBB)) return undefined;
      this.router.inject(xml("iq", { type: "result", id: stanza.attrs.id, from: route.to, to: route.from }));
      return null;
    });
  }

  /** Juliet has a responder tunnel with Romeo that awaits its first `<data/>`. */
  startModeQAtJuliet(): void {
    this.router.inject(
      xml(
        "iq",
        { type: "set", id: "xtls_1", from: ROMEO, to: JULIET },
        xml(
          "start",
          { xmlns: NS.XTLS_IQ },
          xml(
            "offer",
            { xmlns: NS.C2CTLS },
            xml("keyinfo", { xmlns: NS.PUBKEY_TMP }, xml("name", {}, this.fingerprints[0]!)),
          ),
        ),
      ),
    );
  }

  /** Romeo opens a Mode Q tunnel to `to` (Mallory answers <proceed/> and acks, nothing more). */
  openModeQ(to: string): Promise<unknown> {
    const opening = this.romeo.modeq.open(to);
    this.background.push(opening.catch(noop));
    return opening;
  }

  // ─── helpers ────────────────────────────────────────────────────────────────────

  #newChecker() {
    const checker = {
      parser: new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER }),
      out: [] as Element[],
      error: undefined as Error | undefined,
    };
    checker.parser.on("stanza", (s) => checker.out.push(s));
    checker.parser.on("error", (e) => {
      checker.error = e;
    });
    return checker;
  }

  #reparse(wire: string): Element | undefined {
    const checker = this.#checker;
    checker.out.length = 0;
    checker.parser.write(Buffer.from(wire, "utf8"));
    const ok = !checker.error && checker.out.length === 1 ? checker.out[0] : undefined;
    // After a failure, start over with a fresh parser for the next stanza.
    if (!ok) this.#checker = this.#newChecker();
    return ok;
  }
}
