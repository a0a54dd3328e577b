/**
 * What both ends of a transfer have in common: the Jingle application handle (XEP-0234
 * over XEP-0166), progress, cancellation, and one outcome — `done` resolves once the
 * file is verified (receiver: stored under its final name; sender: the receiver said
 * so inside the tunnel), or rejects with a {@link FileTransferError}.
 *
 * `done` settles only after the transfer's own resources are released (the temporary
 * file deleted, the source closed), so whoever awaits it finds nothing left behind.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { type Element, NS } from "@xtls/core";
import type { ApplicationHandle, ContentContext, JingleSession, SecuredStream } from "@xtls/jingle";
import { classifyEnd, FileTransferError, reasonErrorFor } from "./errors.js";
import { buildFileDescription, type FileDescription } from "./file-description.js";
import type { FileTransferProgress } from "./progress.js";

export const DEFAULT_PROGRESS_INTERVAL_MS = 100;
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** How long a side that saw the tunnel fail waits for the peer's session-terminate (which says why). */
export const PEER_REASON_GRACE_MS = 5000;

export type FileTransferState = "offered" | "transferring" | "verifying" | "completed" | "failed";

export interface FileTransferResult {
  /** The name as offered by the sender (sender side) or as stored (receiver side). */
  readonly name: string;
  readonly size: number;
  readonly mediaType: string;
  /** The digest both sides agreed on (XEP-0300 name; Base64 value). */
  readonly hash: { readonly algo: string; readonly value: string };
  /** The peer's full JID. */
  readonly peer: string;
  /** Receiver: where the file was stored. */
  readonly path?: string;
  /** From the first to the last octet, in milliseconds. */
  readonly durationMs: number;
}

export interface FileTransferEvents {
  progress: [progress: FileTransferProgress];
  state: [state: FileTransferState];
}

export interface FileTransferOptions {
  /** Minimum time between two progress events. Default 100 ms. */
  readonly progressIntervalMs?: number;
  /** How long the peer may stay silent while we wait for octets or a verdict. Default 120 s. */
  readonly idleTimeoutMs?: number;
}

export abstract class FileTransfer extends EventEmitter<FileTransferEvents> implements ApplicationHandle {
  readonly namespace = NS.JFT;
  /** A file transfer never runs without the XTLS precondition. */
  readonly plaintextAllowed = false;
  /** XEP-0234 "Use of Jingle Content Senders": a file offer by the initiator. */
  readonly senders = "initiator" as const;
  abstract readonly direction: "outgoing" | "incoming";
  /** Resolves with the verified transfer; rejects with a {@link FileTransferError}. */
  readonly done: Promise<FileTransferResult>;
  protected readonly progressIntervalMs: number;
  protected readonly idleTimeoutMs: number;
  /** What the peer told us inside the tunnel, when it refused the file there. */
  protected peerVerdict: FileTransferError | undefined;
  #state: FileTransferState = "offered";
  #session: JingleSession | undefined;
  #running = false;
  #settled = false;
  #endError: FileTransferError | undefined;
  #resolve!: (result: FileTransferResult) => void;
  #reject!: (error: FileTransferError) => void;

  protected constructor(options: FileTransferOptions = {}) {
    super();
    this.progressIntervalMs = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.done = new Promise<FileTransferResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => {});
  }

  /** The file as offered (name, size, media type, date, description, hash algorithm). */
  abstract get file(): FileDescription;

  get state(): FileTransferState {
    return this.#state;
  }

  /** The Jingle session carrying the transfer (once offered or accepted). */
  get session(): JingleSession | undefined {
    return this.#session;
  }

  get peer(): string | undefined {
    return this.#session?.peer;
  }

  /**
   * Stops the transfer at once, from either side: session-terminate with `<cancel/>`
   * (XEP-0234 "Aborting a Transfer"). `done` rejects with code `cancelled` once
   * everything is released. Does nothing after the transfer completed.
   */
  async cancel(): Promise<void> {
    if (this.#settled) return;
    const session = this.#session;
    if (session && session.state !== "ended") {
      await session.terminate({ condition: "cancel" });
      return;
    }
    this.#endError ??= new FileTransferError("cancelled", "the transfer was cancelled before it started");
    await this.#finish();
  }

  /** @internal The session this transfer runs in (set by FileTransferService). */
  attach(session: JingleSession): void {
    this.#session = session;
  }

  // --- ApplicationHandle -------------------------------------------------------------

  description(): Element {
    return buildFileDescription(this.file);
  }

  /** XEP-0234 "Informational Messages": `<received/>` and `<checksum/>` in session-info. */
  info(payload: Element): boolean {
    // Understood, and not needed: the digest that counts travels inside the tunnel, and
    // the receiver's verdict too. A cleartext checksum is never trusted over them.
    return payload.getNS() === NS.JFT && (payload.name === "received" || payload.name === "checksum");
  }

  async run(stream: Duplex, security: SecuredStream | undefined, ctx: ContentContext): Promise<void> {
    if (!security) {
      // Never in the clear: the engine only gets here without security when the peer
      // answered without <security/> and plaintext was allowed — never for files.
      throw reasonErrorFor(
        new FileTransferError(
          "insecure",
          "the session has no XTLS protection; no file octet is sent in the clear",
        ),
      );
    }
    this.#running = true;
    try {
      await this.transfer(stream, security, ctx);
    } catch (error) {
      // A FileTransferError found here ends the session with its Jingle reason (the
      // engine ignores whatever run() throws once the session has ended).
      if (error instanceof FileTransferError) throw reasonErrorFor(error);
      throw error;
    } finally {
      this.#running = false;
      await this.releaseResources();
      if (this.#endError) this.#settle();
    }
  }

  ended(error: Error | undefined): void {
    if (!this.#settled) {
      this.#endError ??= error
        ? classifyEnd(error, this.peerVerdict)
        : new FileTransferError("failed", "the session ended before the transfer was verified", {
            by: "peer",
          });
    }
    if (!this.#running) void this.#finish();
  }

  // --- for the two directions --------------------------------------------------------

  /** Moves the file through the tunnel; throw a {@link FileTransferError} to fail. */
  protected abstract transfer(stream: Duplex, security: SecuredStream, ctx: ContentContext): Promise<void>;

  /** Releases files and streams (idempotent, never throws). */
  protected abstract releaseResources(): Promise<void>;

  protected setState(state: FileTransferState): void {
    if (this.#state === state || this.#settled) return;
    this.#state = state;
    this.emit("state", state);
  }

  protected reportProgress = (progress: FileTransferProgress): void => {
    this.emit("progress", progress);
  };

  /** The transfer is verified: `done` resolves (the session then ends on its own). */
  protected succeed(result: FileTransferResult): void {
    if (this.#settled) return;
    this.#state = "completed";
    this.#settled = true;
    this.emit("state", "completed");
    this.#resolve(result);
  }

  async #finish(): Promise<void> {
    await this.releaseResources();
    this.#settle();
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#state = "failed";
    this.emit("state", "failed");
    this.#reject(
      this.#endError ??
        new FileTransferError("failed", "the transfer ended without a result", { by: "local" }),
    );
  }
}
