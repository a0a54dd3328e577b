/**
 * The facade: one call wires an identity, a trust store, the transports, the XTLS
 * security precondition and the applications onto an xmpp.js client (or any XmppLink).
 *
 *   const xtls = await createXtls(xmpp, { dir: "./xtls" });
 *   const chat = await xtls.openChat("juliet@capulet.lit/balcony");
 *   await chat.send("Did my heart love till now?");
 */
import { EventEmitter } from "node:events";
import { join } from "node:path";
import {
  bareJid,
  fromXmppClient,
  type IqHandler,
  type IqType,
  NS,
  normalizeJid,
  PeerDiscoCache,
  queryDiscoInfo,
  type Unsubscribe,
  type XmppJsClient,
  type XmppLink,
} from "@xtls/core";
import {
  FileTransferApplication,
  FileTransferService,
  type IncomingFileOffer,
  type OutgoingFileTransfer,
  type SendFileOptions,
} from "@xtls/file-transfer";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import {
  type ApplicationFormat,
  createJingleManager,
  type IncomingSession,
  type JingleManager,
  type JingleSession,
  type RefusedSession,
  SessionTerminatedError,
  type TransportMethod,
} from "@xtls/jingle";
import { supportsXtls, XtlsSecurity, type XtlsSecurityOptions } from "@xtls/jingle-xtls";
import { type ServePubkeysOptions, servePubkeys } from "@xtls/pubkey";
import {
  type CandidatePolicy,
  S5bTransport,
  Socks5Bytestreams,
  type Socks5BytestreamsOptions,
} from "@xtls/socks5";
import {
  type AttemptLimiter,
  FileTrustStore,
  type Identity,
  loadOrCreateIdentity,
  MemoryTrustStore,
  NodeTlsEngine,
  type TrustStore,
} from "@xtls/tls";
import { type XmlStream, XmlStreamApplication, XmlStreamSession } from "@xtls/xmlstream";
import { Chat } from "./chat.js";

export interface XtlsOptions {
  /**
   * Where the identity (`identity/`) and the trust store (`trust.json`) live. Default:
   * nothing on disk — a fresh identity and an in-memory trust store (tests, demos).
   */
  readonly dir?: string;
  /** Use this identity instead of loading or creating one in `dir`. */
  readonly identity?: Identity;
  /** Use this trust store instead of `dir/trust.json`. */
  readonly trustStore?: TrustStore;
  /** First contact with a one-time password agreed out of band (enables `srp`). */
  readonly askPassword?: XtlsSecurityOptions["askPassword"];
  /** First contact by comparing a short code (enables `sas`). */
  readonly confirmSas?: XtlsSecurityOptions["confirmSas"];
  /**
   * The user certificate (XEP-0189, `@xtls/pubkey`) that signed our identity: served with
   * our device certificate when a peer asks for `<pubkeys/>` inside an end-to-end stream.
   */
  readonly userCertificate?: ServePubkeysOptions["userCertificate"];
  /** Trust on first use, like ssh (off by default: it trusts a man in the middle too). */
  readonly tofu?: boolean;
  /**
   * A SHA-256 fingerprint (hex, colons allowed) the user compared with the peer out of
   * band and accepts as the NEW certificate of a pinned peer. Without it, a pinned peer
   * presenting another certificate fails with `CertificateChangedError` (code
   * `certificate-changed`, inside a `security-error`), and no password is asked.
   */
  readonly acceptNewKey?: string;
  /**
   * The user holds a one-time password for the sessions of this instance (e.g. from the
   * environment): a first contact must be `srp`, and one whose offer or answer lacks it
   * fails with `MethodDowngradeError` (code `method-downgrade`) instead of falling back
   * to `sas`. `openChat({ firstContact: "srp" })` implies it for that session.
   */
  readonly passwordInHand?: boolean;
  /** Per-peer limits on password attempts. */
  readonly attemptLimiter?: AttemptLimiter;
  /**
   * SOCKS5 bytestreams (XEP-0065/0260), preferred over in-band bytestreams: our own
   * streamhost (loopback by default) and the server's proxies. Options of the service, or
   * `false` for in-band bytestreams only. Default: on, proxies discovered on the server.
   */
  readonly socks5?: false | Socks5BytestreamsOptions;
  /**
   * Which addresses SOCKS5 connects to once a session is accepted (the offer's
   * candidates and proxies are the peer's choice, or a compromised server's): see
   * @xtls/socks5 `CandidatePolicy`. Default: loopback, private and global unicast;
   * link-local, multicast, unspecified, broadcast and reserved never. Narrow it with
   * `{ allow: ["global"] }`. (Same as `socks5: { candidatePolicy }`.)
   */
  readonly candidatePolicy?: CandidatePolicy;
  /** Transports to prefer over the default ones, best first. */
  readonly transports?: (ctx: { link: XmppLink }) => TransportMethod[];
  /** More Jingle applications to accept (e.g. file transfer). */
  readonly applications?: readonly ApplicationFormat[];
  /** Timeout for a peer to accept a session. Default 120 s. */
  readonly acceptTimeoutMs?: number;
  /** Limits on sessions offered to us and not answered yet (see @xtls/jingle; default 8 per account, 64 in all). */
  readonly maxPendingPerPeer?: number;
  readonly maxPending?: number;
}

