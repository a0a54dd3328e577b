/**
 * The TLS bytepump: TLS 1.3 over any `Duplex` carrier (an IBB stream, a SOCKS5 socket,
 * Mode Q data IQs), with mutual certificate authentication.
 *
 * The initiator is the TLS client and the responder the TLS server, whoever opened
 * the carrier. The server always requests the client's certificate. Both sides verify
 * the peer before the channel is handed out — by certificate ({@link verifyPeerCertificate}:
 * pinned, trusted, CA-issued, or TOFU by explicit policy), or, for a first contact, by
 * `srp` or `sas` run inside the tunnel (README "In-tunnel authentication") — so not a
 * byte of application data is read from or written to an unauthenticated peer.
 *
 * Node 20 pitfalls handled here, all measured (docs/protocol/tls.md#node-20-pitfalls):
 * - `getPeerCertificate(true)` is called once and its DER cached; a second
 *   `getPeerX509Certificate()` can return undefined.
 * - A resumed client sees no peer certificate: the session cache keeps the
 *   certificate verified in the full handshake next to the ticket.
 * - A bare server `TLSSocket` swallows fatal errors; the responder side uses a
 *   `tls.Server`, fed with `emit('connection', carrier)`.
 * - A carrier EOF without TLS close_notify surfaces as a clean `'end'`; see
 *   {@link CarrierGuard}: here it becomes a {@link TruncationError}.
 * - TLS 1.3 suites are chosen with `ciphers`, not `ciphersuites`.
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import tls, { type TLSSocket } from "node:tls";
import { type Deadline, deadline, XtlsError } from "@xtls/core";
import { assessPeer, type PeerAssessment } from "./assess.js";
import { AttemptLimiter } from "./attempt-limiter.js";
import { AuthWire } from "./auth-wire.js";
import {
  AdvertisedFingerprintMismatchError,
  AuthenticationCancelledError,
  type AuthFailureReason,
  PeerAuthenticationError,
  PeerJidMismatchError,
  SecurityError,
  TlsChannelError,
  TlsHandshakeError,
  TooManyAttemptsError,
  TruncationError,
  UntrustedCertificateError,
} from "./errors.js";
import type { Fingerprint } from "./fingerprint.js";
import type { Identity } from "./identity.js";
import { runSas, SAS_EXPORTER_LABEL, type SasAuth } from "./sas.js";
import { EXPORTER_OCTETS, type SessionBinding } from "./session-binding.js";
import { SessionCache } from "./session-cache.js";
import { DEFAULT_AUTH_TIMEOUT_MS, runSrp, SRP_EXPORTER_LABEL, type SrpAuth } from "./srp.js";
import type { CaPolicy } from "./trust-anchors.js";
import { hasVerificationRecords, type TrustStore } from "./trust-store.js";
import {
  assertNotChanged,
  type ChannelAuth,
  checkPresentedCertificate,
  type PeerIdentity,
  verifyPeerCertificate,
  type X509Auth,
} from "./verify.js";

export type ChannelRole = "initiator" | "responder";

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;
/** The TLS 1.3 suites OpenSSL offers by default, strongest first. */
export const DEFAULT_CIPHER_SUITES = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_AES_128_GCM_SHA256",
];

export interface SecureOptions {
  readonly role: ChannelRole;
  /** Our full JID. */
  readonly localJid: string;
  /** The peer's full JID. */
  readonly peerJid: string;
  /**
   * How to authenticate the peer. Default: `x509` against the engine's trust store.
   * `srp` and `sas` run inside the tunnel before the channel is returned.
   */
  readonly auth?: ChannelAuth;
  readonly signal?: AbortSignal;
  /** The TLS handshake itself. Default: the engine's (30 s). */
  readonly handshakeTimeoutMs?: number;
  /**
   * Everything after the TLS handshake until the channel is returned: verification,
   * CA prompts, the `srp`/`sas` exchange with its prompts. Default: `auth.timeoutMs`,
   * then the engine's `authTimeoutMs` (120 s).
   */
  readonly authTimeoutMs?: number;
  /** Offer a cached session ticket (initiator). Default true. */
  readonly resume?: boolean;
  /**
   * Keep our sending side open after the peer's close_notify (TLS 1.3 half-close).
   * Default false: we answer with our own close_notify once queued writes are out.
   */
  readonly allowHalfOpen?: boolean;
}

