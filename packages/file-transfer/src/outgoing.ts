/**
 * The sending side (XEP-0234 "Offering a File", as the Jingle initiator): offers the
 * file with `<hash-used algo='sha-256'/>`, streams the raw octets through the tunnel
 * while hashing them, appends the digest (the trailer of tunnel-format.ts), and waits
 * for the receiver's verdict before calling the transfer done.
 */
import type { Duplex, Readable } from "node:stream";
import type { ContentContext, SecuredStream } from "@xtls/jingle";
import { FileTransferError, systemError } from "./errors.js";
import type { FileDescription } from "./file-description.js";
import { createFileHash, DEFAULT_HASH_ALGORITHM } from "./hashes.js";
import { mediaTypeFor } from "./media-type.js";
import { ProgressMeter } from "./progress.js";
import { isSendableFileName, isSendableText, sendableFileName } from "./safe-name.js";
import { abortedWithin, ByteReader, writeWithBackpressure } from "./stream-io.js";
import { FileTransfer, type FileTransferOptions, PEER_REASON_GRACE_MS } from "./transfer.js";
import { decodeVerdict, encodeTrailer, VERDICT_LENGTH } from "./tunnel-format.js";

/** What the sender says about the file (in the clear, in the offer). */
/** The most octets handed to the tunnel in one write. */
const WRITE_SLICE = 64 * 1024;

export interface OutgoingFile {
  readonly name: string;
  /** Octets; the source must yield exactly this many. */
  readonly size: number;
  /** Default: from the name's extension, else `application/octet-stream`. */
  readonly mediaType?: string;
  /** Last modification time. */
  readonly date?: Date;
  readonly desc?: string;
}

export interface OutgoingFileTransferInit extends FileTransferOptions {
  readonly file: OutgoingFile;
  /** The octets. Read once, and destroyed when the transfer ends, however it ends. */
  readonly source: Readable;
}

