import { XtlsError } from "@xtls/core";

/**
 * The peer could not be authenticated, or the secure channel failed in a way that
 * may be an attack. Signalling layers map it to `security-error` (Jingle) or a closed
 * tunnel (Mode Q). No application data is ever delivered after one of these.
 */
export class SecurityError extends XtlsError {}

/** The peer's certificate is not pinned, trusted or verifiable for this JID. */
export class UntrustedCertificateError extends SecurityError {
  readonly peerJid: string;
  readonly fingerprint: string;
  readonly expected: readonly string[];

  constructor(peerJid: string, fingerprint: string, expected: readonly string[], detail?: string) {
    super(
      "untrusted-certificate",
      `the certificate of ${peerJid} (SHA-256 ${fingerprint}) is not trusted${
        expected.length
          ? `; expected one of ${expected.join(", ")}`
          : "; no fingerprint is pinned for this JID"
      }${detail ? ` (${detail})` : ""}. Possible man-in-the-middle: verify the peer's fingerprint out of band before pinning it.`,
    );
    this.peerJid = peerJid;
    this.fingerprint = fingerprint;
    this.expected = expected;
  }
}

/** The certificate names a JID other than the peer's (or none). */
export class PeerJidMismatchError extends SecurityError {
  readonly peerJid: string;
  readonly names: readonly string[];

  constructor(peerJid: string, names: readonly string[]) {
    super(
      "peer-jid-mismatch",
      names.length
        ? `the peer ${peerJid} presented a certificate for ${names.join(", ")}`
        : `the peer ${peerJid} presented a certificate that names no XMPP address`,
    );
    this.peerJid = peerJid;
    this.names = names;
  }
}

/** The certificate is not the one the peer advertised in the (cleartext) negotiation. */
export class AdvertisedFingerprintMismatchError extends SecurityError {
  constructor(peerJid: string, advertised: string, actual: string) {
    super(
      "advertised-fingerprint-mismatch",
      `${peerJid} advertised certificate ${advertised} but presented ${actual}: the negotiation was tampered with, or someone is in the middle`,
    );
  }
}

/** The TLS handshake failed: an alert, a protocol error, or no client certificate. */
export class TlsHandshakeError extends SecurityError {
  /** OpenSSL's reason, e.g. "sslv3 alert bad certificate" or "wrong version number". */
  readonly reason: string | undefined;

  constructor(message: string, options: { cause?: unknown; reason?: string } = {}) {
    super("tls-handshake-failed", message, { cause: options.cause });
    this.reason = options.reason;
  }
}

/** The secure channel failed after the handshake (bad record MAC, alert from the peer…). */
export class TlsChannelError extends SecurityError {
  readonly reason: string | undefined;

  constructor(message: string, options: { cause?: unknown; reason?: string } = {}) {
    super("tls-channel-failed", message, { cause: options.cause });
    this.reason = options.reason;
  }
}

/**
 * The carrier ended without a TLS close_notify: the data may have been cut short by
 * the network, a dying peer, or an attacker. Never a clean end of stream.
 */
export class TruncationError extends SecurityError {
  constructor(detail: string) {
    super(
      "truncated",
      `the secure channel was cut off without a TLS close_notify (${detail}); data may be missing`,
    );
  }
}
