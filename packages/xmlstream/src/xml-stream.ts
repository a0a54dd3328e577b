/**
 * An end-to-end XML stream (XEP-0246) over any byte stream; in XTLS Mode J, the plaintext
 * side of a `SecureChannel` (draft-meyer-xmpp-e2e-encryption-02 §4; docs/protocol/xml-stream.md).
 *
 * Both peers speak RFC 6120 §4 to each other: the initiator sends its stream header, the
 * responder answers with its own (with an `id`) and an empty `<stream:features/>`, then
 * either side sends stanzas, and `</stream:stream>` in each direction ends it.
 *
 * Threat: the authenticated peer using the stream to impersonate a third party to our
 * application. Every stanza is stamped with `from` = the peer's full JID and `to` = ours;
 * one that claims another sender or recipient ends the stream with a stream error and is
 * never delivered (docs/protocol/xml-stream.md#stamping-inner-stanzas). Stream-level violations are answered
 * with RFC 6120 §4.9 stream errors.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import {
  cloneElement,
  type Deadline,
  type DiscoIdentity,
  DiscoInfo,
  deadline,
  type Element,
  IqEngine,
  type IqHandler,
  type IqType,
  type Jid,
  NS,
  parseJid,
  type RequestOptions,
  type StanzaListener,
  StanzaStreamParser,
  TimeoutError,
  tryParseJid,
  type Unsubscribe,
  type XmlStreamError,
  type XmppLink,
} from "@xtls/core";
import { StreamClosedError, StreamTruncatedError } from "./errors.js";
import { StanzaInbox } from "./stanza-inbox.js";
import { StreamError, type StreamErrorCondition } from "./stream-error.js";
import {
  checkStreamHeader,
  EMPTY_STREAM_FEATURES,
  STREAM_CLOSE,
  StreamPrologue,
  streamHeader,
} from "./stream-header.js";

export type XmlStreamRole = "initiator" | "responder";
export type XmlStreamState = "opening" | "open" | "closing" | "closed";

export const DEFAULT_OPEN_TIMEOUT_MS = 30_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 5_000;
export const DEFAULT_QUEUE_LIMIT = 256;

export interface XmlStreamOptions {
  /** The Jingle (and TLS) role: the initiator sends the first stream header. */
  readonly role: XmlStreamRole;
  /** Our full JID. */
  readonly localJid: string;
  /** The peer's full JID (as authenticated underneath). */
  readonly peerJid: string;
  /** Aborts opening (before both headers are exchanged); ignored afterwards. */
  readonly signal?: AbortSignal;
  /** How long opening may take. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Each wait while closing (for the peer's `</stream:stream>`, then for the transport). Default 5 000 ms. */
  readonly closeTimeoutMs?: number;
  /** Largest stanza, in octets, before the stream fails with `policy-violation`. Default 1 MiB. */
  readonly maxStanzaBytes?: number;
  /** Deepest element nesting inside a stanza. Default 64. */
  readonly maxDepth?: number;
  /** Stanzas held for a listener that is not there yet (or a slow iterator) before reading pauses. Default 256. */
  readonly queueLimit?: number;
  /** What we answer disco#info queries inside the stream with. */
  readonly identity?: DiscoIdentity;
  /**
   * Called once with the new stream, before any byte of the peer is read: register IQ
   * handlers and disco features here, so that an IQ arriving right behind the peer's
   * stream header (before `openXmlStream` resolves) is answered by them rather than with
   * `service-unavailable`.
   */
  readonly setup?: (stream: XmlStream) => void;
}

export interface XmlStreamEvents {
  /** A message or presence from the peer, with `from`/`to` stamped. (IQs go to handlers.) */
  stanza: [stanza: Element];
  /** The stream ended; `error` is set unless both `</stream:stream>` were exchanged cleanly. */
  close: [error?: Error];
}

const STANZA_NAMES: ReadonlySet<string> = new Set(["message", "presence", "iq"]);
const DEFAULT_MAX_STANZA_BYTES = 1024 * 1024;

/** Whether `jid` is the entity's full JID or its bare JID (after normalisation). */
function namesEntity(jid: string, entity: Jid): boolean {
  const j = tryParseJid(jid);
  return j !== undefined && (j.full === entity.full || j.full === entity.bare);
}

