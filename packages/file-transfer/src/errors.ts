import { type Element, NS, XtlsError, xml } from "@xtls/core";
import { JingleReasonError, type Reason, type ReasonCondition, SessionTerminatedError } from "@xtls/jingle";

/**
 * What went wrong with a file transfer, for programs. Every failure a user can meet
 * maps to exactly one of these, on either side:
 *
 * | code             | meaning                                                                      |
 * | ---------------- | ---------------------------------------------------------------------------- |
 * | `declined`       | the receiver said no                                                         |
 * | `cancelled`      | someone cancelled (`by` says who)                                            |
 * | `hash-mismatch`  | the octets received do not match the digest the sender delivered             |
 * | `file-too-large` | the sender sent more octets than it declared (or the receiver's quota)       |
 * | `incomplete`     | the sender stopped before the declared size, or without the digest           |
 * | `storage`        | the receiver cannot write the file (`errno`: EACCES, ENOSPC, …)              |
 * | `source`         | the sender cannot read what it offered, or it is not the size it declared    |
 * | `bad-offer`      | the offer is malformed or asks for something unsupported                     |
 * | `bad-name`       | (sender) the name has a control character or one XML 1.0 forbids: not sent   |
 * | `insecure`       | no XTLS precondition, or it failed: nothing was sent in the clear            |
 * | `transport`      | no transport could carry the bytes, or it broke                              |
 * | `timeout`        | the peer went silent                                                         |
 * | `failed`         | anything else; `reason` has the peer's words                                 |
 */
export type FileTransferErrorCode =
  | "declined"
  | "cancelled"
  | "hash-mismatch"
  | "file-too-large"
  | "incomplete"
  | "storage"
  | "source"
  | "bad-offer"
  | "bad-name"
  | "insecure"
  | "transport"
  | "timeout"
  | "failed";

export interface FileTransferErrorOptions {
  /** Who found the problem or ended the transfer: us, or the peer (told by Jingle or in the tunnel). */
  readonly by?: "local" | "peer";
  /** The Jingle reason that ended the session, when one did. */
  readonly reason?: Reason;
  /** For `storage` and `source`: the system error code (EACCES, ENOSPC, ENOENT, …). */
  readonly errno?: string;
  readonly cause?: unknown;
}

export class FileTransferError extends XtlsError {
  declare readonly code: FileTransferErrorCode;
  readonly by: "local" | "peer";
  readonly reason: Reason | undefined;
  readonly errno: string | undefined;

  constructor(code: FileTransferErrorCode, message: string, options: FileTransferErrorOptions = {}) {
    super(code, message, { cause: options.cause });
    this.by = options.by ?? "local";
    this.reason = options.reason;
    this.errno = options.errno;
  }

  /** The same error, told as seen from the given reason (kept when already set). */
  withReason(reason: Reason): FileTransferError {
    if (this.reason) return this;
    return new FileTransferError(this.code, this.message, {
      by: this.by,
      reason,
      errno: this.errno,
      cause: this.cause,
    });
  }
}

/**
 * A Jingle reason with the optional extra element of XEP-0166 §7.4 (e.g. XEP-0234's
 * `<file-too-large/>`), carrying the {@link FileTransferError} that caused it.
 * (`JingleReasonError` of @xtls/jingle takes no extra element.)
 */
export class FileTransferReasonError extends JingleReasonError {
  override readonly reason: Reason;
  readonly error: FileTransferError;

  constructor(
    condition: ReasonCondition,
    error: FileTransferError,
    options: { extra?: Element; text?: string } = {},
  ) {
    super(condition, error.message, { cause: error, text: options.text });
    this.error = error;
    this.reason = { condition, text: options.text ?? error.message, extra: options.extra };
  }
}

/** XEP-0234 "Errors: File too Large": `<file-too-large/>`, sent with `media-error`. */
export function fileTooLargeElement(): Element {
  return xml("file-too-large", { xmlns: NS.JFT_ERRORS });
}

