/**
 * Stream errors (RFC 6120 §4.9): the `<stream:error/>` element and the typed error the
 * application sees when a stream ends with one, whichever side sent it.
 *
 * Stream errors are unrecoverable (RFC 6120 §4.9.1.1): the side that detects the problem
 * sends `<stream:error/>` and `</stream:stream>`, and the stream is over.
 */
import { type Element, NS, XtlsError, xml } from "@xtls/core";

/** The defined conditions of RFC 6120 §4.9.3. */
export type StreamErrorCondition =
  | "bad-format"
  | "bad-namespace-prefix"
  | "conflict"
  | "connection-timeout"
  | "host-gone"
  | "host-unknown"
  | "improper-addressing"
  | "internal-server-error"
  | "invalid-from"
  | "invalid-namespace"
  | "invalid-xml"
  | "not-authorized"
  | "not-well-formed"
  | "policy-violation"
  | "remote-connection-failed"
  | "reset"
  | "resource-constraint"
  | "restricted-xml"
  | "see-other-host"
  | "system-shutdown"
  | "undefined-condition"
  | "unsupported-encoding"
  | "unsupported-feature"
  | "unsupported-stanza-type"
  | "unsupported-version";

const CONDITIONS: ReadonlySet<string> = new Set<StreamErrorCondition>([
  "bad-format",
  "bad-namespace-prefix",
  "conflict",
  "connection-timeout",
  "host-gone",
  "host-unknown",
  "improper-addressing",
  "internal-server-error",
  "invalid-from",
  "invalid-namespace",
  "invalid-xml",
  "not-authorized",
  "not-well-formed",
  "policy-violation",
  "remote-connection-failed",
  "reset",
  "resource-constraint",
  "restricted-xml",
  "see-other-host",
  "system-shutdown",
  "undefined-condition",
  "unsupported-encoding",
  "unsupported-feature",
  "unsupported-stanza-type",
  "unsupported-version",
]);

/** Who sent the `<stream:error/>`: the peer, or we (because the peer broke a rule). */
export type StreamErrorOrigin = "peer" | "local";

export interface StreamErrorOptions {
  readonly origin: StreamErrorOrigin;
  /** The peer's full JID, for the message. */
  readonly peer: string;
  /** The human-readable `<text/>` of the error. */
  readonly text?: string;
  readonly cause?: unknown;
}

/**
 * The XML stream ended with a stream error. `origin` says who sent it: `"peer"` when the
 * peer closed the stream on us, `"local"` when we closed it because the peer sent something
 * it must not (a spoofed `from`, a non-stanza, forbidden XML, …).
 */
export class StreamError extends XtlsError {
  readonly condition: StreamErrorCondition;
  readonly origin: StreamErrorOrigin;
  readonly text: string | undefined;

  constructor(condition: StreamErrorCondition, options: StreamErrorOptions) {
    const detail = options.text ? `: ${options.text}` : "";
    super(
      `stream-error:${condition}`,
      options.origin === "peer"
        ? `${options.peer} closed the XML stream with the stream error <${condition}/>${detail}`
        : `the XML stream with ${options.peer} was closed with the stream error <${condition}/>` +
            ` because the peer broke the protocol${detail}`,
      { cause: options.cause },
    );
    this.condition = condition;
    this.origin = options.origin;
    this.text = options.text;
  }

  /** `<stream:error><COND xmlns='…xmpp-streams'/><text …/></stream:error>` (RFC 6120 §4.9.2). */
  toElement(): Element {
    return xml(
      "stream:error",
      {},
      xml(this.condition, { xmlns: NS.STREAM_ERRORS }),
      this.text === undefined
        ? undefined
        : xml("text", { xmlns: NS.STREAM_ERRORS, "xml:lang": "en" }, this.text),
    );
  }

  /**
   * Reads a received `<stream:error/>` leniently: an unknown or missing condition becomes
   * `undefined-condition` (RFC 6120 §4.9.3.21 is the catch-all).
   */
  static fromElement(error: Element, peer: string): StreamError {
    let condition: StreamErrorCondition = "undefined-condition";
    let text: string | undefined;
    for (const child of error.getChildElements()) {
      if (child.getNS() !== NS.STREAM_ERRORS) continue; // application-specific conditions
      const name = child.getName();
      if (name === "text") text = child.text();
      else if (CONDITIONS.has(name)) condition = name as StreamErrorCondition;
    }
    return new StreamError(condition, { origin: "peer", peer, text });
  }

  /** Whether `err` is a stream error with the given condition (and origin). */
  static is(err: unknown, condition: StreamErrorCondition, origin?: StreamErrorOrigin): err is StreamError {
    return (
      err instanceof StreamError &&
      err.condition === condition &&
      (origin === undefined || err.origin === origin)
    );
  }
}
