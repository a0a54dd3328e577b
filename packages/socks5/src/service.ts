/**
 * XEP-0065 SOCKS5 Bytestreams v1.8.2 on one {@link XmppLink}, without Jingle: the
 * Requester's `open()` and the Target's `<query/>` handler, our own direct streamhost
 * (a {@link StreamhostListener}), proxy discovery (§4) and activation (§6.3.5), and the
 * disco feature `http://jabber.org/protocol/bytestreams`. Bytestreams are keyed by
 * (peer full JID, sid), never by sid alone.
 *
 *   Requester                                  Target                 Proxy
 *   <query sid><streamhost…/>… ─────────────►  connect + SOCKS5 ─────► (or our listener)
 *                            ◄─────────────── <streamhost-used jid/>  (IQ result)
 *   direct: the Target's connection to our listener is the bytestream
 *   mediated: connect + SOCKS5 (same DST.ADDR) ─────────────────────► proxy
 *             <query sid><activate>target</activate> ───────────────► result: relaying
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  AbortError,
  deadline,
  type Element,
  type IqRequest,
  NS,
  StanzaError,
  tryParseJid,
  type Unsubscribe,
  type XmppLink,
  xml,
} from "@xtls/core";
import { allowedAddress, type CandidatePolicy, DEFAULT_CANDIDATE_POLICY } from "./address-policy.js";
import { ConnectionRace, connectStreamhost, type StreamhostAddress } from "./connector.js";
import {
  activateElement,
  dstAddr,
  isValidSid,
  offerElement,
  parseQuery,
  parseStreamhost,
  type StreamHost,
  streamhostRequestElement,
  streamhostUsedElement,
} from "./elements.js";
import {
  S5bActivationError,
  S5bClosedError,
  S5bNoStreamhostError,
  S5bProtocolError,
  S5bRefusedError,
  S5bSidInUseError,
} from "./errors.js";
import { DEFAULT_HIGH_WATER_MARK, type PendingConnection, type S5bStream } from "./stream.js";
import {
  type Expectation,
  StreamhostListener,
  type StreamhostListenerOptions,
} from "./streamhost-listener.js";

/** How long `open()` waits for the Target's answer (it tries every streamhost first). Default 60 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** TCP connect plus SOCKS5 handshake with one streamhost. Default 10 s. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Delay before the next streamhost is tried while earlier ones are still connecting. */
export const DEFAULT_STAGGER_MS = 200;

/** An unsolicited offer, as the `accept` policy sees it. */
export interface S5bRequest {
  /** The Requester's full JID (normalised). */
  readonly peer: string;
  readonly sid: string;
  readonly streamhosts: readonly StreamHost[];
}

export interface Socks5BytestreamsOptions {
  /**
   * Decides unsolicited offers (those no `expect()` waits for). Default: decline
   * (`not-acceptable`). Accepted streams are emitted as `"stream"`.
   */
  readonly accept?: (request: S5bRequest) => boolean | Promise<boolean>;
  /**
   * Our direct streamhost: a listener to share, the options of one to create (bound to
   * 127.0.0.1 on a free port by default), or `false` for none (mediated only).
   */
  readonly streamhost?: StreamhostListener | StreamhostListenerOptions | false;
  /**
   * Proxies to offer: `"discover"` (default: disco#items on our server, XEP-0065 §4),
   * a fixed list, or `false` for none.
   */
  readonly proxies?: "discover" | readonly StreamHost[] | false;
  /** For our `<query/>` (the Target tries every streamhost before answering) and activation. Default 60 s. */
  readonly requestTimeoutMs?: number;
  /** Per streamhost: TCP connect plus SOCKS5 handshake. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Start the next streamhost after this while earlier ones are still connecting. Default 200 ms. */
  readonly staggerMs?: number;
  /** Read buffer of each stream, in octets. Default 64 KiB. */
  readonly highWaterMark?: number;
  /**
   * Which addresses we connect to (streamhosts offered to us, Jingle candidates, proxies):
   * see `address-policy.ts`. Default: loopback, private and global unicast; link-local,
   * multicast, unspecified, broadcast and reserved addresses never.
   */
  readonly candidatePolicy?: CandidatePolicy;
}

export interface S5bOpenOptions {
  /** Default: a fresh random sid. */
  readonly sid?: string;
  /** Offer our direct streamhost. Default: when the service has one. */
  readonly direct?: boolean;
  /** Offer proxies: `true` for the service's (default), `false` for none, or a list. */
  readonly proxies?: boolean | readonly StreamHost[];
  readonly signal?: AbortSignal;
  /** How long to wait for the Target's answer. Default: the service's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface S5bExpectOptions {
  readonly signal?: AbortSignal;
  /** Default: the service's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface Socks5BytestreamsEvents {
  /** An unsolicited offer was accepted by the `accept` policy and connected. */
  stream: [stream: S5bStream];
}

