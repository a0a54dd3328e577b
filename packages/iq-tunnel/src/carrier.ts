/**
 * The byte stream of a Mode Q tunnel: TLS records travel as Base64 in
 * `<data xmlns='urn:xmpp:tmp:xtls'/>` IQ-sets, each acknowledged with an empty result
 * (ProtoXEP 0.0.5 §"TLS Handshake"). TLS treats it as an opaque stream, so chunk
 * boundaries need not match record boundaries (Karneges' point, seed 000).
 *
 * Flow control both ways: at most `window` data IQs are unacknowledged at once, and
 * we acknowledge a peer's data only when our reader has room, so a slow reader slows
 * the sender instead of growing a buffer.
 */
import { Duplex } from "node:stream";
import { type Element, encodeBase64, NS, type XmppLink, xml } from "@xtls/core";
import { TunnelDataError } from "./errors.js";

export interface IqDataCarrierOptions {
  readonly link: XmppLink;
  readonly peerJid: string;
  /** Raw octets per `<data/>` (before Base64). docs/protocol/mode-q.md#data-and-the-window: ≤ 4096. */
  readonly chunkSize: number;
  /** Unacknowledged data IQs allowed in flight (REC: 1). */
  readonly window: number;
  readonly requestTimeoutMs: number;
  /** The `method` attribute for our first `<data/>` (the initiator's ClientHello). */
  readonly firstMethod?: string;
  /** Bytes held for our reader before we stop acknowledging. */
  readonly highWaterMark?: number;
}

export class IqDataCarrier extends Duplex {
  readonly #options: IqDataCarrierOptions;
  #inFlight = 0;
  #slotWaiters: Array<() => void> = [];
  #drainWaiters: Array<() => void> = [];
  #heldAcks: Array<() => void> = [];
  #firstSent = false;
  /** Octets sent and received, for transcripts and tests. */
  bytesOut = 0;
  bytesIn = 0;
  dataStanzasOut = 0;

  constructor(options: IqDataCarrierOptions) {
    super({ readableHighWaterMark: options.highWaterMark ?? 64 * 1024, writableHighWaterMark: 64 * 1024 });
    this.#options = options;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#sendAll(chunk).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#sendAll(Buffer.concat(chunks.map((c) => c.chunk))).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Finished only once every data IQ has been acknowledged.
    this.#idle().then(() => callback(), callback);
  }

  override _read(): void {
    const held = this.#heldAcks;
    this.#heldAcks = [];
    for (const ack of held) ack();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const wake of [...this.#slotWaiters, ...this.#drainWaiters]) wake();
    this.#slotWaiters = [];
    this.#drainWaiters = [];
    this._read(); // answer held acks; the tunnel rejects later data itself
    callback(error);
  }

  /**
   * Takes the decoded octets of one incoming `<data/>`, in arrival order. Resolves
   * when the IQ may be acknowledged (our reader has room).
   */
  receive(bytes: Buffer): Promise<void> | undefined {
    this.bytesIn += bytes.length;
    if (bytes.length === 0 || this.push(bytes)) return undefined;
    return new Promise((resolve) => this.#heldAcks.push(resolve));
  }

  /** No more incoming data (the peer sent `<close/>`). */
  endOfInput(): void {
    if (!this.readableEnded) this.push(null);
  }

  async #sendAll(buf: Buffer): Promise<void> {
    const { chunkSize } = this.#options;
    for (let offset = 0; offset < buf.length; offset += chunkSize) {
      while (this.#inFlight >= this.#options.window) {
        await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
        if (this.destroyed)
          throw new TunnelDataError(this.#options.peerJid, new Error("the tunnel is closed"));
      }
      this.#sendOne(buf.subarray(offset, offset + chunkSize));
    }
  }

  #sendOne(piece: Buffer): void {
    const { link, peerJid, requestTimeoutMs } = this.#options;
    const attrs: Record<string, string> = { xmlns: NS.XTLS_IQ };
    if (!this.#firstSent && this.#options.firstMethod) attrs.method = this.#options.firstMethod;
    this.#firstSent = true;
    const iq: Element = xml("iq", { type: "set", to: peerJid }, xml("data", attrs, encodeBase64(piece)));
    this.#inFlight++;
    this.bytesOut += piece.length;
    this.dataStanzasOut++;
    link.request(iq, { timeoutMs: requestTimeoutMs }).then(
      () => this.#acked(),
      (error: unknown) => {
        this.#acked();
        // ProtoXEP: "If an error is detected, the tunnel MUST be considered closed and invalid."
        this.destroy(new TunnelDataError(peerJid, error));
      },
    );
  }

  #acked(): void {
    this.#inFlight--;
    this.#slotWaiters.shift()?.();
    if (this.#inFlight === 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }
}