/**
 * Which transports a session may use:
 * - `"auto"` (default): those the peer advertises in its disco#info (asked once, cached;
 *   XEP-0115 caps where its presence carries them), in our order of preference — the
 *   `transports` option's first, then SOCKS5 (`s5b`), then in-band bytestreams (`ibb`),
 *   always last. A peer that does not answer gets all of them. If the peer still refuses
 *   one (`unsupported-transports`) or it cannot open (no candidate works, the proxy
 *   refuses activation, `connect()` fails), the next one is tried (a fresh initiate, or
 *   `transport-replace`).
 * - `"ibb"`: in-band bytestreams only. `"s5b"`: SOCKS5 only, no fallback.
 */
export type TransportChoice = "auto" | "ibb" | "s5b";

/** Options of {@link Xtls.openChat}. */
export interface OpenChatOptions {
  /** Which transports this chat may use (default `"auto"`). */
  readonly transport?: TransportChoice;
  readonly signal?: AbortSignal;
  /**
   * For a peer we have not verified yet: the one first-contact method this session
   * offers — `"srp"` (the one-time password, asked through `askPassword`) or `"sas"`
   * (the short code, shown through `confirmSas`). Default: every method whose callback
   * was given to `createXtls`, the password preferred. A pinned peer is verified by its
   * certificate either way.
   */
  readonly firstContact?: "srp" | "sas";
  /**
   * Called with the Jingle session, to follow its phases or terminate it: at once, and
   * again with the peer's session if that one wins a tie-break (see {@link Xtls.openChat}).
   */
  readonly onSession?: (session: JingleSession) => void;
}

/** Options of {@link Xtls.sendFile}. */
export interface XtlsSendFileOptions extends SendFileOptions {
  /** Which transports the transfer may use (default `"auto"`). */
  readonly transport?: TransportChoice;
}

/** An openChat in progress, which a chat offered by the same peer meanwhile joins. */
interface Opening {
  session?: JingleSession;
  adopt(incoming: IncomingSession): void;
}

/** A chat someone started with us, to accept or decline. */
export interface IncomingChat {
  readonly peer: string;
  /** The Jingle session (its phases, its outcome), for showing progress. */
  readonly session: JingleSession;
  accept(): Promise<Chat>;
  /** Declines (Jingle `decline`), with a text saying why if given. */
  decline(text?: string): Promise<void>;
}

export interface XtlsEvents {
  chat: [incoming: IncomingChat];
  /** Someone offers us a file: `offer.accept({ dir })` or `offer.decline()`. */
  file: [offer: IncomingFileOffer];
  /** A session for another registered application (e.g. a file offer). */
  session: [incoming: IncomingSession];
  /**
   * An offered session was refused before anything else happened for it — above all one
   * without end-to-end security (`security-error`, "no end-to-end security was offered"):
   * there is no way to take such a session through this facade. For logging.
   */
  refused: [refused: RefusedSession];
}

