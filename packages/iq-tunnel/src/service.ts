/**
 * Mode Q of XTLS: the IQ-based tunnel of the XTLS ProtoXEP 0.0.5 (`urn:xmpp:tmp:xtls`),
 * made precise in docs/protocol/mode-q.md.
 *
 *   initiator                                      responder
 *   <start/> (+ XEP-0250 offer) ──────────────────►
 *                                ◄──────────────── result <proceed/> (+ offer)
 *   <data method='x509'>ClientHello ──────────────►  (each <data/> is acked)
 *                                ◄──────────────── <data>ServerHello…Finished
 *   <data>Certificate…Finished ───────────────────►
 *   == both verified the peer's certificate: open ==
 *   <data>stanzas (TLS application data) ◄════════►
 *   <data>close_notify ◄══════════════════════════►
 *   <close/> ─────────────────────────────────────►  result <closed/>
 *
 * The initiator is the TLS client, the responder the TLS server, which always asks for
 * the client's certificate. One tunnel per peer full JID.
 */
import { EventEmitter } from "node:events";
import {
  Base64Error,
  compareJids,
  decodeBase64Strict,
  type Element,
  NS,
  normalizeJid,
  queryDiscoInfo,
  StanzaError,
  tryParseJid,
  type Unsubscribe,
  type XmppLink,
  xml,
} from "@xtls/core";
import type { ChannelAuth, SrpAuth, TlsEngine } from "@xtls/tls";
import { IqDataCarrier } from "./carrier.js";
import { TunnelClosedError, TunnelRefusedError } from "./errors.js";
import { type AuthOffer, offerElement, parseOffer } from "./offer.js";
import { IqTunnel, type TunnelRole } from "./tunnel.js";

/** What the application decides about an incoming `<start/>`. */
export interface StartRequest {
  /** The peer's full JID. */
  readonly peer: string;
  /** The XEP-0250 offer in the `<start/>`, if any. */
  readonly offer: AuthOffer | undefined;
}

export interface IqTunnelServiceOptions {
  /** Our identity and the trust store used to verify peers. */
  readonly engine: TlsEngine;
  /** Accept or decline incoming starts (declined: `not-acceptable`). Default: accept. */
  readonly accept?: (request: StartRequest) => boolean | Promise<boolean>;
  /** Data IQs in flight per direction. Default 1 (docs/protocol/mode-q.md#data-and-the-window). */
  readonly window?: number;
  /** Raw octets per `<data/>`. Default 4096. */
  readonly chunkSize?: number;
  /** Largest `<data/>` we accept, decoded. Default 65535; more is `bad-request`. */
  readonly maxDataBytes?: number;
  /** Timeout for `<start/>`, `<data/>` and `<close/>` IQs. Default 30 s. */
  readonly requestTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Largest stanza accepted through the tunnel. Default 1 MiB. */
  readonly maxStanzaBytes?: number;
  /**
   * Enables the `srp` method (XEP-0250 `<srp/>` in the offers, `method='srp'` on the first
   * `<data/>`): first contact with a one-time password agreed out of band, asked only
   * when a certificate cannot be verified. Never logged. On success both sides pin each
   * other as verified (see @xtls/tls `SrpAuth`).
   */
  readonly askPassword?: SrpAuth["askPassword"];
  /** More `srp` options: attempt limiter, pairing gate, timeout. */
  readonly srp?: Omit<SrpAuth, "method" | "askPassword" | "advertised">;
}

type Method = "x509" | "srp";

export interface OpenOptions {
  readonly signal?: AbortSignal;
  /** Ask the peer's disco#info first and fail fast when it lacks `urn:xmpp:tmp:xtls`. */
  readonly discover?: boolean;
  /** Fingerprints to pin for this peer in addition to the trust store. */
  readonly pinned?: readonly string[];
}

export interface IqTunnelServiceEvents {
  /** A tunnel a peer started is open (the peer is verified). */
  tunnel: [tunnel: IqTunnel];
  /** A tunnel a peer started failed before it opened (the peer was told with <close/>). */
  failed: [info: { peer: string; error: Error }];
}

const DEFAULTS = {
  window: 1,
  chunkSize: 4096,
  maxDataBytes: 65535,
  requestTimeoutMs: 30_000,
};

interface Starting {
  readonly promise: Promise<IqTunnel>;
}