interface Waiting {
  /** Whether the caller already got an answer (a stream, a timeout, an abort). */
  readonly settled: boolean;
  resolve(stream: S5bStream): void;
  reject(error: Error): void;
}

function sessionKey(peer: string, sid: string): string {
  return `${peer}\n${sid}`;
}

function fullJid(peer: string): string {
  const jid = tryParseJid(peer);
  if (!jid?.resource) throw new TypeError(`a SOCKS5 Bytestream needs the peer's full JID, got "${peer}"`);
  return jid.full;
}

/** What every operation on a closed service fails with. */
const serviceClosed = () => new S5bClosedError("the SOCKS5 Bytestreams service was closed");

export class Socks5Bytestreams extends EventEmitter<Socks5BytestreamsEvents> {
  readonly link: XmppLink;
  /** Our direct streamhost, if any. */
  readonly listener: StreamhostListener | undefined;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly staggerMs: number;
  readonly highWaterMark: number;
  /** Which addresses {@link connect} connects to. */
  readonly candidatePolicy: CandidatePolicy;
  readonly #ownsListener: boolean;
  readonly #accept: Socks5BytestreamsOptions["accept"];
  readonly #proxyOption: "discover" | readonly StreamHost[] | false;
  #proxies: Promise<StreamHost[]> | undefined;
  readonly #expected = new Map<string, Waiting>();
  /** (peer, sid) pairs under negotiation or carrying a stream. */
  readonly #busy = new Set<string>();
  readonly #streams = new Set<S5bStream>();
  readonly #unsubscribe: Unsubscribe[];
  /** Aborts every connection attempt when the service closes; made on first use. */
  #abort: AbortController | undefined;
  #closed = false;

