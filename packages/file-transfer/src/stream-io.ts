/**
 * Reading exact amounts from, and writing with backpressure to, the plaintext stream of
 * the tunnel. Nothing is buffered beyond what the stream itself holds: a read asks for
 * at most what the caller can take, and a write waits for 'drain'.
 *
 * Every wait also ends when the session ends (the abort signal) or when the peer has
 * been silent for `idleTimeoutMs`. No 'readable' listener stays attached between
 * reads, so whoever closes the stream later can still drain it with `resume()`.
 */
import type { Duplex, Readable, Writable } from "node:stream";
import { FileTransferError } from "./errors.js";

/** The stream ended cleanly (TLS close_notify) before the expected octets. */
export class StreamEndedError extends Error {
  override readonly name = "StreamEndedError";
  /** What arrived before the end. */
  readonly partial: Buffer;

  constructor(partial: Buffer) {
    super(`the stream ended after ${partial.length} more octets`);
    this.partial = partial;
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("the session ended");
}

function idleError(ms: number): FileTransferError {
  return new FileTransferError("timeout", `the peer sent nothing for ${Math.round(ms / 1000)} s`);
}

export class ByteReader {
  readonly #stream: Readable;
  readonly #signal: AbortSignal;
  readonly #idleTimeoutMs: number;

  constructor(stream: Readable, signal: AbortSignal, idleTimeoutMs: number) {
    this.#stream = stream;
    this.#signal = signal;
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** Up to `max` octets (at least one), or null when the stream ended cleanly. */
  async chunk(max: number): Promise<Buffer | null> {
    for (;;) {
      if (this.#signal.aborted) throw abortError(this.#signal);
      const s = this.#stream;
      const available = s.readableLength;
      if (available > 0) {
        const chunk = s.read(Math.min(max, available)) as Buffer | null;
        if (chunk !== null) return chunk;
      } else if (s.readableEnded) {
        return null;
      } else if (s.destroyed) {
        throw s.errored ?? new Error("the stream was closed");
      } else {
        // An empty read() asks the stream for more and arms 'readable' (or schedules 'end').
        const chunk = s.read() as Buffer | null;
        if (chunk !== null) {
          if (chunk.length <= max) return chunk;
          s.unshift(chunk.subarray(max));
          return chunk.subarray(0, max);
        }
      }
      await this.#wait();
    }
  }

  /** Exactly `n` octets; a clean end before that is a {@link StreamEndedError}. */
  async exactly(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const chunk = await this.chunk(n - got);
      if (chunk === null) throw new StreamEndedError(Buffer.concat(parts, got));
      parts.push(chunk);
      got += chunk.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  #wait(): Promise<void> {
    const s = this.#stream;
    return new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        s.off("readable", onReadable);
        s.off("end", onReadable);
        s.off("close", onReadable);
        s.off("error", onError);
        this.#signal.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onReadable = () => done();
      const onError = (error: Error) => done(error);
      const onAbort = () => done(abortError(this.#signal));
      const timer = setTimeout(() => done(idleError(this.#idleTimeoutMs)), this.#idleTimeoutMs);
      timer.unref();
      s.on("readable", onReadable);
      s.on("end", onReadable);
      s.on("close", onReadable);
      s.on("error", onError);
      this.#signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

/** Writes `chunk`, waiting for 'drain' when the stream's buffer is full. */
export async function writeWithBackpressure(
  stream: Writable | Duplex,
  chunk: Buffer,
  signal: AbortSignal,
  idleTimeoutMs: number,
): Promise<void> {
  if (signal.aborted) throw abortError(signal);
  if (stream.destroyed || stream.writableEnded) throw stream.errored ?? new Error("the stream was closed");
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      stream.off("drain", onDrain);
      stream.off("close", onClose);
      stream.off("error", onError);
      signal.removeEventListener("abort", onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(stream.errored ?? new Error("the stream was closed"));
    const onError = (error: Error) => done(error);
    const onAbort = () => done(abortError(signal));
    const timer = setTimeout(() => done(idleError(idleTimeoutMs)), idleTimeoutMs);
    timer.unref();
    stream.on("drain", onDrain);
    stream.on("close", onClose);
    stream.on("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Resolves when `signal` aborts or after `ms`, whichever is first. */
export function abortedWithin(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