export class IqTunnelService extends EventEmitter<IqTunnelServiceEvents> {
  readonly link: XmppLink;
  readonly #options: IqTunnelServiceOptions & typeof DEFAULTS;
  readonly #tunnels = new Map<string, IqTunnel>();
  readonly #starting = new Map<string, Starting>();
  /** Responder tunnels whose first <data/> (and so their method) has not arrived yet. */
  readonly #awaitingFirstData = new WeakMap<
    IqTunnel,
    { offer: AuthOffer | undefined; methods: Set<Method> }
  >();
  readonly #unsubscribe: Unsubscribe[] = [];
  #closed = false;

  constructor(link: XmppLink, options: IqTunnelServiceOptions) {
    super();
    this.link = link;
    this.#options = { ...DEFAULTS, ...options };
    this.#unsubscribe.push(
      link.handle("set", NS.XTLS_IQ, "start", (iq) => this.#onStart(iq.from, iq.payload)),
      link.handle("set", NS.XTLS_IQ, "data", (iq) => this.#onData(iq.from, iq.payload)),
      link.handle("set", NS.XTLS_IQ, "close", (iq) => this.#onClose(iq.from)),
      link.disco.addFeature(NS.XTLS_IQ),
      link.onStanza((s) => this.#onPresence(s)),
      link.onClose((error) => {
        for (const t of [...this.#tunnels.values()])
          t.destroy(error ?? new TunnelClosedError(t.peerJid, "the XMPP connection closed"));
      }),
    );
  }

  /** The open (or opening) tunnel with `peer`, if any. */
  tunnel(peer: string): IqTunnel | undefined {
    return this.#tunnels.get(normalizeJid(peer));
  }

  /**
   * Opens a tunnel to `peer` (a full JID) and resolves once the TLS handshake is done
   * and the peer verified. If a tunnel with `peer` is already open, resolves with it.
   * If the peer starts one at the same moment, the conflict rule decides who is the
   * TLS client; either way this resolves with the one tunnel between the two.
   */
  async open(peer: string, options: OpenOptions = {}): Promise<IqTunnel> {
    if (this.#closed) throw new TunnelClosedError(peer, "the service is closed");
    const key = normalizeJid(peer);
    const existing = this.#tunnels.get(key);
    if (existing && existing.state !== "closing" && existing.state !== "closed")
      return this.#whenOpen(existing);
    const starting = this.#starting.get(key);
    if (starting) return starting.promise;
    const promise = this.#start(key, options, true);
    this.#starting.set(key, { promise });
    try {
      return await promise;
    } finally {
      this.#starting.delete(key);
    }
  }

  /** Closes every tunnel cleanly and stops answering. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#tunnels.values()].map((t) => t.close()));
    for (const u of this.#unsubscribe.splice(0)) u();
  }

  async #start(peer: string, options: OpenOptions, mayRetry: boolean): Promise<IqTunnel> {
    if (options.discover) {
      const info = await queryDiscoInfo(this.link, peer, {
        signal: options.signal,
        timeoutMs: this.#options.requestTimeoutMs,
      });
      if (!info.features.includes(NS.XTLS_IQ)) {
        throw new TunnelRefusedError(
          peer,
          new StanzaError("service-unavailable", { text: "urn:xmpp:tmp:xtls is not advertised" }),
        );
      }
    }
    const ourOffer: AuthOffer = {
      fingerprints: [this.#options.engine.identity.fingerprint],
      srp: this.#options.askPassword !== undefined,
      insecure: false,
    };
    let proceed: Element;
    try {
      const result = await this.link.request(
        xml("iq", { type: "set", to: peer }, xml("start", { xmlns: NS.XTLS_IQ }, offerElement(ourOffer))),
        { signal: options.signal, timeoutMs: this.#options.requestTimeoutMs },
      );
      proceed = result.getChild("proceed", NS.XTLS_IQ) ?? xml("proceed", { xmlns: NS.XTLS_IQ });
    } catch (error) {
      if (StanzaError.is(error, "conflict")) {
        // Simultaneous starts: the peer's JID sorts first, its start won, and it
        // answered ours with conflict. Its start reached us first (in-order delivery),
        // so our responder tunnel exists already (docs/protocol/mode-q.md#simultaneous-starts).
        const responder = this.#tunnels.get(peer);
        if (responder) return this.#whenOpen(responder);
        if (mayRetry) {
          // A conflict without a preceding start: the peer's start was lost or refused.
          // Back off 1–3 s with jitter and retry once (REC).
          await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2000));
          return this.#start(peer, options, false);
        }
      }
      if (error instanceof StanzaError) throw new TunnelRefusedError(peer, error);
      throw error;
    }
    const theirOffer = parseOffer(proceed);
    // ProtoXEP: if the offers show the handshake cannot succeed, close at once. The
    // responder names its certificate only if it can verify ours; then x509 is possible
    // when we can verify its certificate too. Otherwise a password both offered (srp).
    const srpBoth = ourOffer.srp && theirOffer?.srp === true;
    const x509Possible =
      theirOffer === undefined ||
      (theirOffer.fingerprints.length > 0 &&
        (!srpBoth || (options.pinned?.length ?? 0) > 0 || (await this.#canVerify(peer, theirOffer))));
    const method: Method | undefined = x509Possible ? "x509" : srpBoth ? "srp" : undefined;
    if (!method) {
      void this.#sendClose(peer);
      throw new TunnelRefusedError(
        peer,
        new StanzaError("not-acceptable", {
          text: "the peer cannot verify our certificate and offered no other method",
        }),
      );
    }
    const tunnel = this.#createTunnel(peer, "initiator", method);
    await this.#handshake(tunnel, theirOffer, options, method);
    return tunnel;
  }

  #createTunnel(peer: string, role: TunnelRole, method: Method = "x509"): IqTunnel {
    const carrier = new IqDataCarrier({
      link: this.link,
      peerJid: peer,
      chunkSize: this.#options.chunkSize,
      window: this.#options.window,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      firstMethod: role === "initiator" ? method : undefined,
    });
    const tunnel: IqTunnel = new IqTunnel({
      localJid: this.link.jid,
      peerJid: peer,
      role,
      carrier,
      maxStanzaBytes: this.#options.maxStanzaBytes,
      hooks: {
        sendClose: () => this.#sendClose(peer),
        detach: () => {
          if (this.#tunnels.get(peer) === tunnel) this.#tunnels.delete(peer);
        },
      },
    });
    this.#tunnels.set(peer, tunnel);
    return tunnel;
  }

  async #handshake(
    tunnel: IqTunnel,
    theirOffer: AuthOffer | undefined,
    options: OpenOptions,
    method: Method,
  ): Promise<void> {
    // The name in the cleartext offer is a hint; the certificate must match it.
    const advertised = theirOffer?.fingerprints.length === 1 ? theirOffer.fingerprints[0] : undefined;
    const auth: ChannelAuth =
      method === "srp"
        ? { ...this.#options.srp, method: "srp", askPassword: this.#options.askPassword!, advertised }
        : { method: "x509", pinned: options.pinned, advertised };
    try {
      const channel = await this.#options.engine.secure(tunnel.carrier, {
        role: tunnel.role,
        localJid: this.link.jid,
        peerJid: tunnel.peerJid,
        auth,
        signal: options.signal,
        handshakeTimeoutMs: this.#options.handshakeTimeoutMs,
      });
      tunnel.established(channel);
    } catch (error) {
      tunnel.destroy(error as Error);
      throw error;
    }
  }

  async #whenOpen(tunnel: IqTunnel): Promise<IqTunnel> {
    await tunnel.opened;
    return tunnel;
  }

  // --- handlers -------------------------------------------------------------------

  async #onStart(from: string, start: Element): Promise<Element> {
    const peer = this.#peerKey(from);
    if (this.#closed) throw new StanzaError("service-unavailable");
    if (this.#starting.has(peer) && compareJids(this.link.jid, peer) < 0) {
      // Both started; our JID sorts first under i;octet, so our start has priority
      // and the peer's gets conflict (ProtoXEP §"Agreeing to Use XTLS").
      throw new StanzaError("conflict", { text: "simultaneous XTLS start; ours has priority (i;octet)" });
    }
    const offer = parseOffer(start);
    if (this.#options.accept && !(await this.#options.accept({ peer, offer }))) {
      throw new StanzaError("not-acceptable", { type: "cancel", text: "XTLS tunnel declined" });
    }
    const old = this.#tunnels.get(peer);
    // A new start from a peer with whom we have a tunnel: it lost its state. Discard
    // the old tunnel and accept the new one (docs/protocol/mode-q.md#cases-the-protoxep-leaves-open).
    old?.destroy(new TunnelClosedError(peer, "the peer started a new tunnel"));
    const tunnel = this.#createTunnel(peer, "responder");
    const canVerify = await this.#canVerify(peer, offer);
    const srp = this.#options.askPassword !== undefined && offer?.srp === true;
    // The handshake starts with the first <data/>, whose method='…' says how to
    // authenticate (it may arrive right after our reply).
    this.#awaitingFirstData.set(tunnel, {
      offer,
      methods: new Set<Method>(srp ? ["x509", "srp"] : ["x509"]),
    });
    tunnel.once("close", (error) => {
      // Closed before its first <data/>: it failed before it opened.
      if (!this.#awaitingFirstData.delete(tunnel)) return;
      this.emit("failed", {
        peer,
        error: error ?? new TunnelClosedError(peer, "closed before the handshake began"),
      });
    });
    // Name our certificate only if we can verify theirs (XEP-0250 §probing).
    const ours: AuthOffer = {
      fingerprints: canVerify ? [this.#options.engine.identity.fingerprint] : [],
      srp,
      insecure: false,
    };
    return xml("proceed", { xmlns: NS.XTLS_IQ }, offer ? offerElement(ours) : null);
  }

  // Whether a fingerprint the peer offered is one we trust (we can verify it).
  async #canVerify(peer: string, offer: AuthOffer | undefined): Promise<boolean> {
    const store = this.#options.engine.trustStore;
    if (!store || !offer) return true;
    const entries = await store.entries(peer);
    return offer.fingerprints.some((fp) =>
      entries.some((e) => e.fingerprint === fp && e.state !== "revoked"),
    );
  }

  #onData(from: string, data: Element): Promise<undefined> | undefined {
    const peer = this.#peerKey(from);
    const tunnel = this.#tunnels.get(peer);
    if (!tunnel || tunnel.state === "closed") {
      if (this.#starting.has(peer)) {
        throw new StanzaError("unexpected-request", { text: "data before the tunnel was agreed" });
      }
      throw new StanzaError("item-not-found", { text: "no XTLS tunnel with you" });
    }
    const method = data.attrs.method;
    const first = this.#awaitingFirstData.get(tunnel);
    if (first) {
      const chosen = (method ?? "x509") as Method;
      if (!first.methods.has(chosen)) {
        this.#awaitingFirstData.delete(tunnel);
        tunnel.destroy(
          new TunnelClosedError(peer, `the peer asked for method '${chosen}', which is not available`),
        );
        this.emit("failed", {
          peer,
          error: new TunnelClosedError(peer, `method '${chosen}' is not available`),
        });
        throw new StanzaError("not-acceptable", {
          type: "cancel",
          text: `method '${chosen}' is not supported`,
        });
      }
      this.#awaitingFirstData.delete(tunnel);
      this.#handshake(tunnel, first.offer, {}, chosen).then(
        () => this.emit("tunnel", tunnel),
        (error: Error) => this.emit("failed", { peer, error }),
      );
    } else if (method !== undefined && method !== "x509" && method !== "srp") {
      tunnel.destroy(
        new TunnelClosedError(peer, `the peer asked for method '${method}', which is not available`),
      );
      throw new StanzaError("not-acceptable", {
        type: "cancel",
        text: `method '${method}' is not supported`,
      });
    }
    let bytes: Buffer;
    try {
      bytes = decodeBase64Strict(data.getText(), { maxBytes: this.#options.maxDataBytes });
    } catch (error) {
      tunnel.destroy(
        new TunnelClosedError(peer, `the peer sent invalid tunnel data (${(error as Error).message})`, error),
      );
      throw new StanzaError("bad-request", {
        type: "cancel",
        text: error instanceof Base64Error ? error.message : "invalid data",
      });
    }
    const room = tunnel.carrier.receive(bytes);
    return room?.then(() => undefined);
  }

  async #onClose(from: string): Promise<Element> {
    const peer = this.#peerKey(from);
    const tunnel = this.#tunnels.get(peer);
    if (!tunnel) throw new StanzaError("item-not-found", { text: "no XTLS tunnel with you" });
    await tunnel.peerClosed();
    return xml("closed", { xmlns: NS.XTLS_IQ });
  }

  #onPresence(stanza: Element): void {
    if (stanza.name !== "presence" || stanza.attrs.type !== "unavailable" || !stanza.attrs.from) return;
    const peer = tryParseJid(stanza.attrs.from)?.full;
    const tunnel = peer ? this.#tunnels.get(peer) : undefined;
    tunnel?.destroy(new TunnelClosedError(tunnel.peerJid, "the peer went offline"));
  }

  async #sendClose(peer: string): Promise<void> {
    try {
      await this.link.request(xml("iq", { type: "set", to: peer }, xml("close", { xmlns: NS.XTLS_IQ })), {
        timeoutMs: this.#options.requestTimeoutMs,
      });
    } catch {
      // item-not-found: the peer already forgot the tunnel. Anything else: it is gone.
    }
  }

  #peerKey(from: string): string {
    const j = tryParseJid(from);
    if (!j) throw new StanzaError("jid-malformed");
    return j.full;
  }
}
