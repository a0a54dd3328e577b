/**
 * One In-Band Bytestream (XEP-0047 v2.0.1) as a Node `Duplex`, for one (peer full JID, sid).
 *
 *   write()  ──► <iq type='set'><data sid seq>Base64</data></iq>, at most `window` unacknowledged (§2.2)
 *   push()   ◄── the peer's <data/>, in arrival order; its ack is withheld while our reader is full
 *   end()    ──► once every data IQ is acknowledged, <close/>; the peer's data is still accepted
 *                until the close is answered (§2.3, docs/protocol/ibb.md#closing)
 *   peer's <close/> ──► our readable side ends; what we had queued is flushed; then we answer
 *
 * States (XEP-0047 §2): "open" → "closing" (a <close/> is under way, ours or the
 * peer's) → "closed". Each direction has its own `seq`, starting at 0 (§3).
 */
import { Duplex } from "node:stream";
import { finished } from "node:stream/promises";
import {
  decodeBase64Strict,
  LinkClosedError,
  StanzaError,
  type StanzaErrorCondition,
  withDeadline,
  type XmppLink,
  xml,
} from "@xtls/core";
import { closeElement, dataElement, type IbbStanzaKind, nextSeq, parseUnsignedShort } from "./elements.js";
import { IbbClosedError, IbbDeliveryError, IbbProtocolError, type IbbViolation } from "./errors.js";

export type IbbStreamState = "open" | "closing" | "closed";

/** What a stream is made of; {@link InBandBytestreams} creates streams, applications do not. */
export interface IbbStreamInit {
  readonly link: XmppLink;
  /** The peer's full JID, normalised. */
  readonly peer: string;
  readonly sid: string;
  readonly blockSize: number;
  /** How the peer announced it sends data (we always send IQs). */
  readonly stanza: IbbStanzaKind;
  readonly window: number;
  /** For `<close/>`, and the longest we wait to flush before answering the peer's `<close/>`. */
  readonly requestTimeoutMs: number;
  /** For each `<data/>` IQ: how long the peer may withhold its ack. */
  readonly ackTimeoutMs: number;
  /** Octets held for our reader before we withhold acks. */
  readonly highWaterMark: number;
  /** Called once, when the stream leaves its service's registry. */
  readonly onDetach: () => void;
}

// Error replies to a <data/> after which sending <close/> is pointless: the peer (or its
// session) is gone (docs/protocol/ibb.md#delivery-errors).
const PEER_GONE = new Set<StanzaErrorCondition>([
  "item-not-found",
  "service-unavailable",
  "recipient-unavailable",
  "remote-server-timeout",
  "remote-server-not-found",
  "gone",
]);

interface HeldAck {
  release(): void;
  refuse(error: StanzaError): void;
}

export class IbbStream extends Duplex {
  /** The peer's full JID (normalised). */
  readonly peer: string;
  readonly sid: string;
  /** Largest chunk in raw octets, both directions (XEP-0047 §2.1). */
  #tail: Buffer | undefined;
  /** A _write is being sent (it owns the tail until its callback). */
  #writing = false;
  #flushScheduled = false;
  /** The held tail follows bulk data: it goes with the next write, or once nothing is in flight. */
  #tailWaitsForAck = false;
  readonly blockSize: number;
  /** How the peer announced it sends data; our own direction always uses IQs (§4, docs/protocol/ibb.md#message-stanzas). */
  readonly stanza: IbbStanzaKind;
  /** Our `<data/>` IQs allowed unacknowledged at once. */
  readonly window: number;
  /** Raw octets and `<data/>` stanzas received and sent. */
  bytesIn = 0;
  bytesOut = 0;
  stanzasIn = 0;
  stanzasOut = 0;

  readonly #init: IbbStreamInit;
  #state: IbbStreamState = "open";
  #closedBy: "us" | "peer" | undefined;
  #closedWhy: string | undefined;
  #seqOut = 0;
  #seqIn = 0;
  #inFlight = 0;
  #wakeups: Array<() => void> = [];
  #heldAcks: HeldAck[] = [];
  #inputEnded = false;
  #detached = false;
  #closeOnDestroy = true;

