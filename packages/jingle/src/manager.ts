/**
 * The XEP-0166 session manager: sessions keyed by (peer full JID, sid), never by sid
 * alone (so a second peer reusing a sid cannot touch someone else's session), and the
 * correct default answer to every action. It has no network code: it reaches the peer
 * through a {@link JingleSignalling} port and is fed incoming actions with
 * {@link JingleManager.receive} — tests drive it with plain objects, and
 * {@link bindJingle} connects it to an `XmppLink`.
 */
import { EventEmitter } from "node:events";
import {
  bareJid,
  compareJids,
  compareOctets,
  type Element,
  NS,
  normalizeJid,
  StanzaError,
  sameBareJid,
  tryParseJid,
  type Unsubscribe,
  type XmppLink,
  xml,
} from "@xtls/core";
import { type Jingle, jingleError, namespaceOf, parseJingle, type Reason } from "./model.js";
import type { ApplicationFormat, SecurityMethod, TransportMethod } from "./plugins.js";
import {
  INSECURE_OPT_OUT,
  type InitiateOptions,
  type InsecureOptOut,
  JingleSession,
  NO_SECURITY_TEXT,
  newSessionId,
  type SessionHost,
  type SessionSignalling,
} from "./session.js";

/** How the manager reaches the network. */
export interface JingleSignalling {
  /** Our full JID. */
  readonly jid: string;
  /** Sends `<iq type='set'><jingle/></iq>` to `to`; resolves on the ack, rejects with a StanzaError. */
  send(to: string, jingle: Element, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
}

export interface JingleManagerOptions {
  readonly applications?: readonly ApplicationFormat[];
  readonly transports?: readonly TransportMethod[];
  readonly security?: readonly SecurityMethod[];
  /** How long an initiator waits for session-accept. Default 120 s (a person may be asked). */
  readonly acceptTimeoutMs?: number;
  /** How long a transport may take to open. Default 30 s. */
  readonly connectTimeoutMs?: number;
  /** How long to wait for the answer to a transport-replace (or for one). Default 30 s. */
  readonly replaceTimeoutMs?: number;
  /** Timeout of each Jingle IQ. Default 30 s. */
  readonly requestTimeoutMs?: number;
  /**
   * Sessions offered to us and not yet accepted or ended, per peer bare JID. More get
   * `resource-constraint` (wait). Default 8. Threat: a flood of session-initiates from one
   * account holding state (and a pending prompt each) until the accept timeout.
   */
  readonly maxPendingPerPeer?: number;
  /** The same, over all peers. Default 64. */
  readonly maxPending?: number;
  /**
   * The loudly named opt-out: take offered sessions that carry no `<security/>` (the
   * application then runs over the raw transport, in the clear). Without it — the
   * default — such an offer is terminated with `security-error` before any `incoming`
   * event, and a `refused` event says so. For tests and trusted links only.
   */
  readonly insecure?: InsecureOptOut;
}

/** A session offer the manager ended by itself, before any `incoming` event. */
export interface RefusedSession {
  readonly peer: string;
  readonly sid: string;
  /** The reason sent in the session-terminate (e.g. `security-error`, "no end-to-end security was offered"). */
  readonly reason: Reason;
}

/** An offered session, for the application to accept or decline. */
export interface IncomingSession {
  readonly session: JingleSession;
  readonly peer: string;
  /** The description offered (its namespace says which application). */
  readonly description: Element;
  /** The application format registered for it, if any. */
  readonly application: ApplicationFormat | undefined;
  /** Whether the initiator asked for a security precondition. */
  readonly securityOffered: boolean;
}

export interface JingleManagerEvents {
  incoming: [incoming: IncomingSession];
  /**
   * An offered session was ended by the manager itself (no end-to-end security offered,
   * an unsupported security method, application or transport, nobody listening): for
   * logging. The peer was told; nothing else happened.
   */
  refused: [refused: RefusedSession];
}

export class JingleManager extends EventEmitter<JingleManagerEvents> {
  readonly #signalling: JingleSignalling;
  readonly #sessions = new Map<string, JingleSession>();
  /** Responder sessions still pending (offered, not answered), per bare JID and in all. */
  readonly #pendingByPeer = new Map<string, number>();
  #pendingTotal = 0;
  /** Our own offers not answered yet, per peer (for the tie-break). */
  readonly #offeredTo = new Map<string, Set<JingleSession>>();
  readonly #applications: ApplicationFormat[];
  readonly #transports: TransportMethod[];
  readonly #security: SecurityMethod[];
  readonly #host: SessionHost;
  readonly #requestTimeoutMs: number;
  readonly #maxPendingPerPeer: number;
  readonly #maxPending: number;