export class OutgoingFileTransfer extends FileTransfer {
  readonly direction = "outgoing" as const;
  /** The XEP-0300 algorithm announced with `<hash-used/>` and delivered in the tunnel. */
  readonly hashAlgorithm = DEFAULT_HASH_ALGORITHM;
  readonly #file: FileDescription & {
    readonly name: string;
    readonly size: number;
    readonly mediaType: string;
  };
  readonly #source: Readable;

  constructor(init: OutgoingFileTransferInit) {
    super(init);
    const { name, size } = init.file;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new RangeError(`a file size must be a non-negative integer, not ${size}`);
    }
    // Never put what XML 1.0 forbids into the offer: the server would drop our whole
    // connection for a stanza that is not well-formed (and a control character in a name
    // is a display trick at the receiver). Callers clean names with sendableFileName().
    if (!isSendableFileName(name)) {
      throw new FileTransferError(
        "bad-name",
        `the file name ${JSON.stringify(name)} has a control character or one XML forbids; offer sendableFileName(name) (${JSON.stringify(sendableFileName(name))}) instead`,
      );
    }
    if (init.file.desc !== undefined && !isSendableText(init.file.desc)) {
      throw new FileTransferError("bad-name", "the file's description has a character XML forbids");
    }
    this.#file = {
      name,
      size,
      mediaType: init.file.mediaType ?? mediaTypeFor(name),
      date: init.file.date,
      desc: init.file.desc,
      hashUsed: [this.hashAlgorithm],
    };
    this.#source = init.source;
    // An error of the source before the transfer starts must not crash the process;
    // it is seen (and reported) when the transfer reads.
    this.#source.on("error", () => {});
  }

  get file(): FileDescription & { readonly name: string; readonly size: number; readonly mediaType: string } {
    return this.#file;
  }

  /**
   * The octets actually written for `chunk` (hashed as it is). The identity; a test
   * subclass overrides it to play a sender that lies about its file.
   */
  protected outgoing(chunk: Buffer): Buffer {
    return chunk;
  }

  protected async transfer(stream: Duplex, _security: SecuredStream, ctx: ContentContext): Promise<void> {
    const { size } = this.#file;
    const source = this.#source;
    const hash = createFileHash(this.hashAlgorithm);
    const meter = new ProgressMeter(size, this.progressIntervalMs, this.reportProgress);
    const reader = new ByteReader(stream, ctx.signal, this.idleTimeoutMs);
    // A source that stalls must not hold a cancelled transfer.
    const onAbort = () => source.destroy();
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    const started = performance.now();
    try {
      this.setState("transferring");
      const chunks = source[Symbol.asyncIterator]();
      let sent = 0;
      for (;;) {
        let next: IteratorResult<unknown>;
        try {
          next = await chunks.next();
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          throw systemError("source", "cannot read the file being sent", error);
        }
        if (next.done) break;
        const chunk = toBuffer(next.value);
        if (sent + chunk.length > size) {
          throw new FileTransferError("source", `the source holds more than the ${size} octets offered`);
        }
        hash.update(chunk);
        const out = this.outgoing(chunk);
        // In slices, so TLS never encrypts (and the transport never carries) more than a
        // slice at once, however large the source's chunks are.
        for (let at = 0; at < out.length; at += WRITE_SLICE) {
          await this.#send(stream, out.subarray(at, at + WRITE_SLICE), ctx);
        }
        sent += chunk.length;
        meter.add(chunk.length);
      }
      if (sent !== size) {
        throw new FileTransferError("source", `the source ended after ${sent} of the ${size} octets offered`);
      }
      meter.finish();
      const digest = hash.digest();
      await this.#send(stream, encodeTrailer(this.hashAlgorithm, digest), ctx);
      this.setState("verifying");
      let verdict: ReturnType<typeof decodeVerdict>;
      try {
        verdict = decodeVerdict(await reader.exactly(VERDICT_LENGTH));
      } catch (error) {
        return await this.#tunnelFailed(error, ctx);
      }
      if (verdict === "stored") {
        this.succeed({
          name: this.#file.name,
          size,
          mediaType: this.#file.mediaType,
          hash: { algo: this.hashAlgorithm, value: digest.toString("base64") },
          peer: ctx.peer,
          durationMs: Math.round(performance.now() - started),
        });
        return;
      }
      if (verdict === "hash-mismatch") {
        this.peerVerdict = new FileTransferError(
          "hash-mismatch",
          `${ctx.peer} received octets that do not match the file's ${this.hashAlgorithm} digest and discarded them`,
          { by: "peer" },
        );
        // The receiver closes TLS and ends the session with media-error; let it.
        stream.resume();
        await abortedWithin(ctx.signal, PEER_REASON_GRACE_MS);
        throw this.peerVerdict;
      }
      throw new FileTransferError("failed", `${ctx.peer} answered with something that is not a verdict`);
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
    }
  }

  protected async releaseResources(): Promise<void> {
    if (!this.#source.destroyed) this.#source.destroy();
  }

  async #send(stream: Duplex, chunk: Buffer, ctx: ContentContext): Promise<void> {
    try {
      await writeWithBackpressure(stream, chunk, ctx.signal, this.idleTimeoutMs);
    } catch (error) {
      await this.#tunnelFailed(error, ctx);
    }
  }

  // The tunnel failed under us, most often because the peer ended the session and its
  // session-terminate (which says why) is on its way: give it a moment to arrive.
  async #tunnelFailed(error: unknown, ctx: ContentContext): Promise<never> {
    if (error instanceof FileTransferError) throw error;
    await abortedWithin(ctx.signal, PEER_REASON_GRACE_MS);
    if (ctx.signal.aborted) throw error;
    throw new FileTransferError(
      "transport",
      `the tunnel to ${ctx.peer} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === "string") return Buffer.from(chunk);
  throw new FileTransferError("source", "the source yielded something that is not bytes");
}
