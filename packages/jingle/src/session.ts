/**
 * One Jingle session (XEP-0166), driven through its plug-ins:
 *
 *   initiator                                              responder
 *   session-initiate [description, transport, security] ─►  ack
 *                                                       ◄─  session-accept [..] (after the user agrees)
 *   ack ─►
 *   transport.connect() ═══ the transport opens (each side) ═══
 *   security.secure(stream) ═══ e.g. the TLS handshake ═══
 *   application.run(plaintext) ◄══════════════════════════►
 *   session-terminate <success/> ─►                       ◄─ ack
 *
 * States are XEP-0166 §6.1's (pending, active, ended); `phase` says how far the data
 * path got. A transport that cannot open is replaced by the next method with
 * transport-replace (initiator side, XEP-0166 §7.2.15; XEP-0260 §2.4). Any failure ends
 * the session with a reason (a {@link JingleReasonError} picks it), and the peer is told.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { type Element, randomId, StanzaError, XtlsError } from "@xtls/core";
import { JingleReasonError, SessionTerminatedError, TransportFailedError } from "./errors.js";
import {
  buildJingle,
  type Content,
  type Creator,
  type Jingle,
  type JingleAction,
  jingleError,
  namespaceOf,
  type Reason,
} from "./model.js";
import type {
  ApplicationHandle,
  ContentContext,
  SecuredStream,
  SecurityHandle,
  SecurityMethod,
  TransportHandle,
  TransportMethod,
} from "./plugins.js";

export type SessionState = "pending" | "active" | "ended";
export type SessionPhase = "negotiating" | "connecting" | "securing" | "established" | "ended";

export interface SessionEvents {
  state: [state: SessionState];
  phase: [phase: SessionPhase];
  /** The transport is open and, when negotiated, secured: the application starts. */
  established: [info: { transport: string; secured: boolean }];
  /** The session ended; the reason was sent (`local`) or received (`peer`). */
  terminated: [reason: Reason, by: "local" | "peer"];
  /**
   * Initiator: the peer refused the offered transport with `unsupported-transports`, so
   * the offer went out again, with a new sid and the next transport method (a fresh
   * session-initiate; docs/protocol/jingle.md#transport-fallback). `sid` is the new one.
   */
  reinitiated: [info: { previousSid: string; sid: string; transport: string }];
}

/** How the session reaches the network (see JingleManager). */
export interface SessionSignalling {
  readonly local: string;
  send(to: string, jingle: Element, signal?: AbortSignal): Promise<void>;
}

/** What the manager lends a session. */
export interface SessionHost {
  readonly signalling: SessionSignalling;
  /** Whether responder sessions may run without end-to-end security (the manager's opt-out). */
  readonly insecure: boolean;
  transportFor(namespace: string): TransportMethod | undefined;
  securityFor(namespace: string): SecurityMethod | undefined;
  forget(session: JingleSession): void;
  /** The session now goes by a new sid (a fresh session-initiate after `unsupported-transports`). */
  rekey(session: JingleSession, previousSid: string): void;
  readonly timeouts: { readonly acceptMs: number; readonly connectMs: number; readonly replaceMs: number };
}

/**
 * The one value that lets a session run without end-to-end security. Nothing else turns
 * the engine's refusal off (not `true`, not a misspelling): cleartext must be asked for
 * by name, in the code, where a reviewer sees it.
 */
export const INSECURE_OPT_OUT = "i-understand-this-is-cleartext";
export type InsecureOptOut = typeof INSECURE_OPT_OUT;

export interface InitiateOptions {
  readonly application: ApplicationHandle;
  /** In order of preference: the first is offered, the others replace it if it cannot open. */
  readonly transports: readonly TransportMethod[];
  /**
   * The security precondition. Required: without one `initiate` throws a TypeError,
   * unless `insecure` is given.
   */
  readonly security?: SecurityMethod;
  /**
   * The loudly named opt-out, for this session only: initiate without a security method,
   * or continue in the clear when the peer answers without `<security/>` (the latter only
   * for applications that allow it — never end-to-end XML streams). Default: refused.
   */
  readonly insecure?: InsecureOptOut;
  readonly contentName?: string;
  readonly signal?: AbortSignal;
}