function fullJid(input: string, what: string): Jid {
  const jid = parseJid(input);
  if (jid.resource === "") throw new TypeError(`${what} must be a full JID, not ${input}`);
  return jid;
}

const noop = () => {};

export class XmlStream extends EventEmitter<XmlStreamEvents> implements XmppLink, AsyncIterable<Element> {
  readonly role: XmlStreamRole;
  /** Our full JID (normalised). */
  readonly localJid: string;
  /** The peer's full JID (normalised); every stanza we deliver is stamped with it. */
  readonly peerJid: string;
  /** Our disco#info inside the stream (answered for us). */
  readonly disco: DiscoInfo;
  /** Resolves once both stream headers are exchanged; rejects if opening fails. */
  readonly opened: Promise<void>;
  /** Resolves when the stream closed cleanly; rejects with the error that ended it. */
  readonly closed: Promise<void>;

  readonly #duplex: Duplex;
  readonly #local: Jid;
  readonly #peer: Jid;
  readonly #parser: StanzaStreamParser;
  readonly #prologue = new StreamPrologue();
  readonly #engine: IqEngine;
  readonly #inbox: StanzaInbox;
  readonly #closeTimeoutMs: number;
  readonly #slice: number;
  #state: XmlStreamState = "opening";
  #id: string | undefined;
  #closedBy: "local" | "peer" | undefined;
  #headerSent = false;
  #closeSent = false;
  #peerEnded = false;
  #inputEnded = false;
  #prologueDone = false;
  #featuresAllowed: boolean;
  #error: Error | undefined;
  #releasing = false;
  #finished = false;
  #openDeadline: Deadline | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Writes of our IQ requests still in progress, by id (see #writeIq). */
  readonly #requestWrites = new Map<string, Promise<void>>();
  #resolveOpened!: () => void;
  #rejectOpened!: (error: Error) => void;
  #resolveClosed!: () => void;
  #rejectClosed!: (error: Error) => void;