export interface SecureChannel {
  /** Plaintext in both directions. Ends cleanly only after the peer's TLS close_notify. */
  readonly stream: Duplex;
  readonly role: ChannelRole;
  readonly local: { readonly jid: string; readonly fingerprint: string };
  readonly peer: PeerIdentity;
  /** Always "TLSv1.3". */
  readonly protocol: string;
  /** The negotiated suite, e.g. "TLS_AES_256_GCM_SHA384". */
  readonly cipher: string;
  /** Whether the session was resumed from a ticket (no certificates were exchanged). */
  readonly resumed: boolean;
  /** RFC 8446 §7.5 exporter (RFC 5705 interface). */
  exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer;
  /** Sends close_notify, ends the carrier, waits for the peer's close (or `timeoutMs`). */
  close(timeoutMs?: number): Promise<void>;
  /** Tears the channel and its carrier down at once. */
  destroy(error?: Error): void;
  /** Resolves when the channel closed cleanly, rejects with the error that ended it. */
  readonly closed: Promise<void>;
}

/** What a TLS implementation offers the XTLS layers; Node's `tls` is the default. */
export interface TlsEngine {
  readonly identity: Identity;
  /** Where the engine looks up trusted fingerprints, if it has a store. */
  readonly trustStore?: TrustStore;
  secure(carrier: Duplex, options: SecureOptions): Promise<SecureChannel>;
  /**
   * Before the handshake, for signalling: can `x509` be expected to authenticate this
   * peer (whose advertised fingerprint, if any, is given), or is a bootstrap (`srp`,
   * `sas`) needed? See {@link PeerAssessment}.
   */
  assessPeer?(peerJid: string, advertised?: Fingerprint | string, auth?: X509Auth): Promise<PeerAssessment>;
}

export interface NodeTlsEngineOptions {
  readonly identity: Identity;
  /** Where trusted fingerprints live; `auth` may also pin fingerprints directly. */
  readonly trustStore?: TrustStore;
  /** Tickets for resumption (initiator side). `false` disables resumption. */
  readonly sessionCache?: SessionCache | false;
  /** How long tickets we issue stay valid. Default 7200 s. */
  readonly sessionTimeoutSeconds?: number;
  readonly cipherSuites?: readonly string[];
  readonly handshakeTimeoutMs?: number;
  /** Default for {@link SecureOptions.authTimeoutMs}: 120 s (people type passwords). */
  readonly authTimeoutMs?: number;
  /**
   * Trust on first use for `x509` ("leap of faith"). Off by default: on first contact
   * it trusts whoever answers, a man in the middle included. `auth.tofu` overrides.
   */
  readonly tofu?: boolean;
  /** Trust anchors for CA-issued peer certificates (`auth.ca` overrides). */
  readonly ca?: CaPolicy;
  /**
   * Password attempt limits per peer for `srp`; default: a limiter with default settings
   * that keeps its counts in the trust store (persisted by a `FileTrustStore`).
   */
  readonly attemptLimiter?: AttemptLimiter;
}

/** Whether the in-tunnel authentication methods run (as opposed to certificate checks only). */
function isInTunnel(auth: ChannelAuth): auth is SrpAuth | SasAuth {
  return auth.method === "srp" || auth.method === "sas";
}

/** What we tell the peer in an ABORT when we fail during the in-tunnel phase. */
function abortReasonFor(error: unknown): { reason: AuthFailureReason; retryAfterMs?: number } | undefined {
  if (error instanceof PeerAuthenticationError) {
    if (error.detectedBy === "peer") return undefined;
    return {
      reason: error.reason,
      ...(error instanceof TooManyAttemptsError ? { retryAfterMs: error.retryAfterMs } : {}),
    };
  }
  if (
    error instanceof UntrustedCertificateError ||
    error instanceof PeerJidMismatchError ||
    error instanceof AdvertisedFingerprintMismatchError
  ) {
    return { reason: "certificate-refused" };
  }
  if (error instanceof TlsChannelError || error instanceof TruncationError) return undefined;
  return { reason: "cancelled" };
}

const ABORT_LINGER_MS = 1000;

/**
 * After an ABORT: close_notify, then give the peer a moment to read the ABORT and
 * close its side, so it fails with the reason rather than with a cut-off channel.
 */