  constructor(link: XmppLink, options: Socks5BytestreamsOptions = {}) {
    super();
    this.link = link;
    this.#accept = options.accept;
    this.#proxyOption = options.proxies ?? "discover";
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.staggerMs = options.staggerMs ?? DEFAULT_STAGGER_MS;
    this.highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.candidatePolicy = options.candidatePolicy ?? DEFAULT_CANDIDATE_POLICY;
    const streamhost = options.streamhost ?? {};
    if (streamhost === false) {
      this.listener = undefined;
      this.#ownsListener = false;
    } else if (streamhost instanceof StreamhostListener) {
      this.listener = streamhost;
      this.#ownsListener = false;
    } else {
      this.listener = new StreamhostListener(streamhost);
      this.#ownsListener = true;
    }
    this.#unsubscribe = [
      link.handle("set", NS.S5B, "query", (iq) => this.#onQuery(iq)),
      link.onClose(() => this.#rejectExpected(() => new S5bClosedError("the XMPP connection closed"))),
      link.disco.addFeature(NS.S5B),
    ];
  }

  /** Every bytestream this service created that is not closed yet. */
  get streams(): S5bStream[] {
    return [...this.#streams];
  }

  /** Our direct streamhosts (listening first), with our full JID. Empty without a listener. */
  async directStreamhosts(): Promise<StreamHost[]> {
    if (!this.listener) return [];
    const addresses = await this.listener.addresses();
    return addresses.map((a) => ({ jid: this.link.jid, host: a.host, port: a.port }));
  }

  /**
   * The proxies to offer: the configured list, or those discovered on our server (once;
   * `refresh` discovers again). Discovery failures leave the list empty rather than fail.
   */
  proxies(options: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<StreamHost[]> {
    const configured = this.#proxyOption;
    if (configured === false) return Promise.resolve([]);
    if (configured !== "discover") return Promise.resolve([...configured]);
    if (!this.#proxies || options.refresh) {
      const domain = tryParseJid(this.link.jid)?.domain ?? "";
      const discovering = this.discoverProxies(domain, { signal: options.signal }).catch(() => []);
      this.#proxies = discovering;
    }
    return this.#proxies;
  }

  /**
   * XEP-0065 §4: disco#items on `domain`, disco#info on each item to find the identity
   * `proxy/bytestreams`, then each proxy's `<streamhost/>`. Items that fail, are not
   * proxies or refuse us (`forbidden`, `not-allowed`) are left out. Rejects only when
   * disco#items itself fails.
   */
  async discoverProxies(domain: string, options: { signal?: AbortSignal } = {}): Promise<StreamHost[]> {
    const request = { timeoutMs: this.requestTimeoutMs, signal: options.signal };
    const items = await this.link.request(
      xml("iq", { type: "get", to: domain }, xml("query", { xmlns: NS.DISCO_ITEMS })),
      request,
    );
    const jids = (items.getChild("query", NS.DISCO_ITEMS)?.getChildren("item") ?? [])
      .map((item) => item.attrs.jid)
      .filter((jid): jid is string => jid !== undefined);
    const found = await Promise.all(
      jids.map(async (jid): Promise<StreamHost | undefined> => {
        try {
          const info = await this.link.request(
            xml("iq", { type: "get", to: jid }, xml("query", { xmlns: NS.DISCO_INFO })),
            request,
          );
          const isProxy = (info.getChild("query", NS.DISCO_INFO)?.getChildren("identity") ?? []).some(
            (i) => i.attrs.category === "proxy" && i.attrs.type === "bytestreams",
          );
          if (!isProxy) return undefined;
          const answer = await this.link.request(
            xml("iq", { type: "get", to: jid }, streamhostRequestElement()),
            request,
          );
          const el = answer.getChild("query", NS.S5B)?.getChild("streamhost");
          return el ? parseStreamhost(el) : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return found.filter((p): p is StreamHost => p !== undefined);
  }

  /**
   * Requester: offers a bytestream to `peer` (a full JID) with our direct streamhost and
   * the proxies, and resolves once the Target connected to one (direct) or once the proxy
   * activated the relay (mediated). Rejects with {@link S5bRefusedError} (the Target's
   * `not-acceptable`, `item-not-found`, …), {@link S5bNoStreamhostError} (nothing to
   * offer), {@link S5bStreamhostError} / {@link S5bActivationError} (the proxy the Target
   * chose failed us), `TimeoutError`, `AbortError`, {@link S5bSidInUseError}.
   */
  async open(peer: string, options: S5bOpenOptions = {}): Promise<S5bStream> {
    const jid = fullJid(peer);
    const sid = options.sid ?? `s5b-${randomBytes(8).toString("hex")}`;
    if (!isValidSid(sid))
      throw new TypeError(`sid must be 1 to 127 characters without whitespace, got "${sid}"`);
    this.#assertOpen();
    const key = sessionKey(jid, sid);
    if (this.#busy.has(key) || this.#expected.has(key)) throw new S5bSidInUseError(jid, sid);
    const what = `opening the SOCKS5 Bytestream '${sid}' with ${jid}`;
    if (options.signal?.aborted) throw new AbortError(what, options.signal.reason);
    this.#busy.add(key);
    let expectation: Expectation | undefined;
    let released = false;
    try {
      const hash = dstAddr(sid, this.link.jid, jid);
      const direct = options.direct ?? this.listener !== undefined;
      const streamhosts: StreamHost[] = [];
      if (direct && this.listener) {
        streamhosts.push(...(await this.directStreamhosts()));
        // XEP-0065 §9.1: bytes the Target sends before we read its answer are kept, not dropped.
        expectation = this.listener.expect(hash, "hold");
      }
      const proxies =
        options.proxies === false
          ? []
          : options.proxies === true || options.proxies === undefined
            ? await this.proxies({ signal: options.signal })
            : [...options.proxies];
      streamhosts.push(...proxies);
      if (streamhosts.length === 0) {
        throw new S5bNoStreamhostError(jid, sid, "no streamhost to offer (no direct streamhost, no proxy)");
      }
      let answer: Element;
      try {
        answer = await this.link.request(
          xml("iq", { type: "set", to: jid }, offerElement(sid, streamhosts)),
          {
            timeoutMs: options.timeoutMs ?? this.requestTimeoutMs,
            signal: options.signal,
          },
        );
      } catch (error) {
        if (error instanceof StanzaError) throw new S5bRefusedError(jid, sid, error);
        throw error;
      }
      const used = answer.getChild("query", NS.S5B)?.getChild("streamhost-used")?.attrs.jid;
      const usedJid = tryParseJid(used)?.full;
      if (usedJid !== undefined && usedJid === this.link.jid && expectation) {
        const connection = expectation.claim();
        released = true;
        if (!connection) {
          throw new S5bProtocolError(
            jid,
            sid,
            "it says it used our streamhost, but no connection with our DST.ADDR is open",
          );
        }
        return this.#adopt(connection, jid, sid, streamhosts[0]!, false, "requester");
      }
      const proxy = proxies.find((p) => tryParseJid(p.jid)?.full === usedJid);
      if (!proxy)
        throw new S5bProtocolError(jid, sid, `it named a streamhost we did not offer (${used ?? "none"})`);
      expectation?.release();
      released = true;
      const connection = await this.connect(proxy, hash, { signal: options.signal });
      try {
        await this.activate(proxy.jid, sid, jid, { signal: options.signal });
      } catch (error) {
        connection.destroy();
        throw error;
      }
      return this.#adopt(connection, jid, sid, proxy, true, "requester");
    } catch (error) {
      this.#busy.delete(key);
      throw error;
    } finally {
      if (!released) expectation?.release();
    }
  }

  /**
   * Target: waits for `peer`'s offer with `sid` (a pre-negotiated bytestream), connects
   * to one of its streamhosts and resolves with the stream. Call it before telling the
   * peer to open. Rejects with {@link S5bNoStreamhostError} (none reachable; the peer got
   * `item-not-found`), `TimeoutError`, `AbortError`, {@link S5bSidInUseError}.
   */
  expect(peer: string, sid: string, options: S5bExpectOptions = {}): Promise<S5bStream> {
    try {
      const jid = fullJid(peer);
      if (!isValidSid(sid))
        throw new TypeError(`sid must be 1 to 127 characters without whitespace, got "${sid}"`);
      this.#assertOpen();
      const key = sessionKey(jid, sid);
      if (this.#busy.has(key) || this.#expected.has(key)) throw new S5bSidInUseError(jid, sid);
      const d = deadline(
        `waiting for the SOCKS5 Bytestream '${sid}' from ${jid}`,
        options.timeoutMs ?? this.requestTimeoutMs,
        options.signal,
      );
      return new Promise<S5bStream>((resolve, reject) => {
        let settled = false;
        const waiting: Waiting = {
          get settled() {
            return settled;
          },
          resolve: (stream) => {
            settled = true;
            d.dispose();
            resolve(stream);
          },
          reject: (error) => {
            settled = true;
            d.dispose();
            reject(error);
          },
        };
        this.#expected.set(key, waiting);
        d.promise.catch((error: Error) => {
          if (this.#expected.get(key) === waiting) this.#expected.delete(key);
          waiting.reject(error);
        });
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Connects to `streamhost` with SOCKS5 CONNECT to `dstAddr` (used by the Jingle
   * transport too). The connection drops whatever arrives until it is opened. An address
   * the {@link candidatePolicy} does not allow is refused before any packet is sent
   * ({@link S5bAddressRefusedError}): the address is the peer's choice (request forgery,
   * port scans from our host — see address-policy.ts).
   */
  async connect(
    streamhost: StreamhostAddress,
    hash: string,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<PendingConnection> {
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#closeSignal()])
      : this.#closeSignal();
    const address = await allowedAddress(streamhost.host, streamhost.port, this.candidatePolicy);
    if (signal.aborted) throw new AbortError("connecting to a SOCKS5 streamhost", signal.reason);
    return connectStreamhost({ ...streamhost, host: address }, hash, {
      timeoutMs: options.timeoutMs ?? this.connectTimeoutMs,
      signal,
    });
  }

  /**
   * XEP-0065 §6.3.5: asks `proxy` to relay the bytestream `sid` between us and `target`
   * (both must be connected to it). Rejects with {@link S5bActivationError}.
   */
  async activate(
    proxy: string,
    sid: string,
    target: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    try {
      await this.link.request(xml("iq", { type: "set", to: proxy }, activateElement(sid, target)), {
        timeoutMs: this.requestTimeoutMs,
        signal: options.signal,
      });
    } catch (error) {
      throw new S5bActivationError(proxy, sid, error, error instanceof StanzaError ? error : undefined);
    }
  }

  /**
   * Stops: rejects pending `expect()`s, closes our listener (if this service created
   * it) and tears down every bytestream still open (end them first for a graceful
   * close). Later offers get `service-unavailable` from the link.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort?.abort(serviceClosed());
    this.#rejectExpected(serviceClosed);
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    if (this.#ownsListener) await this.listener?.close();
    for (const stream of this.#streams) stream.destroy();
  }

  // --- the Target -------------------------------------------------------------------

  async #onQuery(iq: IqRequest): Promise<Element> {
    const peer = tryParseJid(iq.from);
    if (!peer) throw new StanzaError("jid-malformed");
    const query = parseQuery(iq.payload);
    if (query.activate !== undefined) {
      throw new StanzaError("not-allowed", { text: "this entity is not a SOCKS5 proxy" });
    }
    if (query.mode !== "tcp") {
      throw new StanzaError("not-acceptable", { type: "modify", text: "only mode='tcp' is supported" });
    }
    if (query.streamhosts.length === 0) {
      throw new StanzaError("bad-request", { text: "the offer lists no usable <streamhost/>" });
    }
    const { sid } = query;
    const key = sessionKey(peer.full, sid);
    const waiting = this.#expected.get(key);
    if (this.#busy.has(key)) {
      throw new StanzaError("not-acceptable", {
        type: "modify",
        text: "this sid is already in use with you",
      });
    }
    if (!waiting) {
      if (this.#closed || !this.#accept) {
        throw new StanzaError("not-acceptable", { type: "modify", text: "SOCKS5 Bytestream declined" });
      }
      this.#busy.add(key);
      let accepted = false;
      try {
        accepted = await this.#accept({ peer: peer.full, sid, streamhosts: query.streamhosts });
      } catch {
        accepted = false;
      }
      if (!accepted || this.#closed) {
        this.#busy.delete(key);
        // XEP-0065 §5.3.1 shows not-acceptable with type 'modify' (docs/protocol/core.md#stanza-errors).
        throw new StanzaError("not-acceptable", { type: "modify", text: "SOCKS5 Bytestream declined" });
      }
    } else {
      this.#expected.delete(key);
      this.#busy.add(key);
    }
    try {
      // XEP-0065 §5.3.2: DST.ADDR from the JIDs of this very IQ (or the one it gave us).
      const hash = query.dstaddr ?? dstAddr(sid, peer.full, this.link.jid);
      // docs/protocol/socks5.md#errors: try the streamhosts in document order (staggered, first wins).
      const race = new ConnectionRace(
        query.streamhosts,
        (host, signal) =>
          this.connect(host, hash, { signal: AbortSignal.any([signal, this.#closeSignal()]) }),
        this.staggerMs,
      );
      const winner = await race.result;
      if (!winner) {
        const error = new S5bNoStreamhostError(
          peer.full,
          sid,
          "could not connect to any offered streamhost",
          race.failures,
        );
        waiting?.reject(error);
        throw new StanzaError("item-not-found", {
          type: "cancel",
          text: "could not connect to any of the streamhosts offered",
        });
      }
      if (this.#closed || waiting?.settled) {
        // Closed meanwhile, or expect() timed out or was aborted: nobody would read it.
        winner.connection.destroy();
        waiting?.reject(serviceClosed());
        throw new StanzaError("not-acceptable", { type: "modify", text: "SOCKS5 Bytestream declined" });
      }
      // Opened in the same turn as our answer: bytes that came before it were dropped,
      // since the Requester cannot know which streamhost we used until it reads this.
      const mediated = winner.candidate.jid !== peer.full;
      const stream = this.#adopt(winner.connection, peer.full, sid, winner.candidate, mediated, "target");
      if (waiting) waiting.resolve(stream);
      else this.emit("stream", stream);
      return streamhostUsedElement(sid, winner.candidate.jid);
    } catch (error) {
      if (!(error instanceof StanzaError)) {
        waiting?.reject(error as Error);
        this.#busy.delete(key);
      } else if (!this.#streamFor(key)) {
        this.#busy.delete(key);
      }
      throw error;
    }
  }

  // --- helpers ------------------------------------------------------------------------

  #adopt(
    connection: PendingConnection,
    peer: string,
    sid: string,
    streamhost: StreamHost,
    mediated: boolean,
    role: "requester" | "target",
  ): S5bStream {
    const key = sessionKey(peer, sid);
    const stream = connection.open({
      peer,
      sid,
      streamhost,
      mediated,
      role,
      highWaterMark: this.highWaterMark,
    });
    this.#streams.add(stream);
    this.#busy.add(key);
    stream.once("close", () => {
      this.#streams.delete(stream);
      this.#busy.delete(key);
    });
    return stream;
  }

  #streamFor(key: string): S5bStream | undefined {
    for (const stream of this.#streams) if (sessionKey(stream.peer, stream.sid) === key) return stream;
    return undefined;
  }

  /** `error` is made only if an `expect()` is waiting (its stack trace is not free). */
  #rejectExpected(makeError: () => Error): void {
    if (this.#expected.size === 0) return;
    const error = makeError();
    for (const [key, waiting] of [...this.#expected]) {
      this.#expected.delete(key);
      waiting.reject(error);
    }
  }

  #closeSignal(): AbortSignal {
    if (!this.#abort) {
      this.#abort = new AbortController();
      if (this.#closed) this.#abort.abort(serviceClosed());
    }
    return this.#abort.signal;
  }

  #assertOpen(): void {
    if (this.#closed) throw serviceClosed();
  }
}
