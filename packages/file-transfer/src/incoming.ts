/**
 * The receiving side (Jingle responder of a file offer): reads exactly the declared
 * size into a temporary file, then the digest trailer, and only when both match
 * gives the file its final name and tells the sender so (tunnel-format.ts).
 *
 * - More octets than declared → `media-error` + `<file-too-large/>` (XEP-0234 "Errors:
 *   File too Large"), temporary file deleted.
 * - Digest mismatch → verdict 0x01 in the tunnel, TLS closed, `media-error`, deleted.
 * - Fewer octets, or no digest → `media-error` (incomplete), deleted.
 * - Cannot write (EACCES, ENOSPC, …) → `failed-application`, deleted.
 */
import { basename } from "node:path";
import type { Duplex } from "node:stream";
import type { ContentContext, SecuredStream } from "@xtls/jingle";
import { FileTransferError } from "./errors.js";
import { DEFAULT_MEDIA_TYPE, type FileDescription } from "./file-description.js";
import { createFileHash } from "./hashes.js";
import { ProgressMeter } from "./progress.js";
import { type Destination, PartialFile } from "./storage.js";
import { abortedWithin, ByteReader, StreamEndedError, writeWithBackpressure } from "./stream-io.js";
import { FileTransfer, type FileTransferOptions, PEER_REASON_GRACE_MS } from "./transfer.js";
import { decodeTrailer, encodeVerdict, TRAILER_MAGIC, trailerLength } from "./tunnel-format.js";

/** The most octets taken from the tunnel for one write to the file. */
const READ_MAX = 256 * 1024;

export interface IncomingFileTransferInit extends FileTransferOptions {
  /** The offered file; its size must be known. */
  readonly file: FileDescription & { readonly size: number };
  /** The algorithm of the digest the sender delivers in the tunnel. */
  readonly hashAlgorithm: string;
  readonly destination: Destination;
}

export class IncomingFileTransfer extends FileTransfer {
  readonly direction = "incoming" as const;
  readonly hashAlgorithm: string;
  readonly destination: Destination;
  readonly #file: FileDescription & { readonly size: number };
  #partial: Promise<PartialFile> | undefined;
  #path: string | undefined;

  constructor(init: IncomingFileTransferInit) {
    super(init);
    this.#file = init.file;
    this.hashAlgorithm = init.hashAlgorithm;
    this.destination = init.destination;
  }

  get file(): FileDescription & { readonly size: number } {
    return this.#file;
  }

  /** Where the file was stored, once it was verified. */
  get path(): string | undefined {
    return this.#path;
  }

  /** The temporary file, while there is one (for tests and progress displays). */
  async partialPath(): Promise<string | undefined> {
    if (this.#path) return undefined;
    return (await this.#partial?.catch(() => undefined))?.path;
  }

  /**
   * Creates the temporary file now, so that an unwritable target fails before the
   * session is accepted and before any octet flows. Rejects with a `storage` error.
   */
  prepare(): Promise<PartialFile> {
    this.#partial ??= PartialFile.create(this.destination);
    return this.#partial;
  }

  protected async transfer(stream: Duplex, security: SecuredStream, ctx: ContentContext): Promise<void> {
    const { size } = this.#file;
    const algo = this.hashAlgorithm;
    const partial = await this.prepare();
    const hash = createFileHash(algo);
    const meter = new ProgressMeter(size, this.progressIntervalMs, this.reportProgress);
    const reader = new ByteReader(stream, ctx.signal, this.idleTimeoutMs);
    const started = performance.now();
    this.setState("transferring");

    // XEP-0234: the raw octets, no framing; the end is known from the size.
    let remaining = size;
    while (remaining > 0) {
      let chunk: Buffer | null;
      try {
        chunk = await reader.chunk(Math.min(remaining, READ_MAX));
      } catch (error) {
        return await this.#tunnelFailed(error, ctx);
      }
      if (chunk === null) {
        throw new FileTransferError(
          "incomplete",
          `the sender stopped after ${size - remaining} of the ${size} octets it offered`,
        );
      }
      hash.update(chunk);
      await partial.write(chunk);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      remaining -= chunk.length;
      meter.add(chunk.length);
    }
    meter.finish();

    this.setState("verifying");
    let trailer: Buffer;
    try {
      trailer = await reader.exactly(trailerLength(algo));
    } catch (error) {
      if (error instanceof StreamEndedError) {
        if (error.partial.length > 0 && !startsLikeTrailer(error.partial, algo)) throw tooLarge(size);
        throw new FileTransferError("incomplete", "the sender ended without delivering the file's digest");
      }
      return await this.#tunnelFailed(error, ctx);
    }
    const claimed = decodeTrailer(trailer, algo);
    // Whatever follows the declared size and is not the trailer is more file data.
    if (!claimed) throw tooLarge(size);
    const actual = hash.digest();
    const announced = this.#file.hashes?.find((h) => h.algo === algo)?.value;
    if (!actual.equals(claimed) || (announced && !announced.equals(actual))) {
      await partial.discard();
      // Tell the sender inside the tunnel, and close TLS so the verdict is delivered
      // before the session ends (it then ends with media-error).
      try {
        await writeWithBackpressure(stream, encodeVerdict("hash-mismatch"), ctx.signal, this.idleTimeoutMs);
        await security.close();
      } catch {
        // the sender learns it from the session-terminate alone
      }
      throw new FileTransferError(
        "hash-mismatch",
        `the ${size} octets received do not match the ${algo} digest the sender delivered; the file was discarded`,
      );
    }
    if (ctx.signal.aborted) throw ctx.signal.reason;
    this.#path = await partial.store();
    this.succeed({
      name: basename(this.#path),
      size,
      mediaType: this.#file.mediaType ?? DEFAULT_MEDIA_TYPE,
      hash: { algo, value: actual.toString("base64") },
      peer: ctx.peer,
      path: this.#path,
      durationMs: Math.round(performance.now() - started),
    });
    try {
      await writeWithBackpressure(stream, encodeVerdict("stored"), ctx.signal, this.idleTimeoutMs);
    } catch {
      // The file is verified and stored; a sender that went away meanwhile is told by
      // the session's end.
    }
  }

  protected async releaseResources(): Promise<void> {
    if (this.#path) return;
    const partial = await this.#partial?.catch(() => undefined);
    await partial?.discard();
  }

  async #tunnelFailed(error: unknown, ctx: ContentContext): Promise<never> {
    if (error instanceof FileTransferError) throw error;
    await abortedWithin(ctx.signal, PEER_REASON_GRACE_MS);
    if (ctx.signal.aborted) throw error;
    throw new FileTransferError(
      "transport",
      `the tunnel from ${ctx.peer} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

function tooLarge(size: number): FileTransferError {
  return new FileTransferError("file-too-large", `the sender sent more than the ${size} octets it declared`);
}

/** Whether `octets` could be the start of a trailer for `algo`. */
function startsLikeTrailer(octets: Buffer, algo: string): boolean {
  const header = Buffer.concat([TRAILER_MAGIC, Buffer.from([algo.length]), Buffer.from(algo, "ascii")]);
  const n = Math.min(octets.length, header.length);
  return octets.subarray(0, n).equals(header.subarray(0, n));
}
