/**
 * File transfer on a JingleManager: `sendFile()` offers a file to a full JID, and
 * `"offer"` events hand incoming offers to the user to accept or decline. Every
 * session carries the XTLS precondition; offers without it are refused
 * (`security-error`), and the engine refuses to continue one whose answer drops it.
 */
import { EventEmitter } from "node:events";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { canonicalNamespace, type DiscoRegistry, NS, type Unsubscribe } from "@xtls/core";
import {
  type IncomingSession,
  type JingleManager,
  namespaceOf,
  type SecurityMethod,
  type TransportMethod,
} from "@xtls/jingle";
import { FileTransferError, reasonErrorFor, systemError } from "./errors.js";
import { DEFAULT_HASH_ALGORITHM, hashFeature } from "./hashes.js";
import { checkFileOffer, IncomingFileOffer } from "./offer.js";
import { OutgoingFileTransfer } from "./outgoing.js";
import type { FileTransferOptions } from "./transfer.js";

/**
 * The disco features of a file-transfer endpoint (XEP-0234 "Determining Support",
 * XEP-0300 "Determining Support"). `JingleManager` advertises only the first (the
 * application's namespace); {@link advertiseFileTransfer} adds the others.
 */
export const FILE_TRANSFER_FEATURES: readonly string[] = [
  NS.JFT,
  NS.HASHES,
  hashFeature(DEFAULT_HASH_ALGORITHM),
];

/** Advertises {@link FILE_TRANSFER_FEATURES} on a link's disco registry (reference-counted). */
export function advertiseFileTransfer(link: { readonly disco: DiscoRegistry }): Unsubscribe {
  const remove = FILE_TRANSFER_FEATURES.map((f) => link.disco.addFeature(f));
  return () => {
    for (const r of remove) r();
  };
}

export interface FileTransferServiceOptions extends FileTransferOptions {
  /** In order of preference (XEP-0234: IBB last). */
  readonly transports: readonly TransportMethod[];
  /** The XTLS precondition (`XtlsSecurity` of @xtls/jingle-xtls). Required: files never go in the clear. */
  readonly security: SecurityMethod;
}

export interface SendFileOptions extends FileTransferOptions {
  /** The name offered. Default: the path's base name. Required with a stream. */
  readonly name?: string;
  /** Octets. Required with a stream, which must yield exactly this many; a path's size is read from the file. */
  readonly size?: number;
  /** Default: from the name's extension, else `application/octet-stream`. */
  readonly mediaType?: string;
  /** Last modification time. Default: the file's mtime; `null` sends none. */
  readonly date?: Date | null;
  readonly desc?: string;
  /** Aborting cancels the transfer (session-terminate `<cancel/>`). */
  readonly signal?: AbortSignal;
  /** The transports for this transfer, best first. Default: the service's. */
  readonly transports?: readonly TransportMethod[];
}

export interface FileTransferServiceEvents {
  /** An offer passed every check; accept it or decline it (no listener: declined). */
  offer: [offer: IncomingFileOffer];
  /** An offer we refused without asking (malformed, not over XTLS, …). */
  refused: [info: { readonly peer: string; readonly sid: string; readonly error: FileTransferError }];
}

export class FileTransferService extends EventEmitter<FileTransferServiceEvents> {
  readonly manager: JingleManager;
  readonly #options: FileTransferServiceOptions;
  readonly #onIncoming: (incoming: IncomingSession) => void;

