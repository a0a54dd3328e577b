import { XtlsError } from "@xtls/core";

/**
 * The input ended (or the underlying stream closed) before the peer's `</stream:stream>`.
 * Whatever arrived may be incomplete: an attacker or a dying transport cut the stream
 * short, and that must never look like a clean close. (Over XTLS, a cut without TLS
 * close_notify surfaces as the TLS layer's own `TruncationError` instead.)
 */
export class StreamTruncatedError extends XtlsError {
  constructor(peer: string, why: string, cause?: unknown) {
    super(
      "stream-truncated",
      `the XML stream with ${peer} ended without </stream:stream> (${why}); ` +
        "what was received may be incomplete",
      { cause },
    );
  }
}

/** The stream is not open (not yet, or any more): nothing can be sent or requested. */
export class StreamClosedError extends XtlsError {
  constructor(peer: string, why: string, cause?: unknown) {
    super("stream-closed", `the XML stream with ${peer} is not open: ${why}`, { cause });
  }
}
