/**
 * Base class of every error the XTLS packages raise on purpose. `code` is stable and
 * meant for programs; `message` is for people and says what happened and what to do.
 */
export class XtlsError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A request or handshake did not finish in the time allowed. */
export class TimeoutError extends XtlsError {
  constructor(what: string, ms: number) {
    super("timeout", `${what} did not complete within ${ms} ms`);
  }
}

/** The caller aborted the operation through its `AbortSignal`. */
export class AbortError extends XtlsError {
  constructor(what: string, reason?: unknown) {
    super("aborted", `${what} was aborted${reason instanceof Error ? `: ${reason.message}` : ""}`, {
      cause: reason,
    });
  }
}
