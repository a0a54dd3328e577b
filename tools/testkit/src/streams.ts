// Moving bytes through a Duplex in tests (an IbbStream, an S5bStream, a TLS socket):
// random payloads and their SHA-256, reading to the end or an exact count, writing with
// backpressure, and the both-ways exchange the bytestream suites run.
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { finished } from "node:stream/promises";
import { expect } from "vitest";

export const MiB = 1024 * 1024;

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

/** `bytes` random octets. */
export function payload(bytes: number): Buffer {
  return randomBytes(bytes);
}

/**
 * Everything the stream delivers until its readable side ends. (Not `for await`: a
 * Readable's async iterator destroys the whole Duplex once the readable side ends,
 * which would cut off our own direction.)
 */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
    stream.once("close", () => {
      if (!stream.readableEnded) reject(new Error("the stream closed before its readable side ended"));
    });
    stream.resume(); // also after an explicit pause()
  });
}

/**
 * Exactly `n` octets, without waiting for an end of stream: then the stream is paused,
 * and what arrived past `n` is put back for the next reader. Rejects if the stream ends
 * (or fails) first.
 */
export function readExactly(stream: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (n === 0) return resolve(Buffer.alloc(0));
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) {
        stream.off("data", onData);
        stream.pause();
        const all = Buffer.concat(chunks);
        if (all.length > n) stream.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    stream.on("data", onData);
    stream.once("error", reject);
    stream.once("end", () => {
      if (got < n) reject(new Error(`the stream ended after ${got} of ${n} bytes`));
    });
    stream.resume();
  });
}

/** Writes `data` in slices, honouring backpressure; does not end the stream. */
export async function writeAll(stream: Duplex, data: Buffer, slice = 64 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += slice) {
    if (!stream.write(data.subarray(offset, offset + slice))) await once(stream, "drain");
  }
}

/**
 * Writes `data` in slices, honouring backpressure, then ends our direction and waits
 * until it is finished (for an IbbStream that is what `close()` does: every `<data/>`
 * acknowledged and our `<close/>` answered). Rejects with the error that broke the stream.
 */
export async function sendAll(stream: Duplex, data: Buffer, slice = 64 * 1024): Promise<void> {
  await writeAll(stream, data, slice);
  stream.end();
  await finished(stream, { readable: false });
}

export interface ExchangeOptions {
  /** How many octets go back from `theirs` to `ours`; default `size + 1`. */
  readonly back?: number;
  /**
   * false where a FIN may end both directions (a proxy65 relay has no half-close): each
   * side reads the other's known length before anyone ends; then `ours` ends, and
   * `theirs` must see an end of stream with nothing more before it. Default true: each
   * side sends everything and ends, and reads until the other's end.
   */
  readonly halfClose?: boolean;
}

/** Both ways at once: `size` random octets from `ours` to `theirs` and `back` octets back, both arriving intact (SHA-256). */
export async function exchange(
  ours: Duplex,
  theirs: Duplex,
  size: number,
  options: ExchangeOptions = {},
): Promise<void> {
  const halfClose = options.halfClose ?? true;
  const toJuliet = payload(size);
  const toRomeo = payload(options.back ?? size + 1);
  const [atJuliet, atRomeo] = halfClose
    ? await Promise.all([readAll(theirs), readAll(ours), sendAll(ours, toJuliet), sendAll(theirs, toRomeo)])
    : await Promise.all([
        readExactly(theirs, toJuliet.length),
        readExactly(ours, toRomeo.length),
        writeAll(ours, toJuliet),
        writeAll(theirs, toRomeo),
      ]);
  expect(sha256(atJuliet)).toBe(sha256(toJuliet));
  expect(sha256(atRomeo)).toBe(sha256(toRomeo));
  if (!halfClose) {
    const ended = readAll(theirs);
    ours.end();
    expect((await ended).length).toBe(0);
  }
}