  /** Starts the stream at once; prefer {@link openXmlStream}, which waits until it is open. */
  constructor(duplex: Duplex, options: XmlStreamOptions) {
    super();
    this.#local = fullJid(options.localJid, "localJid");
    this.#peer = fullJid(options.peerJid, "peerJid");
    this.role = options.role;
    this.localJid = this.#local.full;
    this.peerJid = this.#peer.full;
    this.#duplex = duplex;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    const maxStanzaBytes = options.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES;
    // Input is fed in slices so that feeding stops as soon as the stream is released
    // mid-chunk. (It also kept core's size count per stanza while core's parser counted
    // whole writes; it counts per stanza itself now.)
    this.#slice = Math.max(1, Math.min(16 * 1024, Math.floor(maxStanzaBytes / 4)));
    this.#featuresAllowed = options.role === "initiator";
    this.opened = new Promise<void>((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.opened.catch(noop);
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    this.closed.catch(noop);

    this.disco = new DiscoInfo(options.identity);
    this.#engine = new IqEngine({
      ownJid: () => this.localJid,
      write: (stanza) => this.#writeIq(stanza),
      onHandlerError: (error) => this.#warn("an IQ handler", error),
    });
    this.#engine.handle("get", NS.DISCO_INFO, "query", this.disco.answer);
    this.#inbox = new StanzaInbox({
      limit: options.queueLimit ?? DEFAULT_QUEUE_LIMIT,
      // rawListeners: a once() listener must be called through its wrapper to be removed.
      listeners: () => this.rawListeners("stanza") as Array<(stanza: Element) => void>,
      onListenerError: (error) => this.#warn("a 'stanza' listener", error),
      pause: () => this.#duplex.pause(),
      resume: () => this.#duplex.resume(),
    });
    (this as EventEmitter).on("newListener", (event: string | symbol) => {
      if (event === "stanza") this.#inbox.listenerAdded();
    });

    // Real stream headers are read, so the parser is not primed (unlike Mode Q's).
    this.#parser = new StanzaStreamParser({ maxStanzaBytes, maxDepth: options.maxDepth });
    this.#parser.on("header", (header) => this.#onHeader(header));
    this.#parser.on("stanza", (element) => this.#onElement(element));
    this.#parser.on("end", () => this.#onPeerClose());
    this.#parser.on("error", (error) => this.#onParseError(error));

    options.setup?.(this);
    duplex.on("data", (chunk: Buffer | string) => this.#onData(chunk));
    duplex.on("end", () => this.#onInputEnd());
    duplex.on("error", (error) => this.#release(error));
    duplex.on("close", () => this.#onDuplexClose());

    this.#openDeadline = deadline(
      `opening the XML stream with ${this.peerJid}`,
      options.timeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS,
      options.signal,
    );
    this.#openDeadline.promise.catch((error: Error) => this.#openFailed(error));

    if (duplex.destroyed || duplex.readableEnded || duplex.writableEnded) {
      this.#release(new StreamClosedError(this.peerJid, "the underlying stream was already closed"));
      return;
    }
    if (this.role === "initiator") {
      this.#writeRaw(streamHeader({ from: this.localJid, to: this.peerJid }));
      this.#headerSent = true;
    }
  }

  /** The stream id the responder assigned (RFC 6120 §4.7.3), once known. */
  get id(): string | undefined {
    return this.#id;
  }

  get state(): XmlStreamState {
    return this.#state;
  }

  /** Who sent `</stream:stream>` (or the stream error) first, once the stream is closing. */
  get closedBy(): "local" | "peer" | undefined {
    return this.#closedBy;
  }

  /** `XmppLink`: our own full JID. */
  get jid(): string {
    return this.localJid;
  }

  /**
   * Sends a message, presence or IQ. It goes out as given: XEP-0246 lets stanzas omit
   * `to`/`from` (the peer stamps them), and any that are set are kept. A `to` that names
   * anyone but the peer, or a `from` that names anyone but us, is refused here, because
   * the peer would have to end the stream over it.
   */
  send(stanza: Element): Promise<void> {
    if (this.#state !== "open") {
      return Promise.reject(this.#error ?? new StreamClosedError(this.peerJid, `it is ${this.#state}`));
    }
    const ns = stanza.attrs.xmlns;
    if (!STANZA_NAMES.has(stanza.name) || (ns !== undefined && ns !== NS.CLIENT)) {
      return Promise.reject(
        new TypeError(`only message, presence and iq stanzas can be sent, not <${stanza.name}/>`),
      );
    }
    const { from, to } = stanza.attrs;
    if (to !== undefined && !namesEntity(to, this.#peer)) {
      return Promise.reject(new TypeError(`this stream reaches ${this.peerJid} only, not ${to}`));
    }
    if (from !== undefined && !namesEntity(from, this.#local)) {
      return Promise.reject(new TypeError(`stanzas on this stream come from ${this.localJid}, not ${from}`));
    }
    return this.#write(stanza.toString());
  }

  /**
   * Sends an IQ get/set and resolves with the peer's result (rejects with a `StanzaError`,
   * `TimeoutError`, `AbortError`, or the stream's error if it closes first). `to` is set to
   * the peer's full JID, on which the reply is matched.
   */
  request(iq: Element, options?: RequestOptions): Promise<Element> {
    const { to } = iq.attrs;
    if (to !== undefined && !namesEntity(to, this.#peer)) {
      return Promise.reject(new TypeError(`this stream reaches ${this.peerJid} only, not ${to}`));
    }
    const copy = cloneElement(iq);
    copy.attrs.to = this.peerJid;
    return this.#engine.request(copy, options);
  }

  /** Answers IQs of `type` with payload `<name xmlns=ns/>`; any other get/set gets service-unavailable. */
  handle(type: IqType, ns: string, name: string, handler: IqHandler): Unsubscribe {
    return this.#engine.handle(type, ns, name, handler);
  }

  /** `XmppLink`: same as `on('stanza', listener)`. */
  onStanza(listener: StanzaListener): Unsubscribe {
    this.on("stanza", listener);
    return () => this.off("stanza", listener);
  }

  /** `XmppLink`: same as `once('close', listener)`. */
  onClose(listener: (error?: Error) => void): Unsubscribe {
    this.once("close", listener);
    return () => this.off("close", listener);
  }

  /**
   * Every message and presence from now on (plus those that waited for a listener); ends
   * when the stream closes cleanly and throws its error otherwise. A slow loop holds the
   * peer back instead of buffering without bound. Breaking out does not close the stream.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Element> {
    return this.#inbox.iterate();
  }

  /**
   * Closes the stream (RFC 6120 §4.4): sends `</stream:stream>`, waits up to `closeTimeoutMs`
   * for the peer's, then ends the underlying stream and waits (again bounded) for it to
   * close. Never rejects: `closed` (or the 'close' event) says whether it was clean; a
   * peer that does not answer in time makes it a `TimeoutError`.
   */
  async close(): Promise<void> {
    if (this.#releasing || this.#finished) return this.closed.catch(noop);
    if (this.#state === "opening") {
      this.#writeClose();
      this.#release(new StreamClosedError(this.peerJid, "it was closed before it was open"));
      return this.closed.catch(noop);
    }
    if (this.#state === "open") {
      this.#state = "closing";
      this.#closedBy ??= "local";
      this.#writeClose();
      // The peer's </stream:stream> must be read even if nobody consumes stanzas.
      this.#duplex.resume();
      if (this.#peerEnded) this.#release();
      else {
        this.#timer = setTimeout(
          () =>
            this.#release(
              new TimeoutError(`waiting for ${this.peerJid}'s </stream:stream>`, this.#closeTimeoutMs),
            ),
          this.#closeTimeoutMs,
        );
      }
    }
    return this.closed.catch(noop);
  }

  /**
   * Tears the stream down at once, without the closing handshake: the underlying stream is
   * destroyed. 'close' carries `error` (a `StreamClosedError` if none is given).
   */
  destroy(error?: Error): void {
    if (this.#finished) return;
    this.#error ??= error ?? new StreamClosedError(this.peerJid, "it was destroyed");
    this.#duplex.destroy();
    this.#finish();
  }

  // ─── input ──────────────────────────────────────────────────────────────────────────

  #onData(chunk: Buffer | string): void {
    if (this.#releasing || this.#finished) return;
    let data = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!this.#prologueDone) {
      const result = this.#prologue.take(data);
      if (result.kind === "more") return;
      if (result.kind === "error") {
        this.#violation(result.problem.condition, result.problem.text);
        return;
      }
      this.#prologueDone = true;
      data = result.rest;
    }
    for (let at = 0; at < data.length && !this.#releasing; at += this.#slice) {
      this.#parser.write(data.subarray(at, at + this.#slice));
    }
  }

  #onHeader(header: Element): void {
    if (this.#state !== "opening" || this.#error) return;
    const problem = checkStreamHeader(header, this.#local, this.#peer);
    if (problem) {
      this.#violation(problem.condition, problem.text);
      return;
    }
    if (this.role === "responder") {
      this.#id = randomBytes(16).toString("base64url"); // RFC 6120 §4.7.3: unpredictable
      this.#writeRaw(
        streamHeader({ from: this.localJid, to: this.peerJid, id: this.#id }) + EMPTY_STREAM_FEATURES,
      );
      this.#headerSent = true;
    } else {
      this.#id = header.attrs.id; // RFC 6120 says the responder MUST send one; we do not need it
    }
    this.#state = "open";
    this.#openDeadline?.dispose();
    this.#resolveOpened();
  }

  #onElement(element: Element): void {
    if (this.#error || this.#peerEnded || this.#finished) return;
    if (this.#state !== "open" && this.#state !== "closing") return;
    const features = this.#featuresAllowed;
    this.#featuresAllowed = false;
    if (element.getNS() === NS.STREAMS) {
      const name = element.getName();
      if (name === "error") {
        this.#peerError(StreamError.fromElement(element, this.peerJid));
        return;
      }
      // RFC 6120 §4.3.2: the responder's features follow its header. We ignore what they
      // announce (nothing is negotiated inside XTLS); once is all that is allowed.
      if (name === "features" && features) return;
      this.#violation("unsupported-stanza-type", `<${element.name}/> is not allowed here`);
      return;
    }
    if (!STANZA_NAMES.has(element.name) || element.getNS() !== NS.CLIENT) {
      // RFC 6120 §4.9.3.24: a first-level element the receiver does not support.
      this.#violation(
        "unsupported-stanza-type",
        `<${element.name} xmlns='${element.getNS() ?? ""}'/> is not a stanza`,
      );
      return;
    }
    const { from, to } = element.attrs;
    if (from !== undefined && !namesEntity(from, this.#peer)) {
      // RFC 6120 §4.9.3.9 (invalid-from), or §4.9.3.7 when the value is not even a JID.
      const malformed = tryParseJid(from) === undefined;
      this.#violation(
        malformed ? "improper-addressing" : "invalid-from",
        `a <${element.name}/> claims to be from ${from}`,
      );
      return;
    }
    if (to !== undefined && !namesEntity(to, this.#local)) {
      // RFC 6120 §4.9.3.7 improper-addressing is the condition about stanza addresses; we
      // route for nobody, so a stanza for someone else is improperly addressed here.
      // (host-unknown is about the 'to' of a stream header, checked separately.)
      this.#violation("improper-addressing", `a <${element.name}/> is addressed to ${to}`);
      return;
    }
    element.attrs.from = this.peerJid;
    element.attrs.to = this.localJid;
    const writing =
      element.name === "iq" && element.attrs.type === "error"
        ? this.#requestWrites.get(element.attrs.id ?? "")
        : undefined;
    if (writing !== undefined) {
      // Workaround (see #writeIq): the engine must not see this error before its request's write settled.
      void writing.then(() => setImmediate(() => this.#engine.receive(element)));
      return;
    }
    if (this.#engine.receive(element)) return;
    this.#inbox.deliver(element);
  }

  #onParseError(error: XmlStreamError): void {
    if (this.#inputEnded) {
      this.#release(new StreamTruncatedError(this.peerJid, error.message, error));
      return;
    }
    // not-well-formed, restricted-xml, policy-violation (size/depth), bad-format: all RFC 6120 conditions.
    this.#violation(error.condition, error.message, error);
  }

  // The peer sent </stream:stream>.
  #onPeerClose(): void {
    if (this.#peerEnded) return;
    this.#peerEnded = true;
    if (this.#releasing || this.#finished) return;
    this.#closedBy ??= "peer";
    if (this.#state === "opening") {
      this.#writeClose();
      this.#release(new StreamClosedError(this.peerJid, "the peer closed it before it was open"));
      return;
    }
    // RFC 6120 §4.4: answer with our own closing tag, then the transport may go.
    this.#state = "closing";
    this.#writeClose();
    this.#release();
  }

  #onInputEnd(): void {
    this.#inputEnded = true;
    this.#parser.end(); // a stanza cut in half is reported through #onParseError
    if (!this.#peerEnded) {
      this.#release(new StreamTruncatedError(this.peerJid, "the underlying stream ended"));
    }
  }

  #onDuplexClose(): void {
    if (this.#finished) return;
    if (!this.#peerEnded && !this.#error) {
      this.#error = new StreamTruncatedError(this.peerJid, "the underlying stream closed");
    }
    this.#finish();
  }

  // ─── failure and teardown ───────────────────────────────────────────────────────────

  // The peer broke a rule: tell it with a stream error, then close (RFC 6120 §4.9.1.1).
  #violation(condition: StreamErrorCondition, text: string, cause?: unknown): void {
    if (this.#releasing || this.#finished) return;
    const error = new StreamError(condition, { origin: "local", peer: this.peerJid, text, cause });
    this.#closedBy ??= "local";
    if (!this.#headerSent) {
      // RFC 6120 §4.9.1.2: a responder refusing the initial header still sends its own first.
      this.#writeRaw(
        streamHeader({ from: this.localJid, to: this.peerJid, id: randomBytes(16).toString("base64url") }),
      );
      this.#headerSent = true;
    }
    this.#writeRaw(error.toElement().toString());
    this.#writeClose();
    this.#release(error);
  }

  // The peer closed the stream with an error: never answer one with another; just close.
  #peerError(error: StreamError): void {
    this.#closedBy ??= "peer";
    this.#writeClose();
    this.#release(error);
  }

  #openFailed(error: Error): void {
    if (this.#state !== "opening" || this.#releasing || this.#finished) return;
    this.#closedBy ??= "local";
    if (error instanceof TimeoutError && this.#headerSent) {
      // RFC 6120 §4.9.3.4: the peer seems unable to communicate; the app sees the TimeoutError.
      this.#writeRaw(
        new StreamError("connection-timeout", { origin: "local", peer: this.peerJid }).toElement().toString(),
      );
    }
    this.#writeClose();
    this.#release(error); // a TimeoutError or an AbortError
  }

  /**
   * Ends the stream: no more stanzas are delivered, our side of the underlying stream is
   * ended, and once it has closed (or `closeTimeoutMs` passed) the stream is finished.
   * The first error recorded is the one the application sees.
   */
  #release(error?: Error): void {
    if (error) this.#error ??= error;
    if (this.#releasing || this.#finished) return;
    this.#releasing = true;
    if (this.#state !== "closed") this.#state = "closing";
    this.#openDeadline?.dispose();
    this.#rejectOpened(this.#error ?? new StreamClosedError(this.peerJid, "it closed while opening"));
    this.#engine.close(this.#error ?? new StreamClosedError(this.peerJid, "it closed"));
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#duplex.destroyed) {
      this.#finish();
      return;
    }
    this.#duplex.resume(); // read on, or the peer's end (TLS close_notify) is never seen
    if (!this.#duplex.writableEnded) this.#duplex.end();
    this.#timer = setTimeout(() => {
      this.#duplex.destroy();
      this.#finish();
    }, this.#closeTimeoutMs);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#state = "closed";
    if (this.#timer) clearTimeout(this.#timer);
    this.#openDeadline?.dispose();
    if (!this.#duplex.destroyed && this.#error) this.#duplex.destroy();
    const error = this.#error;
    this.#rejectOpened(error ?? new StreamClosedError(this.peerJid, "it closed while opening"));
    this.#engine.close(error ?? new StreamClosedError(this.peerJid, "it is closed"));
    this.#inbox.end(error);
    if (error) this.#rejectClosed(error);
    else this.#resolveClosed();
    this.emit("close", error);
  }

  // ─── output ─────────────────────────────────────────────────────────────────────────

  #write(text: string): Promise<void> {
    const duplex = this.#duplex;
    if (duplex.destroyed || duplex.writableEnded) {
      return Promise.reject(
        this.#error ?? new StreamClosedError(this.peerJid, "the underlying stream is closed"),
      );
    }
    return new Promise((resolve, reject) => {
      duplex.write(text, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * The IqEngine's writer. Workaround for @xtls/core's `IqEngine.request`, which attaches
   * a handler to its pending reply only after the request's write settled: an error reply
   * arriving before that (an in-memory Duplex delivers it synchronously, inside our
   * write) rejects an unhandled promise, which Node's default mode turns into a crash.
   * So an error reply to a request still being written is handed over once the write
   * settled and the engine's continuation ran (setImmediate); see #onElement.
   */
  #writeIq(stanza: Element): Promise<void> {
    const written = this.send(stanza);
    const { type, id } = stanza.attrs;
    if ((type === "get" || type === "set") && id !== undefined) {
      const settled = written.then(noop, noop);
      this.#requestWrites.set(id, settled);
      void settled.then(() => setImmediate(() => this.#requestWrites.delete(id)));
    }
    return written;
  }

  // Protocol output: failures surface through the duplex's 'error' event instead.
  #writeRaw(text: string): void {
    this.#write(text).catch(noop);
  }

  #writeClose(): void {
    if (this.#closeSent || !this.#headerSent) return;
    this.#closeSent = true;
    this.#writeRaw(STREAM_CLOSE);
  }

  #warn(what: string, error: unknown): void {
    process.emitWarning(
      `${what} of the XML stream ${this.localJid} ↔ ${this.peerJid} threw: ${error instanceof Error ? error.stack : String(error)}`,
    );
  }
}

/**
 * Opens an end-to-end XML stream over `duplex` and resolves once both stream headers are
 * exchanged. Rejects (and tears `duplex` down) if the peer's header is refused, the peer
 * closes, `timeoutMs` passes (`TimeoutError`) or `signal` aborts (`AbortError`).
 */
export async function openXmlStream(duplex: Duplex, options: XmlStreamOptions): Promise<XmlStream> {
  const stream = new XmlStream(duplex, options);
  await stream.opened;
  return stream;
}