  constructor(signalling: JingleSignalling, options: JingleManagerOptions = {}) {
    super();
    this.#signalling = signalling;
    this.#applications = [...(options.applications ?? [])];
    this.#transports = [...(options.transports ?? [])];
    this.#security = [...(options.security ?? [])];
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#maxPendingPerPeer = options.maxPendingPerPeer ?? 8;
    this.#maxPending = options.maxPending ?? 64;
    if (options.insecure !== undefined && options.insecure !== INSECURE_OPT_OUT) {
      throw new TypeError(`JingleManager: insecure must be exactly "${INSECURE_OPT_OUT}" or absent`);
    }
    const sessionSignalling: SessionSignalling = {
      get local() {
        return signalling.jid;
      },
      send: (to, jingle, signal) =>
        signalling.send(to, jingle, { signal, timeoutMs: this.#requestTimeoutMs }),
    };
    this.#host = {
      signalling: sessionSignalling,
      insecure: options.insecure === INSECURE_OPT_OUT,
      transportFor: (ns) =>
        this.#transports.find((t) => t.namespaces.some((n) => namespaceOf(xml("x", { xmlns: n })) === ns)),
      securityFor: (ns) =>
        this.#security.find((s) => s.namespaces.some((n) => namespaceOf(xml("x", { xmlns: n })) === ns)),
      forget: (session) => {
        const key = sessionKey(session.peer, session.sid);
        if (this.#sessions.get(key) === session) this.#sessions.delete(key);
      },
      rekey: (session, previousSid) => {
        const old = sessionKey(session.peer, previousSid);
        if (this.#sessions.get(old) === session) this.#sessions.delete(old);
        this.#sessions.set(sessionKey(session.peer, session.sid), session);
      },
      timeouts: {
        acceptMs: options.acceptTimeoutMs ?? 120_000,
        connectMs: options.connectTimeoutMs ?? 30_000,
        replaceMs: options.replaceTimeoutMs ?? 30_000,
      },
    };
  }

  /** Disco features of everything registered (plus Jingle itself). */
  features(): string[] {
    return [
      ...new Set([
        NS.JINGLE,
        ...[...this.#applications, ...this.#transports, ...this.#security].map((p) => p.namespaces[0]!),
        ...this.#applications.flatMap((a) => a.features ?? []),
      ]),
    ];
  }

  /** The live session with `peer` and `sid`, if any. */
  session(peer: string, sid: string): JingleSession | undefined {
    return this.#sessions.get(sessionKey(peer, sid));
  }

  get sessions(): JingleSession[] {
    return [...this.#sessions.values()];
  }

  /**
   * Starts a session with `peer` (a full JID). Returns at once; follow the session's
   * events, or `session.done`.
   */
  initiate(peer: string, options: InitiateOptions): JingleSession {
    if (options.insecure !== undefined && options.insecure !== INSECURE_OPT_OUT) {
      throw new TypeError(`initiate: insecure must be exactly "${INSECURE_OPT_OUT}" or absent`);
    }
    if (!options.security && options.insecure !== INSECURE_OPT_OUT) {
      // The engine invariant, initiator side: no session without end-to-end security
      // unless the caller opted out by name.
      throw new TypeError(
        `initiate: a security method is required (no end-to-end security otherwise); to send in the clear pass insecure: "${INSECURE_OPT_OUT}"`,
      );
    }
    const normalized = normalizeJid(peer);
    const session = new JingleSession({
      host: this.#host,
      sid: newSid(),
      role: "initiator",
      peer: normalized,
      contentName: options.contentName ?? contentNameFor(options.application.namespace),
    });
    this.#sessions.set(sessionKey(normalized, session.sid), session);
    const offers = this.#offeredTo.get(normalized) ?? new Set<JingleSession>();
    this.#offeredTo.set(normalized, offers);
    offers.add(session);
    whilePending(session, () => {
      offers.delete(session);
      if (offers.size === 0 && this.#offeredTo.get(normalized) === offers) this.#offeredTo.delete(normalized);
    });
    options.signal?.addEventListener("abort", () => void session.terminate({ condition: "cancel" }), {
      once: true,
    });
    void session.runInitiator(options);
    return session;
  }

  /**
   * An incoming `<jingle/>` from `from`. Resolves to acknowledge it (empty IQ result);
   * throws the StanzaError to answer with (XEP-0166 §6.3, §7.2; docs/protocol/jingle.md).
   */
  async receive(from: string, el: Element): Promise<void> {
    const j = parseJingle(el);
    const peer = tryParseJid(from)?.full;
    if (!peer) throw new StanzaError("jid-malformed");
    const session = this.#sessions.get(sessionKey(peer, j.sid));
    if (j.action === "session-initiate") {
      if (session) throw jingleError("out-of-order", "a session with this sid exists already");
      this.#checkInitiate(peer, j);
      this.#checkPendingLimits(peer);
      this.#tieBreak(peer, j);
      this.#incoming(peer, j);
      return;
    }
    if (!session) {
      // A terminate for a session we forgot: acknowledge it anyway, to stop retries
      // (docs/protocol/jingle.md#terminate-for-an-unknown-session). Anything else: unknown-session.
      if (j.action === "session-terminate") return;
      throw jingleError("unknown-session");
    }
    await session.receive(j);
  }

  // Counters, not a scan of every session: with 10k live sessions a scan per offer made
  // accepting sessions quadratic (scale benchmark).
  #checkPendingLimits(peer: string): void {
    const fromPeer = this.#pendingByPeer.get(bareJid(peer)) ?? 0;
    if (fromPeer >= this.#maxPendingPerPeer || this.#pendingTotal >= this.#maxPending) {
      throw new StanzaError("resource-constraint", {
        type: "wait",
        text:
          fromPeer >= this.#maxPendingPerPeer
            ? "too many sessions offered by you are waiting for an answer"
            : "too many sessions are waiting for an answer",
      });
    }
  }

  #checkInitiate(peer: string, j: Jingle): void {
    if (!j.contents.some((c) => (c.disposition ?? "session") === "session")) {
      throw new StanzaError("bad-request", {
        text: "a session-initiate needs at least one content with disposition 'session'",
      });
    }
    // 'initiator' other than the sender is a redirect we do not trust; across bare JIDs
    // it is refused (XEP-0166 §7.1; docs/protocol/jingle.md#initiator-and-responder-attributes).
    if (j.initiator && !sameBareJid(j.initiator, peer)) {
      throw new StanzaError("bad-request", { text: "the initiator attribute names another user" });
    }
  }

  // XEP-0166 §7.2.16: both sent session-initiate for the same application at once.
  // The lower sid (i;octet) wins; on equal sids, the initiate of the lower JID.
  #tieBreak(peer: string, j: Jingle): void {
    const theirNs = namespaceOf(j.contents[0]?.description);
    for (const ours of this.#offeredTo.get(peer) ?? []) {
      if (ours.state !== "pending" || ours.applicationNamespace !== theirNs) continue;
      const bySid = compareOctets(ours.sid, j.sid);
      const oursWins = bySid < 0 || (bySid === 0 && compareJids(this.#signalling.jid, peer) < 0);
      if (oursWins) throw jingleError("tie-break", "simultaneous session-initiate; ours has the lower sid");
      // Theirs wins: ours will be refused with tie-break by the peer.
    }
  }

  #incoming(peer: string, j: Jingle): void {
    const content = j.contents.find((c) => (c.disposition ?? "session") === "session")!;
    const session = new JingleSession({
      host: this.#host,
      sid: j.sid,
      role: "responder",
      peer,
      contentName: content.name,
      offer: { ...j, contents: [content] },
    });
    this.#sessions.set(sessionKey(peer, j.sid), session);
    this.#countPending(bareJid(peer), session);
    const ns = namespaceOf(content.description);
    const application = this.#applications.find((a) =>
      a.namespaces.some((n) => namespaceOf(xml("x", { xmlns: n })) === ns),
    );
    // Unsupported applications or transports are acknowledged, then terminated (XEP-0166 §6.3.3).
    setImmediate(() => {
      const refuse = (reason: Reason) => {
        void session.terminate(reason);
        this.emit("refused", { peer, sid: j.sid, reason });
      };
      // The engine invariant, responder side, before anything else happens for this
      // offer (no prompt, no transport, no event): a session without an end-to-end
      // security method we run is refused. Threat: a peer or a compromised server
      // offering a session without <security/> to get an application to run in the clear.
      if (!this.#host.insecure) {
        if (!content.security) {
          refuse({ condition: "security-error", text: NO_SECURITY_TEXT });
          return;
        }
        if (!this.#host.securityFor(namespaceOf(content.security) ?? "")) {
          refuse({
            condition: "security-error",
            text: "the offered end-to-end security method is not supported here",
          });
          return;
        }
      }
      if (!content.description || !application) {
        refuse({ condition: "unsupported-applications" });
        return;
      }
      if (!content.transport || !this.#host.transportFor(namespaceOf(content.transport) ?? "")) {
        refuse({ condition: "unsupported-transports" });
        return;
      }
      if (this.listenerCount("incoming") === 0) {
        refuse({ condition: "decline", text: "nobody is taking sessions here" });
        return;
      }
      this.emit("incoming", {
        session,
        peer,
        description: content.description,
        application,
        securityOffered: content.security !== undefined,
      });
    });
  }

  /** Counts `session` as pending until it leaves that state (accepted or ended). */
  #countPending(bare: string, session: JingleSession): void {
    this.#pendingTotal++;
    this.#pendingByPeer.set(bare, (this.#pendingByPeer.get(bare) ?? 0) + 1);
    whilePending(session, () => {
      this.#pendingTotal--;
      const left = (this.#pendingByPeer.get(bare) ?? 1) - 1;
      if (left > 0) this.#pendingByPeer.set(bare, left);
      else this.#pendingByPeer.delete(bare);
    });
  }

  /** Terminates every session (e.g. when going offline). */
  async terminateAll(reason = { condition: "gone" as const }): Promise<void> {
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.terminate(reason)));
  }
}

/** Calls `settled` once, when `session` leaves the pending state (accepted or ended). */
function whilePending(session: JingleSession, settled: () => void): void {
  const onState = (state: string) => {
    if (state === "pending") return;
    session.off("state", onState);
    settled();
  };
  session.on("state", onState);
}

function sessionKey(peer: string, sid: string): string {
  return `${normalizeJid(peer)}\n${sid}`;
}

/** Random, unguessable, an NMTOKEN (XEP-0166 §7.1: RFC 4086 randomness). */
export function newSid(): string {
  return newSessionId();
}

function contentNameFor(ns: string): string {
  const last = ns.split(":").slice(-2, -1)[0];
  return last && /^[a-z-]+$/.test(last) ? last : "content";
}

/**
 * Connects a manager to an `XmppLink`: incoming `<jingle/>` IQ-sets go to
 * `manager.receive`, and the manager's features are advertised.
 */
export function bindJingle(link: XmppLink, manager: JingleManager): Unsubscribe {
  const unsubscribe = [
    link.handle("set", NS.JINGLE, "jingle", (iq) => manager.receive(iq.from, iq.payload)),
    ...manager.features().map((f) => link.disco.addFeature(f)),
    link.onClose(() => void manager.terminateAll()),
  ];
  return () => {
    for (const u of unsubscribe) u();
  };
}

/** A {@link JingleSignalling} over an `XmppLink`. */
export function linkSignalling(link: XmppLink): JingleSignalling {
  return {
    get jid() {
      return link.jid;
    },
    send: async (to, jingle, options) => {
      await link.request(xml("iq", { type: "set", to }, jingle), options);
    },
  };
}

/** A manager on an `XmppLink`, bound and advertised. */
export function createJingleManager(link: XmppLink, options?: JingleManagerOptions): JingleManager {
  const manager = new JingleManager(linkSignalling(link), options);
  bindJingle(link, manager);
  return manager;
}