  constructor(init: IbbStreamInit) {
    super({
      allowHalfOpen: true,
      readableHighWaterMark: init.highWaterMark,
      writableHighWaterMark: Math.max(init.highWaterMark, init.blockSize),
    });
    this.#init = init;
    this.peer = init.peer;
    this.sid = init.sid;
    this.blockSize = init.blockSize;
    this.stanza = init.stanza;
    this.window = init.window;
  }

  get state(): IbbStreamState {
    return this.#state;
  }

  /** Data IQs sent and not yet acknowledged. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Ends our direction and resolves once the peer has answered our `<close/>` (every
   * `<data/>` acknowledged first). Rejects with the error that destroyed the stream.
   */
  async close(): Promise<void> {
    if (this.writableFinished) return;
    if (this.destroyed) throw this.errored ?? this.#closedError();
    this.end();
    await finished(this, { readable: false });
  }

  // --- our direction ----------------------------------------------------------------

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#writing = true;
    this.#send(chunk).then(
      () => this.#afterWrite(callback),
      (error: Error) => {
        this.#writing = false;
        callback(error);
      },
    );
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), "binary", callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#flushTail()
      .then(() => this.#sendClose())
      .then(() => callback(), callback);
  }

  // A write completes once its chunks are sent within the window, not when they are acked.
  #afterWrite(callback: (error?: Error | null) => void): void {
    this.#writing = false;
    callback();
    // After the callback: a writer that goes on (TLS writes its next records from an
    // immediate queued by that callback) comes first and takes the tail along.
    if (!this.#tailWaitsForAck) this.#scheduleTailFlush();
    this.#notify(); // writableLength just dropped: a peer's <close/> may be waiting for it
  }

  /**
   * Sends `bytes` as blocks. A last, partial block is held back as the start of the next
   * block. After a write that filled whole blocks (bulk data: TLS writes the records of
   * each 64 KiB the application writes at once, the last one short), the tail waits for
   * the next write, or until every block in flight is acknowledged (Nagle's rule): it cost
   * a stanza of its own every 64 KiB before (25% more stanzas than plain IBB over 16 KiB
   * blocks, 0.86× its throughput at Prosody's ceiling). After a small write (a handshake
   * message, a chat line) it goes out on the next turn of the event loop, so a writer
   * waiting for an answer never waits on an ack.
   */
  async #send(input: Buffer, flush = false): Promise<void> {
    // The bytes to send are the held tail followed by `input`; only the first block is
    // copied (the tail topped up from `input`), not the whole write: this is the per-chunk
    // path of every bulk transfer.
    const held = this.#tail;
    this.#tail = undefined;
    const h = held?.length ?? 0;
    const first = held && Buffer.concat([held, input.subarray(0, this.blockSize - h)]);
    const total = h + input.length;
    const block = (at: number) =>
      at === 0 && first ? first : input.subarray(at - h, at - h + this.blockSize);
    let bulk = false;
    for (let at = 0; at < total; at += this.blockSize) {
      await this.#until(() => this.#inFlight < this.window || this.#state === "closed");
      if (this.#state === "closed") throw this.#closedError();
      if (!flush && total - at < this.blockSize) {
        this.#tail = at === 0 && first ? first : Buffer.from(block(at));
        this.#tailWaitsForAck = bulk && this.#inFlight > 0;
        return;
      }
      this.#sendChunk(block(at));
      bulk = true;
    }
  }

  #scheduleTailFlush(): void {
    if (!this.#tail || this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() =>
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#sendTailNow();
      }),
    );
  }

  // Sends the held tail if nothing else will: no write under way or buffered, and room
  // in the window now (else the next ack calls this again). Synchronous, so it can never
  // overtake or be overtaken by a write.
  #sendTailNow(): void {
    if (!this.#tail || this.#writing || this.writableLength > 0) return;
    // After bulk data, Nagle's rule: the short tail waits until the pipe is empty, so
    // while the window is busy a writer's next records can still join it.
    if (this.#tailWaitsForAck && this.#inFlight > 0) return;
    if (this.#state === "closed" || this.destroyed || this.#inFlight >= this.window) return;
    const tail = this.#tail;
    this.#tail = undefined;
    this.#sendChunk(tail);
  }

  async #flushTail(): Promise<void> {
    const tail = this.#tail;
    if (!tail) return;
    this.#tail = undefined;
    await this.#send(tail, true);
  }

  #sendChunk(chunk: Buffer): void {
    const seq = this.#seqOut;
    this.#seqOut = nextSeq(seq);
    this.#inFlight++;
    this.bytesOut += chunk.length;
    this.stanzasOut++;
    const iq = xml("iq", { type: "set", to: this.peer }, dataElement(this.sid, seq, chunk));
    this.#init.link.request(iq, { timeoutMs: this.#init.ackTimeoutMs }).then(
      () => {
        this.#inFlight--;
        this.#sendTailNow();
        this.#notify();
      },
      (error: unknown) => {
        this.#inFlight--;
        this.#deliveryFailed(error);
        this.#notify();
      },
    );
  }

  // XEP-0047 §2.2: "Upon delivery failure, the sender MUST consider the bytestream to be
  // closed and invalid." docs/protocol/ibb.md#delivery-errors: fatal, whatever the condition.
  #deliveryFailed(error: unknown): void {
    if (this.destroyed) return;
    const stanzaError = error instanceof StanzaError ? error : undefined;
    const peerGone = stanzaError ? PEER_GONE.has(stanzaError.condition) : error instanceof LinkClosedError;
    // bad-request / unexpected-request: the sender MUST close (XEP-0047 §2.2).
    this.#teardown(new IbbDeliveryError(this.peer, this.sid, error, stanzaError), !peerGone);
  }

  async #sendClose(): Promise<void> {
    await this.#until(() => this.#inFlight === 0 || this.#state === "closed");
    if (this.#state !== "open") return; // the peer's <close/> is under way or done: nothing to send
    this.#state = "closing";
    this.#closedBy = "us";
    try {
      await this.#init.link.request(xml("iq", { type: "set", to: this.peer }, closeElement(this.sid)), {
        timeoutMs: this.#init.requestTimeoutMs,
      });
    } catch (error) {
      // XEP-0047 §2.3: "Upon error, the bytestream MUST be considered closed and invalid."
      // item-not-found: the peer had already forgotten it, which ends it just the same.
      if (!StanzaError.is(error, "item-not-found")) {
        this.#closeOnDestroy = false;
        throw new IbbDeliveryError(
          this.peer,
          this.sid,
          error,
          error instanceof StanzaError ? error : undefined,
        );
      }
    }
    this.#closed("we closed it");
  }

  // --- the peer's direction (called by InBandBytestreams) ---------------------------

  /**
   * One incoming `<data/>` (from an IQ or a message), already matched to this (peer, sid).
   * Runs synchronously up to the push, so chunks are delivered in arrival order. Returns
   * a promise when the ack must wait for our reader; throws the `StanzaError` to answer
   * with, after closing the bytestream, when the peer broke the protocol.
   * @internal
   */
  receiveData(data: {
    attrs: Record<string, string | undefined>;
    getText(): string;
  }): Promise<void> | undefined {
    if (this.#state === "closed" || this.#closedBy === "peer") {
      // After the peer's own <close/>, the peer has no direction left to send in.
      throw new StanzaError("item-not-found", { type: "cancel", text: "this bytestream is closed" });
    }
    const seq = parseUnsignedShort(data.attrs.seq);
    if (seq === undefined) this.#violation("bad-data", "bad-request", "a <data/> without a valid 'seq'");
    // docs/protocol/ibb.md#receiver-errors: anything but the expected seq (repeated, skipped) is fatal; never resynchronise.
    if (seq !== this.#seqIn)
      this.#violation("bad-seq", "unexpected-request", `seq ${seq} where ${this.#seqIn} was due`);
    let bytes: Buffer;
    try {
      // XEP-0047 §6: reject (never skip) anything outside the Base64 alphabet, and any misplaced '='.
      bytes = decodeBase64Strict(data.getText());
    } catch (error) {
      this.#violation("bad-base64", "bad-request", (error as Error).message);
    }
    if (bytes.length > this.blockSize) {
      this.#violation(
        "block-too-large",
        "bad-request",
        `${bytes.length} octets in a block of ${this.blockSize}`,
      );
    }
    this.#seqIn = nextSeq(seq);
    this.stanzasIn++;
    this.bytesIn += bytes.length;
    if (bytes.length === 0 || this.push(bytes)) return undefined;
    // Our reader is full: the ack waits for _read(), which holds the sender (backpressure).
    return new Promise((release, refuse) => this.#heldAcks.push({ release, refuse }));
  }

  /**
   * The peer's `<close/>`. Resolves when we may answer it with a result: our readable
   * side has ended and what we had queued in our direction is acknowledged (bounded by
   * the request timeout). @internal
   */
  async receiveClose(): Promise<void> {
    if (this.#state === "closed") return;
    if (this.#state === "closing") {
      // Both sides closed at once; ours is (or was) under way, nothing is left to flush.
      this.#closed("both sides closed it");
      return;
    }
    this.#state = "closing";
    this.#closedBy = "peer";
    this.#endInput();
    const flushed = this.#until(
      () =>
        (this.#inFlight === 0 && this.writableLength === 0 && this.#tail === undefined) ||
        this.#state === "closed",
    );
    flushed.catch(() => {});
    await withDeadline(
      `flushing the In-Band Bytestream '${this.sid}'`,
      flushed,
      this.#init.requestTimeoutMs,
    ).catch(() => {});
    this.#closed("the peer closed it");
  }

  /**
   * The stream is gone for reasons outside the protocol (connection closed, peer
   * offline): destroyed with `error`, without a `<close/>`. @internal
   */
  abandon(error?: Error): void {
    this.#teardown(error, false);
  }

  // --- both ---------------------------------------------------------------------------

  override _read(): void {
    const held = this.#heldAcks;
    this.#heldAcks = [];
    for (const ack of held) ack.release();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const wasOpen = this.#state === "open";
    this.#state = "closed";
    this.#closedWhy ??= error ? error.message : "it was destroyed";
    // Data we withheld acks for will never reach a reader: say so rather than ack it.
    const held = this.#heldAcks;
    this.#heldAcks = [];
    for (const ack of held) ack.refuse(new StanzaError("item-not-found", { type: "cancel", text: "closed" }));
    this.#detach();
    this.#notify();
    if (wasOpen && this.#closeOnDestroy) {
      // Best effort, and after the error reply that may have caused this (it is written first).
      const iq = xml("iq", { type: "set", to: this.peer }, closeElement(this.sid));
      setImmediate(() => {
        this.#init.link.request(iq, { timeoutMs: this.#init.requestTimeoutMs }).catch(() => {});
      });
    }
    callback(error);
  }

  #violation(violation: IbbViolation, condition: StanzaErrorCondition, detail: string): never {
    // XEP-0047's examples answer these with type 'cancel' (docs/protocol/core.md#stanza-errors).
    const reply = new StanzaError(condition, { type: "cancel", text: detail });
    this.#teardown(new IbbProtocolError(this.peer, this.sid, violation, condition, detail), true);
    throw reply;
  }

  #teardown(error: Error | undefined, sendClose: boolean): void {
    if (this.destroyed) return;
    this.#closeOnDestroy = sendClose;
    this.destroy(error);
  }

  #closed(why: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#closedWhy = why;
    this.#endInput();
    this.#detach();
    this.#notify();
  }

  #endInput(): void {
    if (this.#inputEnded || this.destroyed) return;
    this.#inputEnded = true;
    this.push(null);
    // No more data can follow, and Node stops calling _read() once the end is pushed:
    // answer any withheld acks now (their bytes are buffered for the reader).
    this._read();
  }

  #detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.#init.onDetach();
  }

  #closedError(): IbbClosedError {
    return new IbbClosedError(this.peer, this.sid, this.#closedWhy ?? "it was destroyed");
  }

  // Waits until `cond` holds; every ack, finished write, state change and teardown
  // re-checks it. Throws once the stream is destroyed.
  async #until(cond: () => boolean): Promise<void> {
    for (;;) {
      if (this.destroyed) throw this.errored ?? this.#closedError();
      if (cond()) return;
      await new Promise<void>((resolve) => this.#wakeups.push(resolve));
    }
  }

  #notify(): void {
    const wakeups = this.#wakeups;
    this.#wakeups = [];
    for (const wake of wakeups) wake();
  }
}
