/**
 * Why a session or a transfer failed, in words for the person at the page: the TLS
 * layer's own error when there is one (it says what happened and what to do), else the
 * Jingle reason.
 */
import { SessionTerminatedError } from "@xtls/jingle";
import { CertificateChangedError, formatFingerprint, SecurityError } from "@xtls/tls";

export function describeFailure(error: unknown, peerName: string): string {
  // The key-change alarm comes first, whatever carried it: it is not a "could not verify"
  // but a "the key you verified is not the one presented" (possible man in the middle).
  const changed = findCause(error, CertificateChangedError);
  if (changed) return describeKeyChange(changed, peerName);
  const security = findCause(error, SecurityError);
  if (error instanceof SessionTerminatedError) {
    const { condition, text } = error.reason;
    if (condition === "decline") return `${peerName} declined.`;
    if (condition === "cancel")
      return error.by === "peer" ? `${peerName} cancelled it.` : "You cancelled it.";
    if (condition === "timeout" && error.by === "local") return `${peerName} did not answer in time.`;
    if (condition === "security-error") {
      // Our own TLS layer's finding when it has one; else the peer's words, as the peer's
      // (its text names us as "the peer").
      const why = security
        ? security.message
        : error.by === "peer"
          ? `${peerName}'s side reports: ${text ?? "security error"}`
          : (text ?? "the security precondition failed");
      return `Not verified: the session was refused before any message was sent — ${why}`;
    }
    const by = error.by === "peer" ? `by ${peerName}` : "here";
    return `The session ended ${by} (${condition})${text ? `: ${text}` : ""}`;
  }
  if (security) return `Not verified: ${security.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The key-change alarm, in words for the page: both fingerprints and how to re-verify. */
export function describeKeyChange(error: CertificateChangedError, peerName: string): string {
  return (
    `⚠ WARNING: ${peerName}'s certificate has CHANGED. You verified ${error.previous.map(formatFingerprint).join(" or ")}, ` +
    `but ${formatFingerprint(error.presented)} was presented. Someone may be in the middle (possible man-in-the-middle), ` +
    "or they replaced their key. Nothing was sent and no password was asked. To re-verify: remove the old " +
    "certificate from the trust store and make a new first contact, after comparing the new fingerprint with them " +
    "out of band."
  );
}

function findCause<T extends Error>(
  error: unknown,
  type: abstract new (...args: never[]) => T,
): T | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}
