import { FileTransferError } from "@xtls/file-transfer";
import { JingleReasonError, type RefusedSession, SessionTerminatedError } from "@xtls/jingle";
import {
  AdvertisedFingerprintMismatchError,
  AuthenticationCancelledError,
  CertificateChangedError,
  formatFingerprint,
  MethodDowngradeError,
  PeerAuthenticationError,
  PeerJidMismatchError,
  SecurityError,
  TlsHandshakeError,
  TooManyAttemptsError,
  UntrustedCertificateError,
} from "@xtls/tls";
import { ConnectionError, EXIT, PeerOfflineError, UsageError } from "../account.js";

/** The exit code a failure means to a script (see EXIT). */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof ConnectionError) return EXIT.connection;
  if (error instanceof PeerOfflineError) return EXIT.offline;
  // The alarms, wherever they sit in the chain (a refused accept is a JingleReasonError).
  if (
    findCause(error, CertificateChangedError) ||
    findCause(error, MethodDowngradeError) ||
    findCause(error, TooManyAttemptsError)
  )
    return EXIT.security;
  const condition =
    error instanceof SessionTerminatedError || error instanceof JingleReasonError
      ? error.reason.condition
      : error instanceof FileTransferError
        ? (error.reason?.condition ?? error.code)
        : undefined;
  if (error instanceof SecurityError || condition === "security-error" || condition === "hash-mismatch")
    return EXIT.security;
  if (
    condition === "decline" ||
    condition === "declined" ||
    condition === "cancel" ||
    condition === "cancelled"
  )
    return EXIT.declined;
  return EXIT.failed;
}

/**
 * Whether an accepted session's failure is the alarm that ends `receive --count 0`: who
 * the peer is was in question — a changed key, a certificate we could not verify or that
 * names someone else, a TLS handshake the certificates failed, a wrong password or code, a
 * downgrade, a lockout — found by us, or the peer ending the session with `security-error`
 * when we saw nothing ourselves (it could not verify us). Not an alarm: a channel or
 * transport that broke, even during the handshake (cut off without close_notify, a record
 * that failed its MAC, a SOCKS5 connection reset by a sender that went away mid-file):
 * nothing of it was kept, it is one line and the loop goes on.
 */
export function isVerificationAlarm(error: unknown): boolean {
  if (exitCodeOf(error) !== EXIT.security) return false;
  for (const type of [
    UntrustedCertificateError, // CertificateChangedError too
    PeerJidMismatchError,
    AdvertisedFingerprintMismatchError,
    TlsHandshakeError,
    MethodDowngradeError,
  ]) {
    if (findCause(error, type)) return true;
  }
  const auth = findCause(error, PeerAuthenticationError);
  if (auth) return !(auth instanceof AuthenticationCancelledError);
  const ended = findCause(error, SessionTerminatedError);
  return ended?.by === "peer" && ended.reason.condition === "security-error" && ended.cause === undefined;
}

/** The first error of class `type` in `error`'s cause chain (itself included). */
export function findCause<T>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (let e = error, depth = 0; e && depth < 10; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}

/**
 * The key-change alarm, like ssh's: both fingerprints (colon-separated hex, the format of
 * `xtls trust list`) and the two ways to re-verify.
 */
export function describeKeyChange(error: CertificateChangedError): string {
  const jid = error.peerJid.split("/")[0];
  return (
    `WARNING: the certificate of ${jid} has CHANGED — someone may be in the middle (possible man-in-the-middle), or they replaced their key.\n` +
    `  pinned:    ${error.previous.map(formatFingerprint).join("\n             ")}\n` +
    `  presented: ${formatFingerprint(error.presented)}\n` +
    "Nothing was sent and no password was asked. To re-verify: `xtls trust forget " +
    `${jid}\` then a new first contact, or compare the presented fingerprint with them out of band and run again with --accept-new-key ${formatFingerprint(error.presented)}`
  );
}

/** One line saying what went wrong, for stderr (the key-change alarm takes a few). */
export function describeError(error: unknown): string {
  const changed = findCause(error, CertificateChangedError);
  if (changed) return describeKeyChange(changed);
  // Locked out by the password attempt limit (ours, or the peer's, which its terminate
  // names): the message says until when.
  const downgrade = findCause(error, MethodDowngradeError);
  if (downgrade) return downgrade.message;
  const limited = findCause(error, TooManyAttemptsError);
  if (limited) return limited.message;
  if (error instanceof SessionTerminatedError && error.reason.text?.includes("locked out")) {
    return error.reason.text;
  }
  if (error instanceof SessionTerminatedError) {
    const { condition, text } = error.reason;
    const who = error.by === "peer" ? "the peer ended the session" : "the session ended";
    const hint =
      condition === "security-error"
        ? " (the peer could not be verified: wrong one-time password, codes that differ, or someone in the middle)"
        : condition === "decline"
          ? " (the peer declined)"
          : "";
    return `${who}: ${condition}${hint}${text ? ` — ${text}` : ""}`;
  }
  return (error as Error)?.message ?? String(error);
}

/**
 * One line on stderr for each offered session the engine refused by itself (e.g. one
 * without end-to-end security); the command keeps waiting.
 */
export function logRefusals(
  xtls: { on(event: "refused", listener: (r: RefusedSession) => void): unknown },
  stderr: NodeJS.WritableStream,
  command: string,
): void {
  xtls.on("refused", ({ peer, reason }) => {
    stderr.write(`xtls ${command}: refused a session from ${peer}: ${reason.text ?? reason.condition}\n`);
  });
}