export class Xtls extends EventEmitter<XtlsEvents> {
  readonly link: XmppLink;
  readonly identity: Identity;
  readonly trustStore: TrustStore;
  readonly engine: NodeTlsEngine;
  readonly security: XtlsSecurity;
  readonly jingle: JingleManager;
  readonly ibb: InBandBytestreams;
  /** The SOCKS5 bytestreams service, unless disabled. */
  readonly socks5: Socks5Bytestreams | undefined;
  /** Transports in order of preference; IBB is always last (XEP-0234, XEP-0247). */
  readonly transports: readonly TransportMethod[];
  /** Encrypted file transfer (XEP-0234); `sendFile` and the `file` event use it. */
  readonly files: FileTransferService;
  /** Peers' disco#info features, cached (XEP-0115 caps where presence carries them). */
  readonly peers: PeerDiscoCache;
  readonly #options: XtlsOptions;
  /** IQ handlers for every end-to-end XML stream ({@link handle}). */
  readonly #innerHandlers = new Set<{ type: IqType; ns: string; name: string; handler: IqHandler }>();
  /** The end-to-end XML streams open now, each with the unsubscribes of its handlers. */
  readonly #streams = new Map<XmlStream, Map<object, Unsubscribe>>();
  readonly #ibbTransport: TransportMethod;
  readonly #s5bTransport: TransportMethod | undefined;
  readonly #opening = new Map<string, Opening>();

