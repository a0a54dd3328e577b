export { FileTransferApplication, type FileTransferApplicationOptions } from "./application.js";
export {
  classifyEnd,
  FileTransferError,
  type FileTransferErrorCode,
  type FileTransferErrorOptions,
  FileTransferReasonError,
  fileTooLargeElement,
} from "./errors.js";
export {
  buildFile,
  buildFileDescription,
  DEFAULT_MEDIA_TYPE,
  type FileDescription,
  FileDescriptionError,
  formatDateTime,
  parseDateTime,
  parseFile,
  parseFileDescription,
} from "./file-description.js";
export {
  createFileHash,
  DEFAULT_HASH_ALGORITHM,
  digestLength,
  digestOf,
  HashFormatError,
  type HashValue,
  hashElement,
  hashFeature,
  hashUsedElement,
  isSupportedHash,
  parseHash,
  parseHashUsed,
  SUPPORTED_HASH_ALGORITHMS,
} from "./hashes.js";
export { IncomingFileTransfer, type IncomingFileTransferInit } from "./incoming.js";
export { mediaTypeFor } from "./media-type.js";
export { type AcceptTarget, type CheckedOffer, checkFileOffer, IncomingFileOffer } from "./offer.js";
export { type OutgoingFile, OutgoingFileTransfer, type OutgoingFileTransferInit } from "./outgoing.js";
export type { FileTransferProgress } from "./progress.js";
export {
  FALLBACK_FILE_NAME,
  isPartialName,
  isSendableFileName,
  isSendableText,
  MAX_NAME_BYTES,
  numberedName,
  safeFileName,
  sendableFileName,
} from "./safe-name.js";
export {
  advertiseFileTransfer,
  FILE_TRANSFER_FEATURES,
  FileTransferService,
  type FileTransferServiceEvents,
  type FileTransferServiceOptions,
  type SendFileOptions,
} from "./service.js";
export type { Destination } from "./storage.js";
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_PROGRESS_INTERVAL_MS,
  FileTransfer,
  type FileTransferEvents,
  type FileTransferOptions,
  type FileTransferResult,
  type FileTransferState,
} from "./transfer.js";
export {
  decodeTrailer,
  decodeVerdict,
  encodeTrailer,
  encodeVerdict,
  TRAILER_MAGIC,
  trailerLength,
  VERDICT_LENGTH,
  VERDICT_MAGIC,
  type Verdict,
} from "./tunnel-format.js";
