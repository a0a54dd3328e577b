import { XtlsError } from "@xtls/core";
import { formatFingerprint } from "./fingerprint.js";

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

  constructor(
    peerJid: string,
    fingerprint: string,
    expected: readonly string[],
    detail?: string,
    code = "untrusted-certificate",
  ) {
    super(
      code,
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

/**
 * A peer whose certificate is pinned (verified, or trusted on first use) presented a
 * different one — what ssh reports as "REMOTE HOST IDENTIFICATION HAS CHANGED". Code
 * `certificate-changed`. Never re-verified automatically: no password is asked and no
 * short code shown for it (each would be one more guess for a man in the middle, and a
 * reused password would let him in). The user re-verifies deliberately: removes the old
 * entry and makes a new first contact, or pins the new fingerprint after comparing it.
 */
export class CertificateChangedError extends UntrustedCertificateError {
  /** The fingerprints pinned for the peer (lowercase hex). */
  readonly previous: readonly string[];
  /** The fingerprint of the certificate the peer presented (or announced) now. */
  readonly presented: string;

  constructor(peerJid: string, presented: string, previous: readonly string[]) {
    super(peerJid, presented, previous, undefined, "certificate-changed");
    this.message =
      `the certificate of ${peerJid} has CHANGED: pinned ${previous.map(formatFingerprint).join(" or ")}, ` +
      `presented now ${formatFingerprint(presented)}. ` +
      "Someone could be in the middle (possible man-in-the-middle), or the peer replaced its certificate. " +
      "Nothing was exchanged and no password or code was asked; verify the new certificate with the peer " +
      "out of band, then remove the old entry from the trust store (or pin the new one) deliberately.";
    this.previous = previous;
    this.presented = presented;
  }
}

/**
 * A first contact was about to run with a weaker method than expected: `srp` was
 * expected (the user holds a one-time password for this session, or the peer was first
 * verified by `srp`) but the peer's offer or answer does not carry it — a peer or a
 * server stripped it so that the session would fall back to comparing short codes.
 * Code `method-downgrade`. Nothing was exchanged; no code was shown.
 */
export class MethodDowngradeError extends SecurityError {
  readonly peerJid: string;
  readonly expected: InTunnelMethod;
  /** What the peer's offer or answer carried instead. */
  readonly offered: readonly string[];
  readonly why: "password-in-hand" | "first-verified-by-srp";

  constructor(
    peerJid: string,
    expected: InTunnelMethod,
    offered: readonly string[],
    why: "password-in-hand" | "first-verified-by-srp",
  ) {
    super(
      "method-downgrade",
      `refused to fall back from ${expected === "srp" ? "the one-time password (srp)" : expected} with ${peerJid}: ` +
        `${why === "password-in-hand" ? "you have a one-time password for this session" : `${peerJid} was first verified by a one-time password`}, ` +
        `but the negotiation offers only ${offered.length ? offered.join(", ") : "nothing"} — someone may have stripped it ` +
        "(possible downgrade by the server or a man in the middle). Nothing was exchanged and no code was shown.",
    );
    this.peerJid = peerJid;
    this.expected = expected;
    this.offered = offered;
    this.why = why;
  }
}

/** Which authentication ran inside the tunnel. */
export type InTunnelMethod = "srp" | "sas";

/** Who noticed the failure: this side, or the peer (it told us with an abort message). */
export type DetectedBy = "local" | "peer";

/**
 * The reasons an in-tunnel authentication ends early; each is one octet in the ABORT
 * message (README "In-tunnel authentication").
 */
export type AuthFailureReason =
  | "bad-proof"
  | "declined"
  | "too-many-attempts"
  | "pairing-disabled"
  | "cancelled"
  | "certificate-refused"
  | "protocol-error"
  | "commitment-mismatch";

/**
 * The in-tunnel authentication (`srp` or `sas`) failed. No application byte was
 * exchanged and nothing was pinned. Never carries a password or a code.
 */
export class PeerAuthenticationError extends SecurityError {
  readonly method: InTunnelMethod;
  readonly peerJid: string;
  readonly detectedBy: DetectedBy;
  readonly reason: AuthFailureReason;

  constructor(
    code: string,
    message: string,
    init: { method: InTunnelMethod; peerJid: string; detectedBy: DetectedBy; reason: AuthFailureReason },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.method = init.method;
    this.peerJid = init.peerJid;
    this.detectedBy = init.detectedBy;
    this.reason = init.reason;
  }
}

/**
 * SRP proofs did not match: the two sides used different passwords, or someone is in
 * the middle (a relay has two TLS sessions, so the session binding differs).
 */
export class SrpAuthenticationError extends PeerAuthenticationError {
  constructor(peerJid: string, detectedBy: DetectedBy) {
    super(
      "srp-failed",
      `password authentication with ${peerJid} failed${
        detectedBy === "peer" ? " (the peer rejected our proof)" : ""
      }: the passwords differ, or someone is in the middle (possible man-in-the-middle). ` +
        "Nothing was exchanged and nothing was trusted; check the password with the peer and try again.",
      { method: "srp", peerJid, detectedBy, reason: "bad-proof" },
    );
  }
}

/** A user said the short authentication strings differ (or did not confirm them). */
export class SasMismatchError extends PeerAuthenticationError {
  constructor(peerJid: string, detectedBy: DetectedBy) {
    super(
      "sas-declined",
      `${detectedBy === "local" ? "the short authentication string was not confirmed" : `${peerJid}'s user did not confirm the short authentication string`}: ` +
        "if the codes differed, someone is in the middle (possible man-in-the-middle). Nothing was exchanged and nothing was trusted.",
      { method: "sas", peerJid, detectedBy, reason: "declined" },
    );
  }
}

/**
 * Too many failed password attempts with this peer: wait before trying again. The
 * message says until when (UTC, ISO 8601); no password was asked.
 */
export class TooManyAttemptsError extends PeerAuthenticationError {
  /** How long until the next attempt is allowed (0 when unknown). */
  readonly retryAfterMs: number;
  /** When the next attempt is allowed (undefined when unknown). */
  readonly retryAt: Date | undefined;

  constructor(
    peerJid: string,
    retryAfterMs: number,
    detectedBy: DetectedBy,
    detail?: string,
    now = Date.now(),
  ) {
    const secs = Math.ceil(retryAfterMs / 1000);
    const retryAt = retryAfterMs > 0 ? new Date(now + retryAfterMs) : undefined;
    super(
      "too-many-attempts",
      `${detail ?? `too many failed password attempts with ${peerJid}`}${
        detectedBy === "peer" ? " (refused by the peer)" : ""
      }; locked out${retryAt ? ` until ${retryAt.toISOString().replace(/\.\d+Z$/, "Z")} (in ${secs} s)` : " for now, try again later"}${detectedBy === "local" ? "; no password was asked" : ""}`,
      { method: "srp", peerJid, detectedBy, reason: "too-many-attempts" },
    );
    this.retryAfterMs = retryAfterMs;
    this.retryAt = retryAt;
  }
}

/** The device is not in pairing mode (draft §5.2: a button press enables it). */
export class PairingDisabledError extends PeerAuthenticationError {
  constructor(peerJid: string, detectedBy: DetectedBy) {
    super(
      "pairing-disabled",
      detectedBy === "local"
        ? `refused a password pairing with ${peerJid}: pairing mode is not enabled on this device`
        : `${peerJid} is not in pairing mode: enable pairing on the device (e.g. press its pairing button) and try again`,
      { method: "srp", peerJid, detectedBy, reason: "pairing-disabled" },
    );
  }
}

/** No password was given, the prompt was dismissed, or the peer gave up. */
export class AuthenticationCancelledError extends PeerAuthenticationError {
  constructor(
    method: InTunnelMethod,
    peerJid: string,
    detectedBy: DetectedBy,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(
      "auth-cancelled",
      `${method === "srp" ? "password" : "short authentication string"} authentication with ${peerJid} was cancelled ${
        detectedBy === "local" ? "here" : "by the peer"
      }${detail ? ` (${detail})` : ""}`,
      { method, peerJid, detectedBy, reason: "cancelled" },
      options,
    );
  }
}

/** The in-tunnel messages were malformed, out of order, or the peer refused our certificate. */
export class AuthProtocolError extends PeerAuthenticationError {
  constructor(
    method: InTunnelMethod,
    peerJid: string,
    detectedBy: DetectedBy,
    reason: AuthFailureReason,
    detail: string,
  ) {
    super(
      "auth-protocol-error",
      `${method} authentication with ${peerJid} failed${detectedBy === "peer" ? " at the peer" : ""}: ${detail}`,
      { method, peerJid, detectedBy, reason },
    );
  }
}