  constructor(link: XmppLink, identity: Identity, trustStore: TrustStore, options: XtlsOptions = {}) {
    super();
    this.#options = options;
    this.link = link;
    this.identity = identity;
    this.trustStore = trustStore;
    this.engine = new NodeTlsEngine({
      identity,
      trustStore,
      tofu: options.tofu,
      ...(options.attemptLimiter ? { attemptLimiter: options.attemptLimiter } : {}),
    });
    this.security = new XtlsSecurity({
      engine: this.engine,
      askPassword: options.askPassword,
      confirmSas: options.confirmSas,
      ...(options.acceptNewKey ? { acceptNewKey: options.acceptNewKey } : {}),
      ...(options.passwordInHand ? { passwordInHand: true } : {}),
    });
    this.ibb = new InBandBytestreams(link);
    this.socks5 =
      options.socks5 === false
        ? undefined
        : new Socks5Bytestreams(link, {
            ...(options.candidatePolicy ? { candidatePolicy: options.candidatePolicy } : {}),
            ...options.socks5,
          });
    this.#ibbTransport = new IbbTransport({ ibb: this.ibb });
    this.#s5bTransport = this.socks5 ? new S5bTransport({ socks5: this.socks5 }) : undefined;
    this.transports = [
      ...(options.transports?.({ link }) ?? []),
      ...(this.#s5bTransport ? [this.#s5bTransport] : []),
      this.#ibbTransport,
    ];
    this.peers = new PeerDiscoCache(link);
    this.jingle = createJingleManager(link, {
      applications: [
        new XmlStreamApplication(),
        new FileTransferApplication(),
        ...(options.applications ?? []),
      ],
      transports: this.transports,
      security: [this.security],
      acceptTimeoutMs: options.acceptTimeoutMs,
      maxPendingPerPeer: options.maxPendingPerPeer,
      maxPending: options.maxPending,
    });
    this.jingle.on("incoming", (incoming) => this.#incoming(incoming));
    this.jingle.on("refused", (refused) => this.emit("refused", refused));
    this.files = new FileTransferService(this.jingle, {
      transports: this.transports,
      security: this.security,
    });
    this.files.on("offer", (offer) => {
      if (this.listenerCount("file") === 0) void offer.decline("nobody is taking files here");
      else this.emit("file", offer);
    });
  }

  /**
   * Sends a file (a path, or a stream with `name` and `size`) to `peer`, end-to-end
   * encrypted. Follow `transfer.on("progress")`; `await transfer.done` resolves once the
   * receiver verified the SHA-256 and stored it under its final name.
   */
  async sendFile(
    peer: string,
    source: string | import("node:stream").Readable,
    options: XtlsSendFileOptions = {},
  ): Promise<OutgoingFileTransfer> {
    const { transport, ...rest } = options;
    return this.files.sendFile(peer, source, {
      ...rest,
      transports: await this.transportsFor(peer, transport),
    });
  }

  /**
   * The transports a session with `peer` (a full JID) offers, best first (see
   * {@link TransportChoice}). With `"auto"`: ours that the peer advertises; all of ours
   * when it does not answer disco#info or advertises none of them.
   */
  async transportsFor(peer: string, choice: TransportChoice = "auto"): Promise<TransportMethod[]> {
    if (choice === "ibb") return [this.#ibbTransport];
    if (choice === "s5b") {
      if (!this.#s5bTransport) throw new TypeError('transport "s5b": SOCKS5 is disabled (socks5: false)');
      return [this.#s5bTransport];
    }
    if (choice !== "auto") throw new TypeError(`transport must be auto, ibb or s5b, got "${String(choice)}"`);
    let features: readonly string[];
    try {
      features = await this.peers.features(peer);
    } catch {
      return [...this.transports];
    }
    // ibb:1 and the draft's ibb:0 are one method to us (NS_ALIASES).
    const advertised = new Set(
      features.map((f) => (f === "urn:xmpp:jingle:transports:ibb:0" ? NS.JINGLE_IBB : f)),
    );
    const both = this.transports.filter((t) =>
      t.namespaces.some((n) => advertised.has(n === "urn:xmpp:jingle:transports:ibb:0" ? NS.JINGLE_IBB : n)),
    );
    return both.length > 0 ? both : [...this.transports];
  }

  /**
   * Whether `peer` (any form of its JID) is a verified contact: a certificate of its bare
   * JID is pinned as `verified` in the trust store (by a one-time password, a short code,
   * or by hand). For deciding on an offer *before* accepting it — the session's TLS
   * handshake still checks that the peer presents that certificate.
   */
  async isVerified(peer: string): Promise<boolean> {
    const entries = await this.trustStore.entries(bareJid(peer));
    return entries.some((e) => e.state === "verified");
  }

  /** Our certificate's SHA-256 fingerprint (what a peer pins). */
  get fingerprint(): string {
    return this.identity.fingerprint;
  }

  /** Whether `peer` (a full JID) advertises XTLS. */
  async supportsXtls(peer: string): Promise<boolean> {
    return supportsXtls((await queryDiscoInfo(this.link, peer)).features);
  }

  /**
   * Opens an end-to-end encrypted chat with `peer` (a full JID). Resolves once TLS 1.3
   * is done and the peer verified (pinned, or bootstrapped with a password or a code);
   * rejects with a SessionTerminatedError saying why not.
   *
   * If the peer starts a chat with us meanwhile (both sides at once), there is still one
   * chat: when the peer's session-initiate wins the XEP-0166 tie-break (or arrives before
   * ours went out), ours ends with `alternative-session` and this resolves with the peer's
   * session, accepted here, instead of rejecting; no `chat` event is emitted for it.
   */
  async openChat(peer: string, options: OpenChatOptions = {}): Promise<Chat> {
    // A misuse fails before anything is sent (the disco#info query included).
    const security = options.firstContact ? this.#securityFor(options.firstContact) : this.security;
    const key = normalizeJid(peer);
    let adopt!: (incoming: IncomingSession) => void;
    const adopted = new Promise<IncomingSession>((resolve) => {
      adopt = resolve;
    });
    const opening: Opening = { adopt };
    const mine = !this.#opening.has(key);
    if (mine) this.#opening.set(key, opening);
    try {
      const transports = await Promise.race([this.transportsFor(peer, options.transport), adopted]);
      if (!Array.isArray(transports)) return await this.#joinPeers(transports, options);
      const app = this.#xmlStreamSession();
      const session = this.jingle.initiate(peer, {
        application: app,
        transports,
        security,
        signal: options.signal,
      });
      opening.session = session;
      options.onSession?.(session);
      const own = Promise.race([app.stream, session.done.then(() => app.stream)]);
      const outcome = await Promise.race([
        own.then((stream) => ({ stream }) as const),
        adopted.then((incoming) => ({ incoming }) as const),
      ]).catch(async (error: unknown) => {
        // Ours lost the tie-break: the peer's initiate reached us before its refusal of
        // ours (in-order delivery), so its session is here, about to be handed over.
        if (!lostTieBreak(error) || !this.#pendingFrom(key)) throw error;
        return { incoming: await adopted } as const;
      });
      if ("stream" in outcome) return new Chat(outcome.stream, session);
      return await this.#joinPeers(outcome.incoming, options);
    } finally {
      if (mine && this.#opening.get(key) === opening) this.#opening.delete(key);
    }
  }

  // The peer's own chat offer, taken as the chat openChat was asked for.
  async #joinPeers(incoming: IncomingSession, options: OpenChatOptions): Promise<Chat> {
    options.onSession?.(incoming.session);
    options.signal?.addEventListener(
      "abort",
      () => void incoming.session.terminate({ condition: "cancel" }),
      {
        once: true,
      },
    );
    const app = this.#xmlStreamSession();
    await incoming.session.accept({ application: app });
    const stream = await Promise.race([app.stream, incoming.session.done.then(() => app.stream)]);
    return new Chat(stream, incoming.session);
  }

  /** Whether `peer` has offered us a session that is still pending. */
  #pendingFrom(peer: string): boolean {
    return this.jingle.sessions.some(
      (s) => s.role === "responder" && s.peer === peer && s.state === "pending",
    );
  }

  /**
   * Answers IQs of `type` with payload `<name xmlns=ns/>` inside every end-to-end XML
   * stream — the chats open now and those opened later. Registered before a chat opens,
   * it also answers an IQ that arrives right behind the peer's stream header. The IQ's
   * `from` is the peer as TLS authenticated it. Built in: XEP-0199 ping and XEP-0189
   * `<pubkeys/>` (our certificate, and `userCertificate` if given).
   */
  handle(type: IqType, ns: string, name: string, handler: IqHandler): Unsubscribe {
    const registration = { type, ns, name, handler };
    this.#innerHandlers.add(registration);
    for (const [stream, installed] of this.#streams) {
      installed.set(registration, stream.handle(type, ns, name, handler));
    }
    return () => {
      this.#innerHandlers.delete(registration);
      for (const installed of this.#streams.values()) {
        installed.get(registration)?.();
        installed.delete(registration);
      }
    };
  }

  // Every end-to-end stream gets its handlers before the peer's first byte is read
  // (XmlStreamOptions.setup): the built-in ones, then those registered with handle().
  #xmlStreamSession(): XmlStreamSession {
    return new XmlStreamSession({
      setup: (stream) => {
        const installed = new Map<object, Unsubscribe>();
        this.#streams.set(stream, installed);
        stream.once("close", () => this.#streams.delete(stream));
        stream.handle("get", NS.PING, "ping", () => undefined);
        stream.disco.addFeature(NS.PING);
        servePubkeys(stream, {
          identity: this.identity,
          ...(this.#options.userCertificate ? { userCertificate: this.#options.userCertificate } : {}),
        });
        stream.disco.addFeature(NS.PUBKEY);
        for (const r of this.#innerHandlers) installed.set(r, stream.handle(r.type, r.ns, r.name, r.handler));
      },
    });
  }

  /** A security offering certificates and this one first-contact method. */
  #securityFor(method: "srp" | "sas"): XtlsSecurity {
    const { askPassword, confirmSas } = this.#options;
    if (method === "srp" && !askPassword) {
      throw new TypeError('openChat: firstContact "srp" needs createXtls({ askPassword })');
    }
    if (method === "sas" && !confirmSas) {
      throw new TypeError('openChat: firstContact "sas" needs createXtls({ confirmSas })');
    }
    return new XtlsSecurity({
      engine: this.engine,
      // With "srp" asked for by name, the user has the password in hand: a negotiation
      // that lacks srp is a downgrade, not a reason to try something else.
      ...(method === "srp" ? { askPassword, passwordInHand: true } : { confirmSas }),
      ...(this.#options.acceptNewKey ? { acceptNewKey: this.#options.acceptNewKey } : {}),
    });
  }

  #incoming(incoming: IncomingSession): void {
    if (incoming.application instanceof XmlStreamApplication) {
      // Both sides opened a chat at once and the peer's offer won (or came first): it is
      // the chat our openChat is waiting for.
      const opening = this.#opening.get(normalizeJid(incoming.peer));
      if (opening && opening.session?.state !== "active") {
        opening.adopt(incoming);
        this.#opening.delete(normalizeJid(incoming.peer));
        return;
      }
      if (this.listenerCount("chat") === 0) {
        void incoming.session.decline();
        return;
      }
      let answered = false;
      this.emit("chat", {
        peer: incoming.peer,
        session: incoming.session,
        accept: async () => {
          if (answered) throw new Error("this chat was already answered");
          answered = true;
          const app = this.#xmlStreamSession();
          await incoming.session.accept({ application: app });
          return new Chat(await app.stream, incoming.session);
        },
        decline: async (text?: string) => {
          if (answered) return;
          answered = true;
          await incoming.session.decline(
            text === undefined ? { condition: "decline" } : { condition: "decline", text },
          );
        },
      });
      return;
    }
    if (incoming.application instanceof FileTransferApplication) return; // this.files takes it
    if (this.listenerCount("session") === 0) void incoming.session.decline();
    else this.emit("session", incoming);
  }

  /**
   * Ends every session, and resolves once every password attempt counted so far is in the
   * trust store. The XMPP connection is the caller's to close.
   */
  async close(): Promise<void> {
    this.files.close();
    this.peers.close();
    await this.jingle.terminateAll();
    await Promise.allSettled([this.ibb.close(), this.socks5?.close()]);
    // A session can end (the peer's terminate) while our count of its failed password is
    // still being written; a process that exits after close() must not lose it, or each
    // new process would grant a guesser fresh attempts.
    await this.engine.attemptLimiter.settled();
  }
}

/** Our session-initiate lost the XEP-0166 tie-break to the peer's. */
function lostTieBreak(error: unknown): boolean {
  return (
    error instanceof SessionTerminatedError &&
    error.by === "peer" &&
    error.reason.condition === "alternative-session"
  );
}

function isXmppLink(x: unknown): x is XmppLink {
  return typeof x === "object" && x !== null && "handle" in x && "request" in x && "disco" in x;
}

/**
 * XTLS on an xmpp.js client (started) or any XmppLink. With `dir`, the identity and the
 * trust store persist there (`identity/`, `trust.json`).
 */
export async function createXtls(
  connection: XmppJsClient | XmppLink,
  options: XtlsOptions = {},
): Promise<Xtls> {
  let link: XmppLink;
  if (isXmppLink(connection)) link = connection;
  else link = fromXmppClient(connection); // its sends wait for XEP-0198 to settle
  if (!link.jid) throw new Error("the XMPP connection is not online yet: start() it first");
  const bare = bareJid(link.jid);
  const identity =
    options.identity ??
    (options.dir
      ? await loadOrCreateIdentity(join(options.dir, "identity"), bare)
      : (await import("@xtls/tls")).createIdentity(bare));
  const trustStore =
    options.trustStore ??
    (options.dir ? new FileTrustStore(join(options.dir, "trust.json")) : new MemoryTrustStore());
  return new Xtls(link, identity, trustStore, options);
}
