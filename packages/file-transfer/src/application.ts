/**
 * The XEP-0234 application format, to register with a JingleManager so that it
 * recognises file offers (and advertises `urn:xmpp:jingle:apps:file-transfer:5`):
 *
 *   createJingleManager(link, { applications: [new FileTransferApplication()], … })
 *
 * Offers are then answered through {@link FileTransferService} (`"offer"` events).
 * With a `dir`, {@link FileTransferApplication.accept} also lets code that drives the
 * manager itself accept an offer straight into that directory.
 */
import { type Element, NS } from "@xtls/core";
import type { ApplicationFormat, ContentContext } from "@xtls/jingle";
import { FileTransferError, reasonErrorFor } from "./errors.js";
import { IncomingFileTransfer } from "./incoming.js";
import { checkFileOffer } from "./offer.js";
import { safeFileName } from "./safe-name.js";
import { FILE_TRANSFER_FEATURES } from "./service.js";
import { destinationOf } from "./storage.js";
import type { FileTransferOptions } from "./transfer.js";

export interface FileTransferApplicationOptions extends FileTransferOptions {
  /** Where {@link FileTransferApplication.accept} stores files. Without it, it declines. */
  readonly dir?: string;
}

export class FileTransferApplication implements ApplicationFormat {
  readonly namespaces = [NS.JFT] as const;
  /** Files never travel outside XTLS. */
  readonly plaintextAllowed = false;
  /** Every disco feature a file-transfer endpoint advertises (see `advertiseFileTransfer`). */
  readonly features = FILE_TRANSFER_FEATURES;
  readonly #options: FileTransferApplicationOptions;

  constructor(options: FileTransferApplicationOptions = {}) {
    this.#options = options;
  }

  /** A receiving transfer for an offered `<description/>`, into the configured `dir`. */
  accept(_ctx: ContentContext, offer: Element): IncomingFileTransfer {
    const { dir, ...options } = this.#options;
    if (dir === undefined) {
      throw reasonErrorFor(
        new FileTransferError("declined", "no directory is configured for incoming files"),
      );
    }
    try {
      const checked = checkFileOffer({ senders: "initiator", description: offer });
      return new IncomingFileTransfer({
        ...options,
        file: checked.file,
        hashAlgorithm: checked.hashAlgorithm,
        destination: destinationOf({ dir }, safeFileName(checked.file.name)),
      });
    } catch (error) {
      if (error instanceof FileTransferError) throw reasonErrorFor(error);
      throw error;
    }
  }
}
