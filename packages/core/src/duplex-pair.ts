/**
 * Two connected in-memory `Duplex` streams (Node 22's `duplexPair` for Node 20), with
 * real backpressure: a write completes only when the other side has room to read it.
 * `end()` on one side ends the other's readable side; `destroy()` closes both.
 */
import { Duplex } from "node:stream";

class PairedDuplex extends Duplex {
  peer!: PairedDuplex;
  #pendingWrite: (() => void) | undefined;

  override _read(): void {
    const resume = this.peer.#pendingWrite;
    this.peer.#pendingWrite = undefined;
    resume?.();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peer.destroyed) {
      callback(new Error("the other end of the duplex pair is closed"));
      return;
    }
    if (this.peer.push(chunk)) callback();
    else this.#pendingWrite = () => callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const resume = this.#pendingWrite;
    this.#pendingWrite = undefined;
    resume?.();
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }
}

export interface DuplexPairOptions {
  /** Bytes buffered on each readable side before writes wait. Default 64 KiB. */
  highWaterMark?: number;
}

export function duplexPair(options: DuplexPairOptions = {}): [Duplex, Duplex] {
  const hwm = options.highWaterMark ?? 64 * 1024;
  const a = new PairedDuplex({ readableHighWaterMark: hwm, writableHighWaterMark: hwm });
  const b = new PairedDuplex({ readableHighWaterMark: hwm, writableHighWaterMark: hwm });
  a.peer = b;
  b.peer = a;
  return [a, b];
}
