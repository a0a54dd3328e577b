import { FileTransferError } from "@xtls/file-transfer";
import { type RefusedSession, SessionTerminatedError } from "@xtls/jingle";
import { SecurityError } from "@xtls/tls";
import { ConnectionError, EXIT, UsageError } from "../account.js";

/** The exit code a failure means to a script (see EXIT). */
export function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof ConnectionError) return EXIT.connection;
  const condition =
    error instanceof SessionTerminatedError
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

/** One line saying what went wrong, for stderr. */
export function describeError(error: unknown): string {
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
