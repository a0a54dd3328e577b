/**
 * One XTLS tunnel (Mode Q) with one peer full JID: the TLS channel over the
 * `<data/>` carrier, and the stanzas inside it.
 *
 * Stanzas travel without a stream header (ProtoXEP 0.0.5 §"Sending Encrypted
 * Stanzas"): we send them with `from`/`to` stripped, and parse what arrives with the
 * restricted stanza parser primed with a synthetic `jabber:client` header. Routing is
 * restored from the carrying IQs: a stanza without `from`/`to` gets the tunnel's JIDs;
 * one that claims another sender or recipient is a spoof, and ends the tunnel
 * (docs/protocol/mode-q.md#stanzas-inside-the-tunnel). Threat: the authenticated peer impersonating
 * a third party to our application through the tunnel.
 */
import { EventEmitter } from "node:events";
import {
  CLIENT_STREAM_HEADER,
  cloneElement,
  type Element,
  IqEngine,
  type IqHandler,
  type IqType,
  type Jid,
  parseJid,
  type RequestOptions,
  StanzaStreamParser,
  tryParseJid,
  type Unsubscribe,
  XtlsError,
} from "@xtls/core";
import type { PeerIdentity, SecureChannel } from "@xtls/tls";
import type { IqDataCarrier } from "./carrier.js";
import { InnerStanzaError, TunnelClosedError } from "./errors.js";

export type TunnelRole = "initiator" | "responder";
export type TunnelState = "handshaking" | "open" | "closing" | "closed";

export interface IqTunnelEvents {
  /** A stanza from the peer, with `from`/`to` restored. */
  stanza: [stanza: Element];
  /** The tunnel ended; `error` is set unless it was a clean close. */
  close: [error?: Error];
}

const STANZA_NAMES = new Set(["message", "presence", "iq"]);
/** How long we wait for the peer's `<close/>` after its TLS close_notify. */
const CLOSE_GRACE_MS = 5000;
/**
 * The receiver of `<close/>` sends its own close_notify (the answer to the closer's)
 * before its `<closed/>`, so that the closer, which does not wait for it, still reads it;
 * it waits for that at most this long (docs/protocol/mode-q.md#closing). A peer that
 * half-closes (TLS 1.3 allows it) sends none and answers at once.
 */
export const CLOSE_ANSWER_GRACE_MS = 1000;
/** Stanzas kept for an application that has not started listening yet. */
const QUEUE_LIMIT = 256;

/** Whether `jid` is the entity's full JID or its bare JID (after normalisation). */
function namesEntity(jid: string, entity: Jid): boolean {
  const j = tryParseJid(jid);
  return j !== undefined && (j.full === entity.full || j.full === entity.bare);
}

/** Resolves once everything written to `carrier` is acknowledged (or it is gone). */
function writtenOut(carrier: IqDataCarrier): Promise<void> {
  if (carrier.writableFinished || carrier.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    carrier.once("finish", () => resolve());
    carrier.once("close", () => resolve());
  });
}

export interface TunnelHooks {
  /** Sends our `<close/>` and resolves when answered (or failed). */
  sendClose(): Promise<void>;
  /** Forget the tunnel (it is closed). */
  detach(): void;
}

export class IqTunnel extends EventEmitter<IqTunnelEvents> {
  readonly localJid: string;
  readonly peerJid: string;
  readonly role: TunnelRole;
  readonly carrier: IqDataCarrier;
  #state: TunnelState = "handshaking";
  #channel: SecureChannel | undefined;
  #error: Error | undefined;
  #peerClosed = false;
  #reading = false;
  readonly #queue: Element[] = [];
  #finished = false;
  #closeTimer: NodeJS.Timeout | undefined;
  readonly #hooks: TunnelHooks;
  readonly #parser: StanzaStreamParser;
  readonly #iq: IqEngine;
  readonly #local: Jid;
  readonly #peer: Jid;
  readonly closed: Promise<void>;
  /** Resolves when the handshake is done and the peer verified; rejects if that fails. */
  readonly opened: Promise<void>;
  #resolveOpened!: () => void;
  #rejectOpened!: (error: Error) => void;
  #resolveClosed!: () => void;
  #rejectClosed!: (error: Error) => void;