async function lingerAfterAbort(socket: TLSSocket, sent: Promise<void>): Promise<void> {
  if (socket.destroyed) return;
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ABORT_LINGER_MS);
    timer.unref();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  try {
    await Promise.race([sent, budget]);
    if (!socket.destroyed && !socket.writableEnded) socket.end();
    await Promise.race([closed, budget]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects when the established TLS socket fails or closes before the channel is handed out. */
function socketFailure(socket: TLSSocket, peerJid: string): { promise: Promise<never>; dispose(): void } {
  let onError: ((error: Error) => void) | undefined;
  let onClose: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    onError = (error) => reject(channelError(error, peerJid));
    onClose = () =>
      reject(new TlsChannelError(`the secure channel with ${peerJid} closed before it was authenticated`));
    socket.on("error", onError);
    socket.once("close", onClose);
  });
  promise.catch(() => {});
  return {
    promise,
    dispose() {
      // The error listener stays until the channel installs its own: an 'error' with
      // no listener would crash the process.
      if (onClose) socket.off("close", onClose);
    },
  };
}

/**
 * Watches the carrier for its end. Must be created before the TLS socket, so its
 * listeners run before those of Node's JSStreamSocket, which forwards the carrier's
 * data and EOF to OpenSSL synchronously, in listener order.
 *
 * A TLS close_notify from the peer makes the TLS socket push its end-of-stream while
 * the carrier's data is being processed, i.e. before the carrier's 'end' fires. So an
 * end-of-stream pushed after the carrier ended means the carrier was cut off without
 * close_notify: truncation. Threat: an attacker (or a dying relay) cutting a transfer
 * short must never look like a complete one to the application.
 */
class CarrierGuard {
  ended = false;
  closed = false;
  error: Error | undefined;
  #socket: TLSSocket | undefined;
  #clean = false;
  readonly #carrier: Duplex;

  constructor(carrier: Duplex) {
    this.#carrier = carrier;
    carrier.once("end", () => {
      this.ended = true;
    });
    carrier.once("close", () => {
      this.closed = true;
      // Runs before JSStreamSocket's own 'close' listener, which would destroy the TLS
      // socket without an error.
      if (this.#socket && !this.#clean) this.#socket.destroy(new TruncationError("the carrier closed"));
    });
    carrier.on("error", (error) => {
      this.error ??= error;
      this.#socket?.destroy(error);
    });
  }

  /**
   * Installs the end-of-stream check on the established TLS socket. `onCloseNotify`
   * runs when the peer's close_notify has been processed (a clean end).
   */
  watch(socket: TLSSocket, onCloseNotify: () => void): void {
    this.#socket = socket;
    const push = socket.push;
    socket.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk === null && !this.#clean) {
        if (this.ended) {
          process.nextTick(() => socket.destroy(new TruncationError("the carrier ended")));
          return false;
        }
        this.#clean = true;
        process.nextTick(onCloseNotify);
      }
      return push.call(socket, chunk, encoding);
    };
  }

  /** Settles when the carrier fails before the handshake completes. */
  failure(): Promise<never> {
    const p = new Promise<never>((_, reject) => {
      const fail = () =>
        reject(this.error ?? new TruncationError("the carrier closed during the TLS handshake"));
      if (this.error || this.ended || this.closed) fail();
      this.#carrier.once("end", fail);
      this.#carrier.once("close", fail);
      this.#carrier.once("error", fail);
    });
    p.catch(() => {});
    return p;
  }
}

function handshakeError(error: unknown, peerJid: string): Error {
  if (error instanceof XtlsError) return error;
  const e = error as NodeJS.ErrnoException & { reason?: string };
  const reason = e.reason ?? e.message;
  return new TlsHandshakeError(`TLS handshake with ${peerJid} failed: ${reason}`, { cause: error, reason });
}

/** Maps a post-handshake TLS socket error to a typed error. */
function channelError(error: Error, peerJid: string): Error {
  if (error instanceof XtlsError) return error;
  const e = error as NodeJS.ErrnoException & { reason?: string };
  return new TlsChannelError(`the secure channel with ${peerJid} failed: ${e.reason ?? e.message}`, {
    cause: error,
    reason: e.reason,
  });
}

class NodeSecureChannel implements SecureChannel {
  readonly stream: TLSSocket;
  readonly role: ChannelRole;
  readonly local: { readonly jid: string; readonly fingerprint: string };
  readonly peer: PeerIdentity;
  readonly protocol: string;
  readonly cipher: string;
  readonly resumed: boolean;
  readonly closed: Promise<void>;