export interface AcceptOptions {
  readonly application: ApplicationHandle;
  readonly signal?: AbortSignal;
}

interface Waiter {
  readonly actions: readonly JingleAction[];
  resolve(j: Jingle): void;
  reject(e: Error): void;
}

const SUCCESS: Reason = { condition: "success" };
/** Random, unguessable, an NMTOKEN (XEP-0166 §7.1: RFC 4086 randomness). */
export function newSessionId(): string {
  return randomId(12);
}
/** Tries of a session-initiate the peer answers with a `wait` error (back-off in between). */
const INITIATE_ATTEMPTS = 12;
/** How long a responder whose application finished waits for the initiator's terminate. */
const COMPLETION_GRACE_MS = 2000;
/**
 * How long a session whose peer terminated during the handshake waits for its own
 * security layer's verdict (which may be lingering so that the peer reads an in-tunnel
 * abort) before it ends with the peer's reason alone.
 */
const VERDICT_GRACE_MS = 2000;

export class JingleSession extends EventEmitter<SessionEvents> {
  #sid: string;
  readonly role: Creator;
  readonly local: string;
  readonly peer: string;
  readonly initiator: string;
  readonly responder: string;
  /** Resolves when the session ends with success; rejects with {@link SessionTerminatedError}. */
  readonly done: Promise<void>;
  #state: SessionState = "pending";
  #phase: SessionPhase = "negotiating";
  readonly #host: SessionHost;
  readonly #abort = new AbortController();
  #content: { creator: Creator; name: string };
  #app: ApplicationHandle | undefined;
  #transport: TransportHandle | undefined;
  #transportNamespace = "";
  readonly #connecting = new Map<TransportHandle, Promise<Duplex>>();
  #security: SecurityHandle | undefined;
  #secured: SecuredStream | undefined;
  /** Set while the security layer runs and the peer has already terminated. */
  #peerEndedWhileSecuring: { reason: Reason; timer: NodeJS.Timeout } | undefined;
  #waiters: Waiter[] = [];
  #early: Jingle[] = [];
  #replaceOutstanding = false;
  /** Initiator, pending: a peer's `unsupported-transports` leads to a fresh initiate. */
  #reofferPossible = false;
  /** Responder: our session-accept is on its way (the peer may act on it before its ack reaches us). */
  #acceptSent = false;
  #transportChanged: (() => void) | undefined;
  /** Whether this session may run without a security layer (the explicit opt-out). */
  #insecure = false;
  /** The offer, for a responder. */
  readonly offer: Jingle | undefined;
  #resolveDone!: () => void;
  #rejectDone!: (e: Error) => void;

  constructor(init: {
    host: SessionHost;
    sid: string;
    role: Creator;
    peer: string;
    contentName: string;
    offer?: Jingle;
  }) {
    super();
    this.#host = init.host;
    this.#sid = init.sid;
    this.role = init.role;
    this.local = init.host.signalling.local;
    this.peer = init.peer;
    this.initiator = init.role === "initiator" ? this.local : this.peer;
    this.responder = init.role === "initiator" ? this.peer : this.local;
    this.offer = init.offer;
    this.#content = { creator: "initiator", name: init.contentName };
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    this.done.catch(() => {});
  }

  /**
   * The session id. An initiator's changes once if the peer refuses the offered transport
   * with `unsupported-transports` and another method is left (the `reinitiated` event).
   */
  get sid(): string {
    return this.#sid;
  }

  get state(): SessionState {
    return this.#state;
  }

  get phase(): SessionPhase {
    return this.#phase;
  }

  /** Aborted when the session ends. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** The namespace of the application's description. */
  get applicationNamespace(): string | undefined {
    return this.#app?.namespace ?? namespaceOf(this.offer?.contents[0]?.description);
  }