  constructor(init: {
    localJid: string;
    peerJid: string;
    role: TunnelRole;
    carrier: IqDataCarrier;
    hooks: TunnelHooks;
    maxStanzaBytes?: number;
  }) {
    super();
    this.localJid = init.localJid;
    this.peerJid = init.peerJid;
    this.role = init.role;
    this.carrier = init.carrier;
    this.#hooks = init.hooks;
    this.#local = parseJid(init.localJid);
    this.#peer = parseJid(init.peerJid);
    this.#parser = new StanzaStreamParser({
      primedHeader: CLIENT_STREAM_HEADER,
      maxStanzaBytes: init.maxStanzaBytes,
    });
    this.#parser.on("stanza", (s) => this.#inbound(s));
    this.#parser.on("error", (e) => this.destroy(new InnerStanzaError(this.peerJid, e.message, e)));
    // A tunnel carries stanzas, not a stream of its own: it ends with a TLS close_notify
    // and <close/>. A `</stream:stream>` inside would make the parser ignore everything
    // after it, silently; it is refused instead.
    this.#parser.on("end", () =>
      this.destroy(
        new InnerStanzaError(this.peerJid, "</stream:stream> inside the tunnel (it ends with <close/>)"),
      ),
    );
    this.#iq = new IqEngine({ ownJid: () => this.localJid, write: (s) => this.send(s) });
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    this.closed.catch(() => {});
    // Stanzas that arrive before the application listens are kept (a bounded queue;
    // when it is full we stop reading and TLS backpressure holds the peer).
    (this as EventEmitter).on("newListener", (event: string | symbol) => {
      if (event === "stanza") queueMicrotask(() => this.#flushQueue());
    });
    this.opened = new Promise<void>((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.opened.catch(() => {});
  }

  get state(): TunnelState {
    return this.#state;
  }

  /** The secure channel, once the handshake succeeded. */
  get channel(): SecureChannel | undefined {
    return this.#channel;
  }

  /** Who the peer is (verified), once open. */
  get peer(): PeerIdentity | undefined {
    return this.#channel?.peer;
  }

  /** @internal the service hands over the verified channel. */
  established(channel: SecureChannel): void {
    if (this.#state !== "handshaking") {
      channel.destroy();
      return;
    }
    this.#channel = channel;
    this.#state = "open";
    this.#resolveOpened();
    channel.stream.on("error", (error) => this.destroy(error));
    channel.stream.on("end", () => this.#inputEnded());
    // The peer's close_notify (and our answer) means the channel is done.
    channel.stream.on("close", () => {
      if (this.#state === "open") this.#peerFinished();
    });
    this.#startReading();
  }

  /**
   * Sends a stanza through the tunnel. `from` and `to` are stripped (the carrying IQs
   * say who talks to whom); the peer restores them.
   */
  send(stanza: Element): Promise<void> {
    const stream = this.#channel?.stream;
    if (this.#state !== "open" || !stream) {
      return Promise.reject(this.#error ?? new TunnelClosedError(this.peerJid, `it is ${this.#state}`));
    }
    const copy = cloneElement(stanza);
    delete copy.attrs.from;
    delete copy.attrs.to;
    return new Promise((resolve, reject) => {
      stream.write(copy.toString(), (error) => (error ? reject(error) : resolve()));
    });
  }

  /** An IQ get/set through the tunnel; resolves with the peer's result. */
  request(iq: Element, options?: RequestOptions): Promise<Element> {
    const copy = cloneElement(iq);
    copy.attrs.to = this.peerJid;
    return this.#iq.request(copy, options);
  }

  /** Answers IQs that arrive through the tunnel (others get service-unavailable). */
  handle(type: IqType, ns: string, name: string, handler: IqHandler): Unsubscribe {
    return this.#iq.handle(type, ns, name, handler);
  }

  /**
   * Clean close: our TLS close_notify, then `<close/>` once the peer acknowledged it, then
   * done when `<closed/>` comes. The peer's close_notify, when it sends one, arrives before
   * its `<closed/>`; a peer that half-closes (TLS 1.3) never sends one, and nothing waits for
   * it (docs/protocol/mode-q.md#closing).
   */
  async close(): Promise<void> {
    if (this.#state === "closed" || this.#state === "closing") return this.closed.catch(() => {});
    if (!this.#channel) {
      this.destroy(new TunnelClosedError(this.peerJid, "closed before the handshake finished"));
      return;
    }
    this.#state = "closing";
    this.#startReading(); // the peer's close_notify must be read
    const stream = this.#channel.stream;
    stream.resume();
    const flushed = writtenOut(this.carrier);
    stream.end(); // close_notify
    await flushed;
    if (this.#error || this.#finished) return;
    await this.#hooks.sendClose();
    this.#channel.destroy();
    this.#finish();
  }

  /** Tears the tunnel down at once; tells the peer with `<close/>` if it can. */
  destroy(error?: Error): void {
    if (this.#finished) return;
    this.#error ??= error;
    this.#state = "closed";
    this.#channel?.destroy();
    this.carrier.destroy();
    if (!this.#peerClosed) void this.#hooks.sendClose();
    this.#finish();
  }

  /**
   * @internal the peer sent `<close/>`. Resolves when `<closed/>` may be answered: once our
   * own close_notify (if we answer the peer's) is out, within {@link CLOSE_ANSWER_GRACE_MS}.
   */
  async peerClosed(): Promise<void> {
    this.#peerClosed = true;
    this.carrier.endOfInput();
    if (!this.#channel) {
      this.destroy(new TunnelClosedError(this.peerJid, "the peer closed the tunnel during the handshake"));
      return;
    }
    // If no close_notify preceded the <close/>, the channel reports truncation; if it
    // did, the channel has closed or will close cleanly. Either way we are done soon.
    const stream = this.#channel.stream;
    if (stream.destroyed || this.#state === "closing") {
      this.#finish();
      return;
    }
    this.#startReading();
    // Everything the peer sent is in (end of input above): wait until TLS has read it.
    if (!stream.readableEnded) {
      await new Promise<void>((resolve) => {
        stream.once("end", resolve);
        stream.once("close", resolve);
      });
    }
    // Not half-open: our close_notify answers theirs; let it out before <closed/>.
    if (stream.writableEnded && !this.carrier.writableFinished && !this.carrier.destroyed) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        writtenOut(this.carrier),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CLOSE_ANSWER_GRACE_MS);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
    }
    // <close/> ends the tunnel, also for a side that kept its sending half open.
    if (!this.#finished) {
      this.#channel.destroy();
      this.#finish();
    }
  }

  #startReading(): void {
    const stream = this.#channel?.stream;
    if (this.#reading || !stream) return;
    this.#reading = true;
    stream.on("data", (chunk: Buffer) => this.#parser.write(chunk));
  }

  #inputEnded(): void {
    this.#parser.end();
  }

  // Both close_notifies are through. The peer's <close/> follows its close_notify;
  // wait a little for it, then consider the tunnel closed anyway.
  #peerFinished(): void {
    if (this.#peerClosed) {
      this.#finish();
      return;
    }
    this.#state = "closing";
    this.#closeTimer = setTimeout(() => this.#finish(), CLOSE_GRACE_MS);
    this.#closeTimer.unref();
  }

  #inbound(stanza: Element): void {
    if (this.#state !== "open" && this.#state !== "closing") return;
    if (!STANZA_NAMES.has(stanza.name)) {
      this.destroy(new InnerStanzaError(this.peerJid, `<${stanza.name}/> is not a stanza`));
      return;
    }
    const { from, to } = stanza.attrs;
    if (from !== undefined && !this.#isPeer(from)) {
      this.destroy(new InnerStanzaError(this.peerJid, `it claims to be from ${from}`));
      return;
    }
    if (to !== undefined && !this.#isUs(to)) {
      this.destroy(new InnerStanzaError(this.peerJid, `it is addressed to ${to}`));
      return;
    }
    stanza.attrs.from = this.peerJid;
    stanza.attrs.to = this.localJid;
    if (this.#iq.receive(stanza)) return;
    if (this.listenerCount("stanza") === 0 || this.#queue.length > 0) {
      this.#queue.push(stanza);
      if (this.#queue.length >= QUEUE_LIMIT) this.#channel?.stream.pause();
      return;
    }
    this.emit("stanza", stanza);
  }

  #flushQueue(): void {
    while (this.#queue.length > 0 && this.listenerCount("stanza") > 0)
      this.emit("stanza", this.#queue.shift()!);
    if (this.#queue.length === 0 && this.#state !== "closed") this.#channel?.stream.resume();
  }

  #isPeer(jid: string): boolean {
    return namesEntity(jid, this.#peer);
  }

  #isUs(jid: string): boolean {
    return namesEntity(jid, this.#local);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#state = "closed";
    if (this.#closeTimer) clearTimeout(this.#closeTimer);
    this.#hooks.detach();
    const error = this.#error;
    this.#rejectOpened(error ?? new TunnelClosedError(this.peerJid, "closed before it opened"));
    this.#iq.close(error ?? new TunnelClosedError(this.peerJid, "closed"));
    if (error) this.#rejectClosed(error);
    else this.#resolveClosed();
    this.emit("close", error);
  }

  /** @internal */
  fail(error: Error): void {
    this.destroy(
      error instanceof XtlsError ? error : new TunnelClosedError(this.peerJid, error.message, error),
    );
  }
}