/** The Jingle reason a locally detected failure ends the session with (see README, "Errors"). */
export function reasonErrorFor(error: FileTransferError): FileTransferReasonError {
  switch (error.code) {
    case "file-too-large":
      // XEP-0234 "Errors: File too Large": data beyond the declared size.
      return new FileTransferReasonError("media-error", error, { extra: fileTooLargeElement() });
    case "hash-mismatch":
    case "incomplete":
      return new FileTransferReasonError("media-error", error);
    case "cancelled":
      return new FileTransferReasonError("cancel", error);
    case "declined":
      return new FileTransferReasonError("decline", error);
    case "insecure":
      return new FileTransferReasonError("security-error", error);
    case "timeout":
      return new FileTransferReasonError("timeout", error);
    case "transport":
      return new FileTransferReasonError("failed-transport", error);
    default:
      // storage, source, bad-offer, failed: the application could not go on. The text
      // tells the peer why; paths and errno details stay local.
      return new FileTransferReasonError("failed-application", error, { text: peerText(error) });
  }
}

function peerText(error: FileTransferError): string {
  switch (error.code) {
    case "storage":
      return `the receiver could not store the file${error.errno ? ` (${describeErrno(error.errno)})` : ""}`;
    case "source":
      return "the sender could not read the file it offered";
    default:
      return error.message;
  }
}

/** Follows `cause` links to the first FileTransferError. */
export function findFileTransferError(error: unknown): FileTransferError | undefined {
  let e: unknown = error;
  for (let depth = 0; e && depth < 8; depth++) {
    if (e instanceof FileTransferError) return e;
    if (e instanceof FileTransferReasonError) return e.error;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * How a session that ended without success is told to the user: the error we found
 * ourselves when there is one, otherwise the peer's (or our) Jingle reason, mapped.
 * `peerVerdict` is what the receiver said inside the tunnel, if anything.
 */
export function classifyEnd(error: Error, peerVerdict?: FileTransferError): FileTransferError {
  const ours = findFileTransferError(error);
  const reason = error instanceof SessionTerminatedError ? error.reason : undefined;
  const by = error instanceof SessionTerminatedError ? error.by : "local";
  if (ours && by === "local") return reason ? ours.withReason(reason) : ours;
  if (peerVerdict) return reason ? peerVerdict.withReason(reason) : peerVerdict;
  if (!reason) {
    return new FileTransferError("failed", `the file transfer failed: ${error.message}`, { cause: error });
  }
  const said = reason.text ? `: ${reason.text}` : "";
  const who = by === "peer" ? "the peer" : "we";
  const options = { by, reason, cause: error };
  switch (reason.condition) {
    case "decline":
      return new FileTransferError("declined", `the peer declined the file${said}`, options);
    case "cancel":
      return new FileTransferError(
        "cancelled",
        `the transfer was cancelled by ${by === "peer" ? "the peer" : "us"}`,
        options,
      );
    case "media-error":
      if (reason.extra?.getName() === "file-too-large" && reason.extra.getNS() === NS.JFT_ERRORS)
        return new FileTransferError("file-too-large", `the file is too large${said}`, options);
      return new FileTransferError("failed", `${who} reported a media error${said}`, options);
    case "security-error":
      return new FileTransferError(
        "insecure",
        `the XTLS precondition failed, nothing was sent${said}`,
        options,
      );
    case "failed-transport":
    case "connectivity-error":
    case "unsupported-transports":
      return new FileTransferError("transport", `no transport could carry the file${said}`, options);
    case "timeout":
    case "expired":
      return new FileTransferError("timeout", `the transfer timed out${said}`, options);
    case "unsupported-applications":
      return new FileTransferError(
        "bad-offer",
        `the peer does not take Jingle file transfers${said}`,
        options,
      );
    default:
      return new FileTransferError("failed", `the transfer failed (${reason.condition})${said}`, options);
  }
}

/** A system error (EACCES, ENOSPC, …) as a `storage` or `source` failure. */
export function systemError(code: "storage" | "source", what: string, error: unknown): FileTransferError {
  const errno = (error as NodeJS.ErrnoException)?.code;
  const detail = errno ? describeErrno(errno) : ((error as Error)?.message ?? String(error));
  return new FileTransferError(code, `${what}: ${detail}`, { errno, cause: error });
}

function describeErrno(errno: string): string {
  switch (errno) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "ENOSPC":
      return "no space left on the device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "ENOENT":
      return "no such file or directory";
    case "ENOTDIR":
      return "not a directory";
    case "EISDIR":
      return "is a directory";
    case "EMFILE":
    case "ENFILE":
      return "too many open files";
    default:
      return errno;
  }
}
