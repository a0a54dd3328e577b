import { type Element, XtlsError } from "@xtls/core";
import type { Reason, ReasonCondition } from "./model.js";

/**
 * An error that says how the session should end: plug-ins throw it to choose the
 * `<reason/>` of the session-terminate (a failed TLS handshake → `security-error`, no
 * working candidate → `connectivity-error`, …).
 */
export class JingleReasonError extends XtlsError {
  readonly reason: Reason;

  constructor(
    condition: ReasonCondition,
    message: string,
    options: { cause?: unknown; text?: string; extra?: Element } = {},
  ) {
    super(`jingle:${condition}`, message, { cause: options.cause });
    this.reason = {
      condition,
      text: options.text ?? message,
      ...(options.extra ? { extra: options.extra } : {}),
    };
  }
}

/**
 * The transport could not be opened. With `fallback: true` the initiator may replace
 * it by the next transport method (XEP-0260 §2.4: transport-replace to IBB).
 */
export class TransportFailedError extends JingleReasonError {
  readonly fallback: boolean;

  constructor(
    message: string,
    options: { cause?: unknown; fallback?: boolean; condition?: ReasonCondition } = {},
  ) {
    super(options.condition ?? "connectivity-error", message, { cause: options.cause });
    this.fallback = options.fallback ?? true;
  }
}

/** The session ended (locally or by the peer) with a reason other than success. */
export class SessionTerminatedError extends XtlsError {
  readonly reason: Reason;
  readonly by: "local" | "peer";

  constructor(reason: Reason, by: "local" | "peer", cause?: unknown) {
    super(
      `jingle-terminated:${reason.condition}`,
      `the Jingle session ended (${by === "peer" ? "by the peer" : "locally"}): ${reason.condition}${reason.text ? ` — ${reason.text}` : ""}`,
      { cause },
    );
    this.reason = reason;
    this.by = by;
  }
}