  constructor(
    socket: TLSSocket,
    init: Omit<
      SecureChannel,
      "stream" | "closed" | "exportKeyingMaterial" | "close" | "destroy" | "protocol" | "cipher"
    >,
  ) {
    this.stream = socket;
    this.role = init.role;
    this.local = init.local;
    this.peer = init.peer;
    this.resumed = init.resumed;
    this.protocol = socket.getProtocol() ?? "unknown";
    this.cipher = socket.getCipher().standardName ?? socket.getCipher().name;
    let lastError: Error | undefined;
    // Errors also reach `closed`, so an application that forgets an 'error' listener
    // does not crash the process; it still sees them through `closed`.
    socket.on("error", (error) => {
      lastError ??= error;
    });
    this.closed = new Promise<void>((resolve, reject) => {
      socket.once("close", () => (lastError ? reject(channelError(lastError, this.peer.jid)) : resolve()));
    });
    this.closed.catch(() => {});
  }

  exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer {
    // RFC 8446 §7.5: in TLS 1.3 no context and an empty context are the same.
    return this.stream.exportKeyingMaterial(length, label, context ?? Buffer.alloc(0));
  }

  async close(timeoutMs = 5000): Promise<void> {
    const socket = this.stream;
    if (socket.destroyed) return;
    const done = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.resume(); // drain what the peer still sends, or its close_notify is never read
    socket.end();
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    timer.unref();
    try {
      await done;
    } finally {
      clearTimeout(timer);
    }
  }

  destroy(error?: Error): void {
    this.stream.destroy(error);
  }
}

export class NodeTlsEngine implements TlsEngine {
  readonly identity: Identity;
  readonly trustStore: TrustStore | undefined;
  readonly sessionCache: SessionCache | undefined;
  /** Password attempts per peer (`srp`), shared by every session of this engine. */
  readonly attemptLimiter: AttemptLimiter;
  readonly #ciphers: string;
  readonly #handshakeTimeoutMs: number;
  readonly #authTimeoutMs: number;
  readonly #tofu: boolean;
  readonly #ca: CaPolicy | undefined;
  readonly #sessionTimeout: number;
  readonly #ticketKeys = randomBytes(48);
  readonly #clientContext: tls.SecureContext;
  readonly #serverOptions: tls.TlsOptions;
  /** The responder's credentials, built once (see #acquireServer). */
  readonly #serverContext: tls.SecureContext;
  readonly #lightServerOptions: tls.TlsOptions;
  readonly #idleServers: tls.Server[] = [];

