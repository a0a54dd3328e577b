/**
 * An incoming file offer, for the user to accept into a directory (or at a path) or to
 * decline. Offers that are malformed, that are not offers (file requests), that name
 * no hash algorithm we can verify with, or that come without the XTLS precondition
 * are refused by {@link checkFileOffer} before anyone sees them.
 */
import type { Element } from "@xtls/core";
import { type JingleSession, type Senders, SessionTerminatedError } from "@xtls/jingle";
import { FileTransferError, reasonErrorFor } from "./errors.js";
import {
  DEFAULT_MEDIA_TYPE,
  type FileDescription,
  FileDescriptionError,
  parseFileDescription,
} from "./file-description.js";
import { SUPPORTED_HASH_ALGORITHMS } from "./hashes.js";
import { IncomingFileTransfer } from "./incoming.js";
import { safeFileName } from "./safe-name.js";
import { destinationOf } from "./storage.js";
import type { FileTransferOptions } from "./transfer.js";

/** A file offer that passed every check. */
export interface CheckedOffer {
  readonly file: FileDescription & { readonly size: number };
  /** The algorithm of the digest to expect in the tunnel (strongest we both know). */
  readonly hashAlgorithm: string;
}

/**
 * Checks an offered content: a file *offer* (XEP-0234 "Use of Jingle Content Senders":
 * `senders='initiator'` from the initiator), one well-formed `<file/>` with a size, and
 * a hash algorithm we can verify with. Throws a `bad-offer` FileTransferError.
 */
export function checkFileOffer(content: {
  readonly senders?: Senders;
  readonly description?: Element;
}): CheckedOffer {
  const bad = (why: string) => new FileTransferError("bad-offer", `refused the file offer: ${why}`);
  if (content.senders === "responder") throw bad("it is a file request, and only offers are supported");
  if (content.senders !== "initiator") {
    throw bad(`a file offer needs senders='initiator' (got ${content.senders ?? "none"})`);
  }
  if (!content.description) throw bad("it has no description");
  let file: FileDescription;
  try {
    file = parseFileDescription(content.description);
  } catch (error) {
    if (error instanceof FileDescriptionError) throw bad(error.message);
    throw error;
  }
  if (file.size === undefined) throw bad("it does not say the file's size");
  const named = [...(file.hashUsed ?? []), ...(file.hashes ?? []).map((h) => h.algo)];
  if (named.length === 0) throw bad("it names no hash algorithm (<hash/> or <hash-used/> is required)");
  const hashAlgorithm = SUPPORTED_HASH_ALGORITHMS.find((a) => named.includes(a));
  if (!hashAlgorithm) {
    throw bad(`none of its hash algorithms (${named.join(", ")}) is one we verify with`);
  }
  return { file: { ...file, size: file.size }, hashAlgorithm };
}

/** Where an accepted file goes: a directory (name from the offer, made safe) or a path. */
export type AcceptTarget =
  | { readonly dir: string; readonly name?: string }
  | { readonly path: string; readonly overwrite?: boolean };

export class IncomingFileOffer {
  readonly session: JingleSession;
  /** The sender's full JID. */
  readonly peer: string;
  /** The offer as parsed (values untrusted: `name` is the raw offered name). */
  readonly file: FileDescription & { readonly size: number };
  /** The name it would be stored under in a directory (see `safeFileName`). */
  readonly name: string;
  readonly size: number;
  readonly mediaType: string;
  readonly date: Date | undefined;
  readonly desc: string | undefined;
  readonly hashAlgorithm: string;
  readonly #options: FileTransferOptions;
  #answered = false;
  #ended: SessionTerminatedError | undefined;

  constructor(session: JingleSession, offer: CheckedOffer, options: FileTransferOptions = {}) {
    this.session = session;
    this.peer = session.peer;
    this.file = offer.file;
    this.name = safeFileName(offer.file.name);
    this.size = offer.file.size;
    this.mediaType = offer.file.mediaType ?? DEFAULT_MEDIA_TYPE;
    this.date = offer.file.date;
    this.desc = offer.file.desc;
    this.hashAlgorithm = offer.hashAlgorithm;
    this.#options = options;
    // The sender may withdraw (cancel) while the user is still deciding.
    session.once("terminated", (reason, by) => {
      this.#ended = new SessionTerminatedError(reason, by);
    });
  }

  /** Whether the offer is gone (withdrawn by the sender, or answered and over). */
  get withdrawn(): boolean {
    return this.#ended !== undefined;
  }

  /**
   * Accepts the offer: creates the temporary file in the target directory, then sends
   * session-accept. Resolves with the transfer (follow `progress`, await `done`);
   * rejects with a `storage` FileTransferError when the target cannot be written (the
   * session is then terminated), or when the session ended meanwhile.
   */
  async accept(target: AcceptTarget, options: FileTransferOptions = {}): Promise<IncomingFileTransfer> {
    this.#answer();
    const transfer = new IncomingFileTransfer({
      ...this.#options,
      ...options,
      file: this.file,
      hashAlgorithm: this.hashAlgorithm,
      destination: destinationOf(target, this.name),
    });
    transfer.attach(this.session);
    if (this.#ended) {
      transfer.ended(this.#ended);
      throw await transfer.done.catch((e: unknown) => e);
    }
    try {
      await transfer.prepare();
    } catch (error) {
      const failure =
        error instanceof FileTransferError
          ? error
          : new FileTransferError("storage", String(error), { cause: error });
      transfer.ended(failure);
      await this.session.terminate(reasonErrorFor(failure).reason);
      throw failure;
    }
    try {
      await this.session.accept({ application: transfer });
    } catch (error) {
      // The session failed (or had ended): the transfer was told, and cleaned up.
      transfer.ended(this.#ended ?? (error instanceof Error ? error : new Error(String(error))));
      throw await transfer.done.catch((e: unknown) => e);
    }
    return transfer;
  }

  /** Declines the offer: session-terminate with `<decline/>`. */
  async decline(text?: string): Promise<void> {
    this.#answer();
    await this.session.decline(
      text === undefined ? { condition: "decline" } : { condition: "decline", text },
    );
  }

  #answer(): void {
    if (this.#answered) throw new Error("this file offer was already accepted or declined");
    this.#answered = true;
  }
}
