/**
 * What can go wrong with an In-Band Bytestream, as typed errors a caller can tell apart:
 * the peer refused our `<open/>`, the peer broke XEP-0047 on its side of the stream, a
 * `<data/>` we sent was not delivered, or the bytestream is already closed.
 */
import { type StanzaError, XtlsError } from "@xtls/core";

/** The peer answered our `<open/>` with an error (XEP-0047 §2.1). */
export class IbbRefusedError extends XtlsError {
  readonly peer: string;
  readonly sid: string;
  readonly stanzaError: StanzaError;

  constructor(peer: string, sid: string, error: StanzaError) {
    const why =
      error.condition === "service-unavailable" || error.condition === "feature-not-implemented"
        ? `${peer} does not support In-Band Bytestreams or is offline`
        : error.condition === "not-acceptable"
          ? `${peer} declined the In-Band Bytestream '${sid}'`
          : error.condition === "resource-constraint"
            ? `${peer} refused every block size we offered for the In-Band Bytestream '${sid}'`
            : `${peer} refused the In-Band Bytestream '${sid}' (${error.condition})`;
    super(`ibb-refused:${error.condition}`, error.text ? `${why}: ${error.text}` : why, { cause: error });
    this.peer = peer;
    this.sid = sid;
    this.stanzaError = error;
  }
}

/** What the peer did wrong, as listed in docs/protocol/ibb.md#receiver-errors. */
export type IbbViolation = "bad-seq" | "bad-base64" | "block-too-large" | "bad-data";

/**
 * The peer sent something XEP-0047 forbids on an open bytestream (a `seq` out of order,
 * invalid Base64, a chunk larger than the block size). We answered with
 * `condition`, closed the bytestream, and delivered none of the offending data.
 */
export class IbbProtocolError extends XtlsError {
  readonly peer: string;
  readonly sid: string;
  readonly violation: IbbViolation;
  /** The stanza error we answered with. */
  readonly condition: StanzaError["condition"];

  constructor(
    peer: string,
    sid: string,
    violation: IbbViolation,
    condition: StanzaError["condition"],
    detail: string,
  ) {
    super(
      `ibb-protocol:${violation}`,
      `${peer} broke XEP-0047 on the In-Band Bytestream '${sid}' (${detail}); we answered ${condition} and closed it`,
    );
    this.peer = peer;
    this.sid = sid;
    this.violation = violation;
    this.condition = condition;
  }
}

/**
 * A `<data/>` (or our `<close/>`) was not delivered or was refused: an error reply
 * (`service-unavailable`, `recipient-unavailable`, `remote-server-timeout`, or the peer
 * rejecting our data), a timeout, or the connection dropping. XEP-0047 §2.2: upon delivery
 * failure the bytestream is closed and invalid; data may have been lost.
 */
export class IbbDeliveryError extends XtlsError {
  readonly peer: string;
  readonly sid: string;
  /** The error reply, when there was one (otherwise see `cause`). */
  readonly stanzaError: StanzaError | undefined;

  constructor(peer: string, sid: string, cause: unknown, stanzaError?: StanzaError) {
    const why = stanzaError ? stanzaError.condition : cause instanceof Error ? cause.message : String(cause);
    super(
      stanzaError ? `ibb-delivery:${stanzaError.condition}` : "ibb-delivery",
      `data for the In-Band Bytestream '${sid}' with ${peer} was not delivered (${why}); the bytestream is closed and bytes may be lost`,
      { cause },
    );
    this.peer = peer;
    this.sid = sid;
    this.stanzaError = stanzaError;
  }
}

/** The bytestream is closed (by the peer, the connection, or the service) and cannot carry more data. */
export class IbbClosedError extends XtlsError {
  readonly peer: string;
  readonly sid: string;

  constructor(peer: string, sid: string, why: string) {
    super("ibb-closed", `the In-Band Bytestream '${sid}' with ${peer} is closed: ${why}`);
    this.peer = peer;
    this.sid = sid;
  }
}

/** `open()`, `expect()` or `attach()` named a sid already in use with that peer. */
export class IbbSidInUseError extends XtlsError {
  readonly peer: string;
  readonly sid: string;

  constructor(peer: string, sid: string) {
    super(
      "ibb-sid-in-use",
      `the sid '${sid}' is already in use with ${peer}; pick another sid or close that bytestream first`,
    );
    this.peer = peer;
    this.sid = sid;
  }
}
