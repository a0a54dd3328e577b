/**
 * CA-issued certificates (draft §2 item 1, §5.2): with configured trust anchors, a
 * peer certificate issued by one of them, valid now, and naming the peer's JID is
 * accepted without a password — automatically or after asking the user, per policy —
 * and pinned with method `ca`.
 *
 * Only certificates issued directly by an anchor are accepted (the peer sends its
 * leaf certificate only); configure an intermediate CA as the anchor if needed.
 *
 * Threat: anyone can make a certificate that names any JID and claims any issuer
 * name. The issuer's signature over it (checked with the anchor's public key), the
 * anchor being a CA, and both validity periods are what make it count; the JID check
 * (done first, for every method) stops a CA-issued certificate of one user being used
 * for another.
 */
import { X509Certificate } from "node:crypto";
import { fingerprintOf } from "./fingerprint.js";

/** What the "ask" policy shows the user. */
export interface CaConfirmRequest {
  /** The peer's full JID. */
  readonly peer: string;
  readonly fingerprint: string;
  /** The peer certificate's subject and issuer, as OpenSSL prints them. */
  readonly subject: string;
  readonly issuer: string;
  /** SHA-256 fingerprint of the anchor that issued it. */
  readonly anchorFingerprint: string;
  readonly signal: AbortSignal;
}

export interface CaPolicy {
  /** Trust anchors: X509Certificate objects, PEM text or DER. */
  readonly anchors: readonly (X509Certificate | string | Uint8Array)[];
  /**
   * `"accept"`: a certificate that chains to an anchor is trusted at once. A function:
   * the user is asked (draft §5.2 "SHOULD ask the user if the certificate is
   * acceptable"); `false` refuses it.
   */
  readonly accept: "accept" | ((request: CaConfirmRequest) => Promise<boolean> | boolean);
  /** Clock for validity checks, for tests. Default `new Date()`. */
  readonly now?: () => Date;
}

export type CaVerdict =
  | { readonly ok: true; readonly anchor: X509Certificate; readonly anchorFingerprint: string }
  | { readonly ok: false; readonly reason: string };

function toCertificate(anchor: X509Certificate | string | Uint8Array): X509Certificate {
  return anchor instanceof X509Certificate ? anchor : new X509Certificate(anchor as string | Buffer);
}

function validAt(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

/** Whether `certificateDer` was issued by one of the anchors and is valid now. */
export function verifyCaIssued(
  certificateDer: Uint8Array,
  policy: Pick<CaPolicy, "anchors" | "now">,
): CaVerdict {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(Buffer.from(certificateDer));
  } catch {
    return { ok: false, reason: "the certificate cannot be parsed" };
  }
  const now = policy.now?.() ?? new Date();
  let reason = "it was not issued by a configured trust anchor";
  for (const raw of policy.anchors) {
    const anchor = toCertificate(raw);
    // Issuer name (and key identifiers, when present) first, then the signature.
    if (!leaf.checkIssued(anchor) || !leaf.verify(anchor.publicKey)) continue;
    if (!anchor.ca) {
      reason = "its issuer is not a CA certificate (basicConstraints cA is false)";
      continue;
    }
    if (!validAt(anchor, now)) {
      reason = "the issuing CA certificate is expired or not yet valid";
      continue;
    }
    if (!validAt(leaf, now)) {
      return { ok: false, reason: "it is expired or not yet valid" };
    }
    return { ok: true, anchor, anchorFingerprint: fingerprintOf(anchor.raw) };
  }
  return { ok: false, reason };
}
