/**
 * Why a session or a transfer failed, in words for the person at the page: the TLS
 * layer's own error when there is one (it says what happened and what to do), else the
 * Jingle reason.
 */
import { SessionTerminatedError } from "@xtls/jingle";
import { SecurityError } from "@xtls/tls";

export function describeFailure(error: unknown, peerName: string): string {
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

function findCause<T extends Error>(
  error: unknown,
  type: abstract new (...args: never[]) => T,
): T | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}