  constructor(options: NodeTlsEngineOptions) {
    this.identity = options.identity;
    this.trustStore = options.trustStore;
    this.sessionCache =
      options.sessionCache === false ? undefined : (options.sessionCache ?? new SessionCache());
    this.#ciphers = (options.cipherSuites ?? DEFAULT_CIPHER_SUITES).join(":");
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#authTimeoutMs = options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
    this.#tofu = options.tofu ?? false;
    this.#ca = options.ca;
    // The counts live in the trust store when it can keep them (FileTrustStore: across
    // processes), so that restarting the client does not reset the limit.
    this.attemptLimiter =
      options.attemptLimiter ??
      new AttemptLimiter(hasVerificationRecords(options.trustStore) ? { store: options.trustStore } : {});
    this.#sessionTimeout = options.sessionTimeoutSeconds ?? 7200;
    const common = {
      key: this.identity.privateKeyPem,
      cert: this.identity.certificatePem,
      minVersion: "TLSv1.3" as const,
      maxVersion: "TLSv1.3" as const,
      ciphers: this.#ciphers,
    };
    this.#clientContext = tls.createSecureContext(common);
    this.#serverOptions = {
      ...common,
      requestCert: true, // mutual authentication: the draft's MUST (docs/protocol/tls.md#mutual-authentication)
      rejectUnauthorized: false, // we verify by fingerprint, after the handshake
      ticketKeys: this.#ticketKeys,
      sessionTimeout: this.#sessionTimeout,
      handshakeTimeout: 2 ** 31 - 1, // ours applies (deadline below)
    };
    // Exactly the context Node builds for a server with these options (ticket keys,
    // session timeout, session id context included), built once.
    this.#serverContext = (
      tls.createServer(this.#serverOptions) as unknown as { _sharedCreds: tls.SecureContext }
    )._sharedCreds;
    this.#lightServerOptions = {
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: 2 ** 31 - 1,
    };
  }

  /**
   * A `tls.Server` for one handshake at a time (a bare server TLSSocket swallows fatal
   * errors). Building its SecureContext from the PEM key each time was ~9% of a full
   * setup's CPU in the scale benchmark; when this Node keeps the context in
   * `_sharedCreds` (20, 22, 24 do), the server is built without credentials and given
   * the engine's prebuilt one. Even so, every `tls.Server` makes an OpenSSL SSL_CTX
   * (~7% of a handshake's CPU), so servers are pooled: a server goes back to the pool
   * only once its connection has settled (see #accept).
   */
  #acquireServer(): tls.Server {
    const pooled = this.#idleServers.pop();
    if (pooled) return pooled;
    if (SHARED_CREDS_OVERRIDABLE) {
      const server = tls.createServer(this.#lightServerOptions);
      (server as unknown as { _sharedCreds: tls.SecureContext })._sharedCreds = this.#serverContext;
      return server;
    }
    return tls.createServer(this.#serverOptions);
  }

  #releaseServer(server: tls.Server): void {
    server.removeAllListeners("secureConnection");
    server.removeAllListeners("tlsClientError");
    if (this.#idleServers.length < MAX_IDLE_SERVERS) this.#idleServers.push(server);
  }

  async secure(carrier: Duplex, options: SecureOptions): Promise<SecureChannel> {
    const guard = new CarrierGuard(carrier);
    const auth: ChannelAuth = options.auth ?? { method: "x509" };
    const inTunnel = isInTunnel(auth);
    const timeoutMs = options.handshakeTimeoutMs ?? this.#handshakeTimeoutMs;
    const d = deadline(`the TLS handshake with ${options.peerJid}`, timeoutMs, options.signal);
    const cacheKey = SessionCache.key(this.identity.fingerprint, options.peerJid);
    // Aborted when we fail: tells password/SAS/CA prompts that nobody waits any more.
    const prompts = new AbortController();
    let authDeadline: Deadline | undefined;
    let socketGone: ReturnType<typeof socketFailure> | undefined;
    let socket: TLSSocket | undefined;
    let wire: AuthWire | undefined;
    try {
      const established =
        options.role === "initiator"
          ? // A bootstrap always runs a full handshake: it is about these certificates.
            this.#connect(carrier, cacheKey, options.resume !== false && !inTunnel, (s) => {
              socket = s;
            })
          : this.#accept(carrier, (s) => {
              socket = s;
            });
      const result = await Promise.race([established, guard.failure(), d.promise]);
      d.dispose();
      socket = result.socket;
      const tlsSocket = result.socket;
      // Not half-open: answer the peer's close_notify with ours once our queued writes
      // are out (Node's TLSSocket over a JS stream does not do it by itself).
      guard.watch(tlsSocket, () => {
        if (!options.allowHalfOpen && !tlsSocket.writableEnded && !tlsSocket.destroyed) tlsSocket.end();
      });
      socketGone = socketFailure(tlsSocket, options.peerJid);
      authDeadline = deadline(
        `authenticating ${options.peerJid}`,
        options.authTimeoutMs ?? (inTunnel ? auth.timeoutMs : undefined) ?? this.#authTimeoutMs,
        options.signal,
      );
      const authenticated = inTunnel
        ? this.#bootstrap(tlsSocket, result.peerDer, auth, options, prompts.signal, (w) => {
            wire = w;
          })
        : verifyPeerCertificate({
            peerJid: options.peerJid,
            certificateDer: result.peerDer,
            auth,
            trustStore: this.trustStore,
            tofu: this.#tofu,
            ...(this.#ca ? { ca: this.#ca } : {}),
            signal: prompts.signal,
          });
      const peer = await Promise.race([
        authenticated,
        guard.failure(),
        socketGone.promise,
        authDeadline.promise,
      ]);
      if (options.role === "initiator" && this.sessionCache)
        this.#rememberTickets(result.socket, cacheKey, result.peerDer);
      return new NodeSecureChannel(result.socket, {
        role: options.role,
        local: { jid: options.localJid, fingerprint: this.identity.fingerprint },
        peer,
        resumed: result.resumed,
      });
    } catch (error) {
      prompts.abort(error);
      const typed = handshakeError(error, options.peerJid);
      if (typed instanceof SecurityError && options.role === "initiator") this.sessionCache?.delete(cacheKey);
      const abort = wire && !wire.aborted ? abortReasonFor(typed) : undefined;
      if (wire && abort && socket) {
        await lingerAfterAbort(socket, wire.abort(abort.reason, abort.retryAfterMs));
      }
      (socket as TLSSocket | undefined)?.destroy();
      carrier.destroy();
      // A failed password attempt is in the store before anyone learns of the failure
      // (the process may exit right after: the next one must see the count).
      if (auth.method === "srp") await (auth.limiter ?? this.attemptLimiter).settled();
      throw typed;
    } finally {
      d.dispose();
      authDeadline?.dispose();
      socketGone?.dispose();
    }
  }

  /** Before the handshake: what `x509` can be expected to do for this peer. */
  assessPeer(peerJid: string, advertised?: Fingerprint | string, auth?: X509Auth): Promise<PeerAssessment> {
    const ca = auth?.ca === false ? undefined : (auth?.ca ?? this.#ca);
    return assessPeer({
      peerJid,
      advertised,
      trustStore: auth?.trustStore ?? this.trustStore,
      pinned: auth?.pinned,
      tofu: auth?.tofu ?? this.#tofu,
      ca: ca !== undefined,
    });
  }

  /**
   * `srp` or `sas` inside the established tunnel: the certificate must still name the
   * peer (and match the advertised fingerprint, and not be revoked), but need not be
   * trusted yet; the exchange proves it, then both sides pin each other as verified.
   */
  async #bootstrap(
    socket: TLSSocket,
    peerDer: Buffer,
    auth: SrpAuth | SasAuth,
    options: SecureOptions,
    signal: AbortSignal,
    wireCreated: (wire: AuthWire) => void,
  ): Promise<PeerIdentity> {
    const wire = new AuthWire(socket, auth.method, options.peerJid);
    wireCreated(wire);
    const store = auth.trustStore ?? this.trustStore;
    const presented = await checkPresentedCertificate(options.peerJid, peerDer, auth.advertised, store);
    // A peer we pinned, presenting another certificate, gets the alarm — never a first
    // contact: no password is asked (one more guess for a man in the middle, and a reused
    // password would let him in), no short code shown.
    assertNotChanged(options.peerJid, presented.fingerprint, peerDer, presented.entries);
    const initiator = options.role === "initiator";
    const exporterLabel = auth.method === "srp" ? SRP_EXPORTER_LABEL : SAS_EXPORTER_LABEL;
    const binding: SessionBinding = {
      initiatorJid: initiator ? options.localJid : options.peerJid,
      responderJid: initiator ? options.peerJid : options.localJid,
      initiatorFingerprint: initiator ? this.identity.fingerprint : presented.fingerprint,
      responderFingerprint: initiator ? presented.fingerprint : this.identity.fingerprint,
      exporter: socket.exportKeyingMaterial(EXPORTER_OCTETS, exporterLabel, Buffer.alloc(0)),
    };
    const ctx = {
      wire,
      role: options.role,
      peerJid: options.peerJid,
      peerFingerprint: presented.fingerprint,
      binding,
      signal,
    };
    try {
      if (auth.method === "srp") await runSrp(auth, auth.limiter ?? this.attemptLimiter, ctx);
      else await runSas(auth, ctx);
    } catch (error) {
      if (error instanceof XtlsError) throw error;
      // A prompt callback threw. Its message is the application's and could quote the
      // password, so it is kept as the cause only.
      throw new AuthenticationCancelledError(auth.method, options.peerJid, "local", "the prompt failed", {
        cause: error,
      });
    }
    wire.release();
    const entry = store
      ? await store.pin(presented.peerBare, presented.fingerprint, { state: "verified", method: auth.method })
      : undefined;
    return {
      jid: options.peerJid,
      bareJid: presented.peerBare,
      fingerprint: presented.fingerprint,
      certificateDer: peerDer,
      xmppAddrs: presented.xmppAddrs,
      trust: { source: auth.method, ...(entry ? { entry } : {}) },
    };
  }

  #connect(
    carrier: Duplex,
    cacheKey: string,
    resume: boolean,
    created: (socket: TLSSocket) => void,
  ): Promise<{ socket: TLSSocket; peerDer: Buffer; resumed: boolean }> {
    const cached = resume ? this.sessionCache?.get(cacheKey) : undefined;
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        socket: carrier,
        secureContext: this.#clientContext,
        rejectUnauthorized: false, // we verify by fingerprint, after the handshake
        checkServerIdentity: () => undefined,
        session: cached?.session,
      });
      created(socket);
      // A listener for the socket's whole life, not once: after a failed handshake, Node's
      // JSStreamSocket still forwards the carrier's next 'error' to this socket, and an
      // 'error' nobody listens to is an uncaught exception (found by the fuzz suite: two
      // bad IBB <data/> in one turn during the handshake killed the process). Threat: a
      // peer crashing the client with two crafted stanzas.
      socket.on("error", reject);
      socket.once("secureConnect", () => {
        const resumed = socket.isSessionReused();
        // getPeerCertificate(true) once (docs/protocol/tls.md#node-20-pitfalls); a resumed client gets none.
        const raw = resumed ? cached?.peerCertificateDer : peerCertificateDer(socket);
        if (!raw) {
          reject(new TlsHandshakeError("the peer presented no certificate"));
          return;
        }
        resolve({ socket, peerDer: Buffer.from(raw), resumed });
      });
    });
  }

  #accept(
    carrier: Duplex,
    created: (socket: TLSSocket) => void,
  ): Promise<{ socket: TLSSocket; peerDer: Buffer; resumed: boolean }> {
    return new Promise((resolve, reject) => {
      // The server serves this one connection until it settles: it emits exactly one of
      // the two events for it (Node guards tlsClientError with kErrorEmitted, and
      // secureConnection with the socket not being destroyed). Only then can it serve
      // another. Threat: a pooled server handing connection A's socket to the handshake
      // of connection B (peer confusion); so a failed socket is destroyed before its
      // server is reused, and a successful one has released control (no more events).
      const server = this.#acquireServer();
      server.once("tlsClientError", (error, socket) => {
        socket.destroy();
        this.#releaseServer(server);
        created(socket);
        reject(error);
      });
      server.once("secureConnection", (socket: TLSSocket) => {
        this.#releaseServer(server);
        created(socket);
        // On resumption the client's certificate comes from the session in the ticket.
        const raw = peerCertificateDer(socket);
        if (!raw) {
          reject(
            new TlsHandshakeError(
              "the peer presented no client certificate (mutual authentication is required)",
            ),
          );
          return;
        }
        resolve({ socket, peerDer: Buffer.from(raw), resumed: socket.isSessionReused() });
      });
      server.emit("connection", carrier);
    });
  }

  #rememberTickets(socket: TLSSocket, cacheKey: string, peerDer: Buffer): void {
    socket.on("session", (session: Buffer) => this.sessionCache?.set(cacheKey, session, peerDer));
  }
}

