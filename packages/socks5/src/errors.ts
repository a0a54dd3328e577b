/**
 * What can go wrong with a SOCKS5 Bytestream, as typed errors a caller can tell apart:
 * the peer refused our offer, no streamhost could be reached, a proxy refused to
 * activate, the TCP connection broke, or the peer broke XEP-0065 on its side.
 */
import { type StanzaError, XtlsError } from "@xtls/core";
import type { StreamHost } from "./elements.js";

/** The Target answered our `<query/>` with an error (XEP-0065 §5.3.3; docs/protocol/socks5.md#errors). */
export class S5bRefusedError extends XtlsError {
  readonly peer: string;
  readonly sid: string;
  readonly stanzaError: StanzaError;

  constructor(peer: string, sid: string, error: StanzaError) {
    const why =
      error.condition === "service-unavailable" || error.condition === "feature-not-implemented"
        ? `${peer} does not support SOCKS5 Bytestreams or is offline`
        : error.condition === "not-acceptable"
          ? `${peer} declined the SOCKS5 Bytestream '${sid}'`
          : error.condition === "item-not-found"
            ? `${peer} could not connect to any streamhost we offered for '${sid}' (a firewall or NAT in the way? offer a proxy)`
            : `${peer} refused the SOCKS5 Bytestream '${sid}' (${error.condition})`;
    super(`s5b-refused:${error.condition}`, error.text ? `${why}: ${error.text}` : why, { cause: error });
    this.peer = peer;
    this.sid = sid;
    this.stanzaError = error;
  }
}

/** A TCP connection or SOCKS5 handshake with one streamhost failed. */
export class S5bStreamhostError extends XtlsError {
  readonly streamhost: Pick<StreamHost, "host" | "port"> & { readonly jid?: string };

  constructor(streamhost: Pick<StreamHost, "host" | "port"> & { readonly jid?: string }, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(
      "s5b-streamhost-failed",
      `could not reach the SOCKS5 streamhost ${streamhost.host}:${streamhost.port}${streamhost.jid ? ` (${streamhost.jid})` : ""}: ${why}`,
      { cause },
    );
    this.streamhost = streamhost;
  }
}

/** No streamhost was available (none to offer) or none of those tried could be reached. */
export class S5bNoStreamhostError extends XtlsError {
  readonly peer: string;
  readonly sid: string;
  /** Why each streamhost failed, in the order tried. */
  readonly failures: readonly Error[];

  constructor(peer: string, sid: string, what: string, failures: readonly Error[] = []) {
    super(
      "s5b-no-streamhost",
      `SOCKS5 Bytestream '${sid}' with ${peer}: ${what}${failures.length ? ` (${failures.map((f) => f.message).join("; ")})` : ""}`,
    );
    this.peer = peer;
    this.sid = sid;
    this.failures = failures;
  }
}

/** The proxy answered our `<activate/>` with an error (XEP-0065 §6.3.5). */
export class S5bActivationError extends XtlsError {
  readonly proxy: string;
  readonly sid: string;
  readonly stanzaError: StanzaError | undefined;

  constructor(proxy: string, sid: string, cause: unknown, stanzaError?: StanzaError) {
    const why = stanzaError
      ? stanzaError.condition === "not-allowed"
        ? "only one of the two parties is connected to it"
        : stanzaError.condition === "item-not-found"
          ? "it knows no such session from us"
          : stanzaError.condition === "not-authorized"
            ? "the hashes do not match"
            : stanzaError.condition
      : cause instanceof Error
        ? cause.message
        : String(cause);
    super(
      stanzaError ? `s5b-activation:${stanzaError.condition}` : "s5b-activation",
      `the SOCKS5 proxy ${proxy} did not activate the bytestream '${sid}': ${why}`,
      { cause },
    );
    this.proxy = proxy;
    this.sid = sid;
    this.stanzaError = stanzaError;
  }
}

/**
 * The TCP connection under an open bytestream broke (reset, or closed before its end of
 * stream): bytes may be missing. Never a clean end of stream.
 */
export class S5bConnectionLostError extends XtlsError {
  readonly peer: string;
  readonly sid: string;

  constructor(peer: string, sid: string, cause?: unknown) {
    const why = cause instanceof Error ? cause.message : "the connection closed without an end of stream";
    super(
      "s5b-connection-lost",
      `the SOCKS5 Bytestream '${sid}' with ${peer} broke (${why}); bytes may be missing`,
      { cause },
    );
    this.peer = peer;
    this.sid = sid;
  }
}

/** The peer said something XEP-0065 or XEP-0260 does not allow (an unknown streamhost or candidate). */
export class S5bProtocolError extends XtlsError {
  readonly peer: string;
  readonly sid: string;

  constructor(peer: string, sid: string, detail: string) {
    super("s5b-protocol", `${peer} broke the SOCKS5 Bytestream protocol on '${sid}': ${detail}`);
    this.peer = peer;
    this.sid = sid;
  }
}

/** The service (or its listener) is closed, or the XMPP connection went away. */
export class S5bClosedError extends XtlsError {
  constructor(what: string) {
    super("s5b-closed", what);
  }
}

/** `open()` or `expect()` named a sid already in use with that peer. */
export class S5bSidInUseError extends XtlsError {
  readonly peer: string;
  readonly sid: string;

  constructor(peer: string, sid: string) {
    super(
      "s5b-sid-in-use",
      `the sid '${sid}' is already in use with ${peer}; pick another sid or close that bytestream first`,
    );
    this.peer = peer;
    this.sid = sid;
  }
}