  /** The namespace of the transport in use. */
  get transportNamespace(): string {
    return this.#transportNamespace;
  }

  /** The secured stream, once established (when a security precondition was negotiated). */
  get secured(): SecuredStream | undefined {
    return this.#secured;
  }

  // --- initiator -------------------------------------------------------------------

  /** @internal started by JingleManager.initiate */
  async runInitiator(options: InitiateOptions): Promise<void> {
    const remaining = [...options.transports];
    this.#insecure = options.insecure === INSECURE_OPT_OUT;
    try {
      this.#app = options.application;
      let accept: Jingle | undefined;
      for (let method = remaining.shift(); ; ) {
        if (!method) throw new JingleReasonError("unsupported-transports", "no transport method to offer");
        const ctx = this.#context();
        this.#useTransport(await method.offer(ctx), method);
        this.#security = options.security ? await options.security.offer(ctx) : undefined;
        // While another method is left, the peer's `unsupported-transports` is an answer,
        // not the end (docs/protocol/jingle.md#transport-fallback). Set before sending: the
        // answer may be read before the ack of our initiate.
        this.#reofferPossible = remaining.length > 0;
        const initiated = await this.#initiate({
          contents: [
            {
              ...this.#content,
              senders: this.#app.senders,
              description: this.#app.description(),
              transport: this.#transport!.element(),
              security: this.#security?.element(),
            },
          ],
        });
        if (!initiated) return;
        const answer = await this.#waitFor(
          ["session-accept", "session-terminate"],
          this.#host.timeouts.acceptMs,
          "the peer's answer",
        );
        this.#reofferPossible = false;
        if (answer.action === "session-accept") {
          accept = answer;
          break;
        }
        // Refused for its transport: a fresh session-initiate, new sid, next method.
        this.#transport?.close();
        method = remaining.shift();
        const previousSid = this.#sid;
        this.#sid = newSessionId();
        this.#host.rekey(this, previousSid);
        this.emit("reinitiated", {
          previousSid,
          sid: this.#sid,
          transport: method?.namespaces[0] ?? "",
        });
      }
      this.#setState("active");
      const content = accept.contents.find(
        (c) => c.creator === this.#content.creator && c.name === this.#content.name,
      );
      if (!content?.description || !content.transport) {
        throw new JingleReasonError(
          "incompatible-parameters",
          "the session-accept lacks our content, its description or its transport",
        );
      }
      await this.#app.accepted?.(content.description);
      await this.#transport!.accepted?.(content.transport);
      if (this.#security) {
        if (!content.security) {
          // Downgrade: the peer answered without the precondition (no XTLS, or someone
          // stripped it). Never continue in the clear unless the application allows it
          // and the caller explicitly asked for it (docs/protocol/mode-j.md#initiator-rules, rule 1).
          if (!(this.#app.plaintextAllowed && this.#insecure)) {
            throw new JingleReasonError(
              "security-error",
              "the peer accepted without <security/>: no end-to-end encryption was negotiated, so the session is not continued in the clear",
            );
          }
          this.#security = undefined;
        } else {
          await this.#security.accepted?.(content.security);
        }
      }
      await this.#runDataPath(remaining);
    } catch (error) {
      await this.#fail(error);
    }
  }

  // Sends the session-initiate. An IQ error means the peer refused it outright (no
  // Jingle, a tie-break it won, …): there is no session at the peer to terminate.
  async #initiate(rest: Partial<Jingle>): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#send("session-initiate", rest);
        return true;
      } catch (error) {
        // `wait` means "try again later" (RFC 6120 §8.3.2): the peer has too many offers
        // pending (a burst of file transfers, say). Back off and retry a few times.
        if (
          error instanceof StanzaError &&
          error.type === "wait" &&
          attempt < INITIATE_ATTEMPTS &&
          !this.#isEnded()
        ) {
          await new Promise((r) => setTimeout(r, 100 * attempt + Math.random() * 100 * attempt));
          if (this.#isEnded()) return false;
          continue;
        }
        return this.#refused(error);
      }
    }
  }

  // An IQ error to our session-initiate: the peer refused it outright (no Jingle, a
  // tie-break it won, …); there is no session at the peer to terminate.
  #refused(error: unknown): boolean {
    if (!(error instanceof StanzaError)) throw error;
    const tieBreak = error.condition === "conflict" && error.appCondition?.name === "tie-break";
    const reason: Reason = tieBreak
      ? {
          condition: "alternative-session",
          text: "the peer's simultaneous session-initiate won the tie-break",
        }
      : { condition: "general-error", text: `the peer refused the session: ${error.message}` };
    this.#end(reason, "peer", error);
    return false;
  }

  // --- responder -------------------------------------------------------------------

  /**
   * Accepts the offered session (responder): takes the offered transport and security,
   * starts opening the transport, sends session-accept, then runs the application.
   * Resolves once the session-accept was acknowledged; follow `done` for the rest.
   */
  async accept(options: AcceptOptions): Promise<void> {
    if (this.role !== "responder" || this.#state !== "pending") {
      throw new XtlsError("jingle-bad-state", `accept() on a ${this.role} session that is ${this.#state}`);
    }
    const offered = this.offer!.contents[0]!;
    const ctx = this.#context();
    let accepted = false;
    try {
      this.#app = options.application;
      const method = this.#host.transportFor(namespaceOf(offered.transport) ?? "");
      if (!method || !offered.transport)
        throw new JingleReasonError("unsupported-transports", "no supported transport was offered");
      this.#useTransport(await method.accept(ctx, offered.transport), method);
      const securityMethod = offered.security
        ? this.#host.securityFor(namespaceOf(offered.security) ?? "")
        : undefined;
      this.#insecure = this.#host.insecure;
      if (!securityMethod && !this.#insecure) throw noSecurityOffered();
      this.#security =
        securityMethod && offered.security ? await securityMethod.accept(ctx, offered.security) : undefined;
      // The accept is written first (a transport's own first move, e.g. S5B's
      // transport-info, must not overtake it), and the transport starts right behind it,
      // before the ack: ready for the peer's first move (an IBB <open/>), which can only
      // follow the accept.
      this.#acceptSent = true;
      const accepting = this.#send("session-accept", {
        responder: this.local,
        contents: [
          {
            ...this.#content,
            senders: offered.senders,
            description: this.#app.description(),
            transport: this.#transport!.element(),
            security: this.#security?.element(),
          },
        ],
      });
      const connecting = this.#connect(this.#transport!);
      await accepting;
      accepted = true;
      this.#setState("active");
      void connecting.catch(() => {});
      void this.#runDataPath([]).catch((e) => this.#fail(e));
    } catch (error) {
      await this.#fail(error);
      if (!accepted) throw error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Declines the offered session (responder) with `decline` or another reason. */
  async decline(reason: Reason = { condition: "decline" }): Promise<void> {
    await this.terminate(reason);
  }

  // --- common ----------------------------------------------------------------------

  /** Ends the session now and tells the peer. */
  async terminate(reason: Reason = SUCCESS): Promise<void> {
    if (this.#state === "ended") return;
    this.#end(reason, "local", undefined, false);
    // The reason goes out before the data path is torn down, so the peer learns why
    // before it sees its transport break (same XMPP link: stanzas keep their order).
    const sent = this.#host.signalling.send(
      this.peer,
      buildJingle({ action: "session-terminate", sid: this.sid, contents: [], reason }),
    );
    this.#teardown();
    try {
      await sent;
    } catch {
      // The peer is gone or already forgot the session (unknown-session): nothing to do.
    }
  }

  async #runDataPath(remaining: TransportMethod[]): Promise<void> {
    this.#setPhase("connecting");
    const stream = await this.#establishTransport(remaining);
    let secured: SecuredStream | undefined;
    // The engine invariant: no application byte without a security layer that was
    // established and verified the peer, unless this session was opted out by name.
    // Threat: a peer or a server offering or answering without <security/> to get the
    // application (an end-to-end XML stream) to run in the clear.
    if (!this.#security && !this.#insecure) {
      stream.destroy();
      throw noSecurityOffered();
    }
    if (this.#security) {
      this.#setPhase("securing");
      let failure: unknown;
      try {
        secured = await this.#security.secure(stream);
      } catch (error) {
        failure = error;
      }
      const peerEnded = this.#peerEndedWhileSecuring;
      if (peerEnded) {
        // The peer ended the session while we were still securing it. Whatever our own
        // security layer concluded is the cause of the end: a verdict such as a pinned
        // peer's CHANGED key must reach the user even when the peer's terminate (over
        // XMPP) overtook it (our side lingers after telling the peer inside the tunnel).
        this.#peerEndedWhileSecuring = undefined;
        clearTimeout(peerEnded.timer);
        secured?.destroy();
        stream.destroy();
        this.#end(peerEnded.reason, "peer", failure);
        return;
      }
      if (failure !== undefined || !secured) {
        stream.destroy();
        if (failure instanceof JingleReasonError) throw failure;
        throw new JingleReasonError("security-error", (failure as Error)?.message ?? String(failure), {
          cause: failure,
        });
      }
      this.#secured = secured;
    }
    if (this.#state === "ended") {
      secured?.destroy();
      stream.destroy();
      return;
    }
    this.#setPhase("established");
    this.emit("established", { transport: this.#transportNamespace, secured: secured !== undefined });
    await this.#app!.run(secured?.stream ?? stream, secured, this.#context());
    if (this.#isEnded()) return;
    // Teardown order (docs/protocol/mode-j.md#teardown-order): the application closed its stream; then TLS
    // close_notify, then the transport, then session-terminate <success/>.
    await secured?.close().catch(() => {});
    if (this.#isEnded()) return;
    if (this.role === "responder") {
      // A completed session is ended by the initiator, so that both sides do not send
      // session-terminate at once; give its terminate a moment to arrive.
      await this.#endedWithin(COMPLETION_GRACE_MS);
      if (this.#isEnded()) return;
    }
    await this.terminate(SUCCESS);
  }

  #endedWithin(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.once("terminated", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #establishTransport(remaining: TransportMethod[]): Promise<Duplex> {
    for (;;) {
      const handle = this.#transport!;
      try {
        const stream = await this.#connect(handle);
        if (handle !== this.#transport) {
          stream.destroy();
          continue;
        }
        return stream;
      } catch (error) {
        if (this.#state === "ended") throw error;
        if (handle !== this.#transport) continue; // replaced meanwhile: use the new one
        // Any transport, ours or a third party's, falls back the same way: a failure that
        // is not a chosen reason (a plain Error from connect()) counts as "could not open".
        const failed =
          error instanceof TransportFailedError
            ? error
            : error instanceof JingleReasonError
              ? undefined
              : new TransportFailedError(
                  `the transport could not open: ${(error as Error)?.message ?? error}`,
                  {
                    cause: error,
                  },
                );
        if (!failed?.fallback) throw error;
        if (this.role === "initiator") await this.#replaceTransport(remaining, failed);
        else await this.#awaitReplacement(failed);
      }
    }
  }

  #connect(handle: TransportHandle): Promise<Duplex> {
    let p = this.#connecting.get(handle);
    if (!p) {
      const ms = this.#host.timeouts.connectMs;
      p = new Promise<Duplex>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new TransportFailedError(`the transport did not open within ${ms} ms`, {
                condition: "timeout",
              }),
            ),
          ms,
        );
        timer.unref();
        handle.connect().then(
          (s) => {
            clearTimeout(timer);
            resolve(s);
          },
          (e) => {
            clearTimeout(timer);
            reject(e);
          },
        );
      });
      p.catch(() => {});
      this.#connecting.set(handle, p);
    }
    return p;
  }

  // Initiator: XEP-0166 §7.2.15 transport-replace with the next method.
  async #replaceTransport(remaining: TransportMethod[], cause: TransportFailedError): Promise<void> {
    for (;;) {
      const method = remaining.shift();
      if (!method) {
        throw new JingleReasonError("failed-transport", `every transport failed (last: ${cause.message})`, {
          cause,
        });
      }
      const handle = await method.offer(this.#context());
      this.#replaceOutstanding = true;
      try {
        await this.#send("transport-replace", {
          contents: [{ ...this.#content, transport: handle.element() }],
        });
        const answer = await this.#waitFor(
          ["transport-accept", "transport-reject"],
          this.#host.timeouts.replaceMs,
          "the answer to our transport-replace",
        );
        if (answer.action === "transport-reject") {
          handle.close();
          continue;
        }
        const content = answer.contents.find((c) => c.name === this.#content.name);
        if (content?.transport) await handle.accepted?.(content.transport);
        this.#transport?.close();
        this.#useTransport(handle, method);
        return;
      } finally {
        this.#replaceOutstanding = false;
      }
    }
  }

  // Responder: the initiator decides the fallback; wait for its transport-replace.
  async #awaitReplacement(cause: TransportFailedError): Promise<void> {
    const current = this.#transport;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(cause), this.#host.timeouts.replaceMs);
      timer.unref();
      this.#transportChanged = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#abort.signal.addEventListener("abort", () => reject(cause), { once: true });
      if (this.#transport !== current) this.#transportChanged();
    });
  }

  #useTransport(handle: TransportHandle, method: TransportMethod): void {
    this.#transport = handle;
    this.#transportNamespace = method.namespaces[0] ?? namespaceOf(handle.element()) ?? "";
  }

  /**
   * An incoming Jingle action for this session (already parsed; `from` is the peer).
   * Resolves to acknowledge it; throws a StanzaError for an IQ error.
   */
  async receive(j: Jingle): Promise<void> {
    if (this.#state === "ended") throw jingleError("unknown-session");
    switch (j.action) {
      case "session-accept":
        if (this.role !== "initiator" || this.#state !== "pending")
          throw jingleError("out-of-order", "not expecting a session-accept");
        this.#setState("active");
        this.#deliver(j);
        return;
      case "session-terminate": {
        const reason = j.reason ?? SUCCESS;
        if (
          this.#reofferPossible &&
          this.#state === "pending" &&
          reason.condition === "unsupported-transports"
        ) {
          // The peer refused our transport: runInitiator offers the next one.
          this.#reofferPossible = false;
          this.#deliver(j);
          return;
        }
        if (this.#phase === "securing" && !this.#peerEndedWhileSecuring) {
          // Our security layer decides how this ends (see #runDataPath), within a grace.
          const timer = setTimeout(() => {
            this.#peerEndedWhileSecuring = undefined;
            this.#end(reason, "peer");
          }, VERDICT_GRACE_MS);
          timer.unref();
          this.#peerEndedWhileSecuring = { reason, timer };
          return;
        }
        this.#end(reason, "peer");
        return;
      }
      case "session-info":
        if (!j.info) return; // an empty session-info is a ping (XEP-0166 §7.2.13)
        if (!(await this.#app?.info?.(j.info))) throw jingleError("unsupported-info");
        return;
      case "description-info":
        if (j.info && !(await this.#app?.info?.(j.info))) throw jingleError("unsupported-info");
        return;
      case "security-info": {
        const payload = this.#ourContent(j)?.security;
        if (payload && this.#security?.info) await this.#security.info(payload);
        return;
      }
      case "transport-info": {
        const payload = this.#ourContent(j)?.transport;
        if (!payload)
          throw new StanzaError("bad-request", {
            text: "transport-info without a transport for our content",
          });
        if (this.#state === "pending" && this.role === "responder" && !this.#transport) {
          throw jingleError("out-of-order", "transport-info before the session was accepted");
        }
        await this.#transport?.info?.(payload);
        return;
      }
      case "transport-replace":
        return this.#onTransportReplace(j);
      case "transport-accept":
      case "transport-reject":
        if (!this.#replaceOutstanding) throw jingleError("out-of-order", `unexpected ${j.action}`);
        this.#deliver(j);
        return;
      case "content-remove":
        // Our only content removed: nothing is left, the session ends (XEP-0166 §7.2.7).
        this.#end(j.reason ?? { condition: "cancel" }, "peer");
        return;
      case "content-modify":
        return;
      case "content-add":
        // We carry one content per session; refuse additions politely after the ack.
        setImmediate(() => {
          void this.#host.signalling
            .send(
              this.peer,
              buildJingle({
                action: "content-reject",
                sid: this.sid,
                contents: j.contents.map((c) => ({ creator: c.creator, name: c.name })),
                reason: { condition: "unsupported-applications" },
              }),
            )
            .catch(() => {});
        });
        return;
      case "content-accept":
      case "content-reject":
        throw jingleError("out-of-order", `we never added a content (${j.action})`);
      case "session-initiate":
        throw jingleError("out-of-order", "the session exists already");
    }
  }

  async #onTransportReplace(j: Jingle): Promise<void> {
    const offered = this.#ourContent(j)?.transport;
    if (!offered)
      throw new StanzaError("bad-request", { text: "transport-replace without a transport for our content" });
    // Honoured only while the transport is being opened: never before the session was
    // accepted, never once the security layer runs over the transport or the application
    // does (docs/protocol/jingle.md#transport-fallback). Threat: a peer (or a server
    // spoofing one) swapping the carrier under a running TLS session or before consent.
    const accepted = this.#state === "active" || (this.#state === "pending" && this.#acceptSent);
    if (!accepted || (this.#phase !== "negotiating" && this.#phase !== "connecting")) {
      throw jingleError(
        "out-of-order",
        "transport-replace is only taken while the transport is being opened",
      );
    }
    if (this.#replaceOutstanding) {
      // Both sent transport-replace at once: the initiator's wins (XEP-0166 §7.2.16).
      if (this.role === "initiator")
        throw jingleError("tie-break", "simultaneous transport-replace; the initiator's wins");
    }
    const method = this.#host.transportFor(namespaceOf(offered) ?? "");
    // Answer after the ack, in order.
    setImmediate(() => void this.#answerReplace(method, offered));
  }

  async #answerReplace(method: TransportMethod | undefined, offered: Element): Promise<void> {
    const contents = (transport?: Element): Content[] => [{ ...this.#content, transport }];
    if (!method || this.#state === "ended") {
      await this.#send("transport-reject", { contents: contents(offered) }).catch(() => {});
      return;
    }
    try {
      const handle = await method.accept(this.#context(), offered);
      const old = this.#transport;
      this.#useTransport(handle, method);
      old?.close();
      const connecting = this.#connect(handle);
      void connecting.catch(() => {});
      await this.#send("transport-accept", { contents: contents(handle.element()) });
      this.#transportChanged?.();
    } catch (error) {
      await this.#send("transport-reject", { contents: contents(offered) }).catch(() => {});
      await this.#fail(error);
    }
  }

  #ourContent(j: Jingle): Content | undefined {
    return (
      j.contents.find((c) => c.name === this.#content.name && c.creator === this.#content.creator) ??
      j.contents[0]
    );
  }

  #context(): ContentContext {
    return {
      sid: this.sid,
      role: this.role,
      local: this.local,
      peer: this.peer,
      initiator: this.initiator,
      responder: this.responder,
      content: this.#content,
      signal: this.#abort.signal,
      sendInfo: async (action, payload) => {
        const slot =
          action === "security-info"
            ? "security"
            : action === "description-info"
              ? "description"
              : "transport";
        await this.#send(action, { contents: [{ ...this.#content, [slot]: payload }] });
      },
    };
  }

  async #send(action: JingleAction, rest: Partial<Jingle>): Promise<void> {
    if (this.#state === "ended")
      throw new SessionTerminatedError({ condition: "cancel", text: "the session has ended" }, "local");
    const el = buildJingle({ action, sid: this.sid, contents: [], initiator: this.initiator, ...rest });
    await this.#host.signalling.send(this.peer, el, this.#abort.signal);
  }

  #waitFor(actions: readonly JingleAction[], timeoutMs: number, what: string): Promise<Jingle> {
    const early = this.#early.findIndex((j) => actions.includes(j.action));
    if (early >= 0) return Promise.resolve(this.#early.splice(early, 1)[0]!);
    return new Promise<Jingle>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new JingleReasonError("timeout", `${what} did not come within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const waiter: Waiter = {
        actions,
        resolve: (j) => {
          clearTimeout(timer);
          resolve(j);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  // An awaited answer may arrive before its waiter exists: the peer's session-accept
  // can be read in the same turn as the ack of our session-initiate, before the
  // `await` on that ack resumes. It is kept for the waiter that comes.
  #deliver(j: Jingle): void {
    const waiter = this.#waiters.find((w) => w.actions.includes(j.action));
    if (!waiter) {
      this.#early.push(j);
      return;
    }
    this.#waiters = this.#waiters.filter((w) => w !== waiter);
    waiter.resolve(j);
  }

  async #fail(error: unknown): Promise<void> {
    if (this.#state === "ended") return;
    const text = (error as Error)?.message ?? String(error);
    const reason: Reason =
      error instanceof JingleReasonError || error instanceof SessionTerminatedError
        ? error.reason
        : tlsRejected(error)
          ? { condition: "security-error", text }
          : { condition: "failed-application", text };
    this.#end(reason, "local", error, false);
    const sent = this.#host.signalling.send(
      this.peer,
      buildJingle({ action: "session-terminate", sid: this.sid, contents: [], reason }),
    );
    this.#teardown();
    try {
      await sent;
    } catch {
      // best effort: the peer may be gone
    }
  }

  #end(reason: Reason, by: "local" | "peer", cause?: unknown, teardown = true): void {
    if (this.#state === "ended") return;
    this.#setState("ended");
    this.#setPhase("ended");
    this.#abort.abort(new SessionTerminatedError(reason, by, cause));
    const error = new SessionTerminatedError(reason, by, cause);
    for (const w of this.#waiters) w.reject(error);
    this.#waiters = [];
    if (teardown) this.#teardown();
    this.#host.forget(this);
    this.emit("terminated", reason, by);
    try {
      this.#app?.ended?.(reason.condition === "success" ? undefined : error);
    } catch {
      // an application's bookkeeping must not keep the session from ending
    }
    if (reason.condition === "success") this.#resolveDone();
    else this.#rejectDone(error);
  }

  #teardown(): void {
    this.#secured?.destroy();
    this.#transport?.close();
  }

  // A method, so TypeScript does not narrow the state across awaits.
  #isEnded(): boolean {
    return this.#state === "ended";
  }

  #setState(state: SessionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit("state", state);
  }

  #setPhase(phase: SessionPhase): void {
    if (this.#phase === phase) return;
    this.#phase = phase;
    this.emit("phase", phase);
  }
}

/** The refusal of a session that would carry application data without end-to-end security. */
export function noSecurityOffered(): JingleReasonError {
  return new JingleReasonError("security-error", NO_SECURITY_TEXT);
}

/** The `<text/>` of that refusal (also what the `refused` event carries). */
export const NO_SECURITY_TEXT = "no end-to-end security was offered";

/**
 * Whether a failure came from TLS refusing what it received (OpenSSL's ERR_SSL_* codes,
 * e.g. a record whose authentication tag does not verify): a tampered or forged byte on
 * the path, which ends the session with `security-error`, not as an application failure.
 */
function tlsRejected(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("ERR_SSL_")) return true;
  }
  return false;
}