  constructor(manager: JingleManager, options: FileTransferServiceOptions) {
    super();
    if (!options.security) throw new TypeError("a FileTransferService needs the XTLS security method");
    if (options.transports.length === 0)
      throw new TypeError("a FileTransferService needs at least one transport");
    this.manager = manager;
    this.#options = options;
    this.#onIncoming = (incoming) => this.#incoming(incoming);
    manager.on("incoming", this.#onIncoming);
  }

  /**
   * Offers a file (a path, or a stream with `name` and `size`) to `peer`, a full JID.
   * Resolves once the offer is on its way, with the transfer to follow (`progress`,
   * `done`, `cancel()`); rejects with a `source` FileTransferError when the path
   * cannot be read.
   */
  async sendFile(
    peer: string,
    source: string | Readable,
    options: SendFileOptions = {},
  ): Promise<OutgoingFileTransfer> {
    let transfer: OutgoingFileTransfer;
    if (typeof source === "string") {
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(source, "r");
      } catch (error) {
        throw systemError("source", `cannot open ${source}`, error);
      }
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) throw Object.assign(new Error(`${source} is not a file`), { code: "EISDIR" });
        // The size offered is the file's now: if it shrinks while being sent the transfer
        // fails (`source`); if it grows, only the offered octets are sent.
        const size = stat.size;
        const octets =
          size === 0
            ? emptySource(handle)
            : handle.createReadStream({ start: 0, end: size - 1, highWaterMark: 256 * 1024 });
        transfer = new OutgoingFileTransfer({
          ...this.#transferOptions(options),
          file: {
            name: options.name ?? basename(source),
            size,
            mediaType: options.mediaType,
            date: options.date === null ? undefined : (options.date ?? stat.mtime),
            desc: options.desc,
          },
          source: octets,
        });
      } catch (error) {
        await handle.close().catch(() => {});
        throw error instanceof FileTransferError
          ? error
          : systemError("source", `cannot read ${source}`, error);
      }
    } else {
      if (options.name === undefined || options.size === undefined) {
        throw new TypeError("sending a stream needs options.name and options.size");
      }
      transfer = new OutgoingFileTransfer({
        ...this.#transferOptions(options),
        file: {
          name: options.name,
          size: options.size,
          mediaType: options.mediaType,
          date: options.date ?? undefined,
          desc: options.desc,
        },
        source,
      });
    }
    return this.offer(peer, transfer, { signal: options.signal, transports: options.transports });
  }

  /** Offers a transfer built by the caller (a custom source, or a test's lying sender). */
  offer(
    peer: string,
    transfer: OutgoingFileTransfer,
    options: { signal?: AbortSignal; transports?: readonly TransportMethod[] } = {},
  ): OutgoingFileTransfer {
    const session = this.manager.initiate(peer, {
      application: transfer,
      transports: options.transports ?? this.#options.transports,
      security: this.#options.security,
      signal: options.signal,
    });
    transfer.attach(session);
    return transfer;
  }

  /** Stops taking offers (sessions under way go on). */
  close(): void {
    this.manager.off("incoming", this.#onIncoming);
  }

  #transferOptions(options: FileTransferOptions): FileTransferOptions {
    return {
      progressIntervalMs: options.progressIntervalMs ?? this.#options.progressIntervalMs,
      idleTimeoutMs: options.idleTimeoutMs ?? this.#options.idleTimeoutMs,
    };
  }

  #incoming(incoming: IncomingSession): void {
    if (namespaceOf(incoming.description) !== NS.JFT) return; // another application's
    const { session, peer } = incoming;
    const content = session.offer?.contents[0];
    const refuse = (error: FileTransferError) => {
      this.emit("refused", { peer, sid: session.sid, error });
      void session.terminate(reasonErrorFor(error).reason);
    };
    // Never without the XTLS precondition, and only one we can meet.
    const security = content?.security;
    const ours = this.#options.security.namespaces.map(canonicalNamespace);
    const theirs = namespaceOf(security);
    if (!security || !theirs || !ours.includes(theirs)) {
      refuse(
        new FileTransferError(
          "insecure",
          security
            ? "refused the file offer: its security precondition is not XTLS"
            : "refused the file offer: it comes without the XTLS precondition, and files are never received in the clear",
        ),
      );
      return;
    }
    let checked: ReturnType<typeof checkFileOffer>;
    try {
      checked = checkFileOffer(content ?? {});
    } catch (error) {
      if (error instanceof FileTransferError) {
        refuse(error);
        return;
      }
      throw error;
    }
    if (this.listenerCount("offer") === 0) {
      void session.decline({ condition: "decline", text: "nobody is taking files here" });
      return;
    }
    this.emit("offer", new IncomingFileOffer(session, checked, this.#transferOptions(this.#options)));
  }
}

function emptySource(handle: { close(): Promise<void> }): Readable {
  void handle.close().catch(() => {});
  return Readable.from([]);
}