/**
 * The DER of the certificate the peer presented, read once per socket. The leaf only:
 * `getPeerX509Certificate()` is a lazy wrapper, where `getPeerCertificate(true)` turns
 * the whole chain into objects (~4% of a full setup's CPU in the scale benchmark). Either
 * is called once (docs/protocol/tls.md#node-20-pitfalls: a second call can return undefined on Node 20).
 */
function peerCertificateDer(socket: TLSSocket): Buffer | undefined {
  return socket.getPeerX509Certificate?.()?.raw ?? socket.getPeerCertificate(true)?.raw;
}

/** Idle responder servers kept per engine (each costs an SSL_CTX, a few KiB). */
const MAX_IDLE_SERVERS = 64;

// Whether tls.Server takes its credentials from `_sharedCreds` (checked once, so a Node
// that changes this internal falls back to building the context per server).
const SHARED_CREDS_OVERRIDABLE = (() => {
  const probe = tls.createServer({});
  const creds = (probe as unknown as { _sharedCreds?: unknown })._sharedCreds;
  return creds !== undefined && creds !== null && typeof creds === "object" && "context" in creds;
})();

export interface OpenSecureChannelOptions
  extends SecureOptions,
    Omit<NodeTlsEngineOptions, "handshakeTimeoutMs"> {}

/** One-shot form of {@link NodeTlsEngine.secure} (no resumption across calls). */
export function openSecureChannel(
  carrier: Duplex,
  options: OpenSecureChannelOptions,
): Promise<SecureChannel> {
  const engine = new NodeTlsEngine({
    identity: options.identity,
    trustStore: options.trustStore,
    sessionCache: options.sessionCache ?? false,
    cipherSuites: options.cipherSuites,
    tofu: options.tofu,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.attemptLimiter ? { attemptLimiter: options.attemptLimiter } : {}),
  });
  return engine.secure(carrier, options);
}
