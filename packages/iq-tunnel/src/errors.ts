import { type StanzaError, XtlsError } from "@xtls/core";

/** The peer refused to start a tunnel (`service-unavailable`, `not-acceptable`, …). */
export class TunnelRefusedError extends XtlsError {
  readonly stanzaError: StanzaError;

  constructor(peer: string, error: StanzaError) {
    const why =
      error.condition === "service-unavailable"
        ? `${peer} does not support XTLS (urn:xmpp:tmp:xtls) or is offline`
        : error.condition === "not-acceptable"
          ? `${peer} declined to start an XTLS tunnel`
          : `${peer} refused to start an XTLS tunnel (${error.condition})`;
    super(`tunnel-refused:${error.condition}`, error.text ? `${why}: ${error.text}` : why, { cause: error });
    this.stanzaError = error;
  }
}

/** The tunnel closed: by the peer, by us, or because something failed. */
export class TunnelClosedError extends XtlsError {
  constructor(peer: string, why: string, cause?: unknown) {
    super("tunnel-closed", `the XTLS tunnel with ${peer} is closed: ${why}`, { cause });
  }
}

/**
 * The peer sent something through the tunnel that it must not: a stanza claiming
 * another sender or recipient, a non-stanza element, or XML we do not accept. The
 * tunnel is torn down; the offending stanza is never delivered.
 */
export class InnerStanzaError extends XtlsError {
  constructor(peer: string, why: string, cause?: unknown) {
    super("inner-stanza-rejected", `${peer} sent an invalid stanza through the tunnel: ${why}`, { cause });
  }
}

/** A `<data/>` IQ was refused or failed (the peer went away, or rejected our data). */
export class TunnelDataError extends XtlsError {
  constructor(peer: string, cause: unknown) {
    super(
      "tunnel-data-failed",
      `sending tunnel data to ${peer} failed: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
  }
}
