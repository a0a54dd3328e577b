/**
 * Peer authentication for the `x509` method: after the TLS handshake, the certificate
 * the peer actually presented must (1) name the peer's bare JID as an XmppAddr,
 * (2) match the fingerprint the peer advertised in the cleartext negotiation, if any,
 * (3) not be revoked, and (4) be trusted: pinned by the caller, trusted (verified or
 * tofu) in the trust store for that bare JID, issued by a configured CA (policy
 * "accept" or "ask"), or — only with the explicit TOFU policy — the first certificate
 * ever seen for that JID.
 *
 * Threat: a man in the middle (a malicious or compromised server) relays the
 * negotiation and runs its own TLS sessions with each side. It can rewrite the
 * advertised fingerprints, but it cannot present a certificate whose fingerprint is
 * pinned for the peer without the peer's private key; check (4) is what stops it.
 * Check (1) stops a trusted friend's (or a CA-issued) certificate being replayed for
 * another JID. TOFU is off by default because on first contact it trusts whoever
 * answers — the man in the middle included; once something is pinned, a different
 * certificate is refused loudly (CertificateChangedError), never re-pinned.
 */
import { X509Certificate } from "node:crypto";
import { bareJid } from "@xtls/core";
import { xmppAddrsOf } from "./certificate.js";
import {
  AdvertisedFingerprintMismatchError,
  CertificateChangedError,
  PeerJidMismatchError,
  UntrustedCertificateError,
} from "./errors.js";
import { fingerprintMatches, fingerprintOf, tryParseFingerprint } from "./fingerprint.js";
import type { SasAuth } from "./sas.js";
import type { SrpAuth } from "./srp.js";
import { type CaPolicy, verifyCaIssued } from "./trust-anchors.js";
import type { TrustEntry, TrustStore } from "./trust-store.js";

export interface X509Auth {
  readonly method: "x509";
  /** Fingerprints the caller pins for this peer (any accepted format). */
  readonly pinned?: readonly string[];
  /** Consulted for the peer's bare JID; defaults to the engine's trust store. */
  readonly trustStore?: TrustStore;
  /** What the peer advertised in signalling: a hint, checked against the real certificate. */
  readonly advertised?: string;
  /**
   * Trust on first use ("leap of faith"): pin the certificate with state `tofu` when
   * nothing at all is known for the peer. Default: the engine's `tofu` (itself false).
   */
  readonly tofu?: boolean;
  /** Trust anchors for CA-issued certificates; `false` disables the engine's. */
  readonly ca?: CaPolicy | false;
}

/**
 * How to authenticate the peer: `x509` (pinned, trusted, CA-issued or TOFU
 * certificates), or a bootstrap inside the tunnel before any application byte: `srp`
 * (a one-time password) or `sas` (users compare a short code).
 */
export type ChannelAuth = X509Auth | SrpAuth | SasAuth;

/** Why the peer is trusted. */
export type PeerTrust =
  /** A fingerprint the caller passed in `auth.pinned`. */
  | { readonly source: "pinned" }
  /** An existing trust-store entry (verified or tofu). */
  | { readonly source: "trust-store"; readonly entry: TrustEntry }
  /** TOFU: first contact, pinned now with state `tofu`. */
  | { readonly source: "tofu"; readonly entry: TrustEntry }
  /** Issued by a configured trust anchor; pinned now with method `ca` when there is a store. */
  | { readonly source: "ca"; readonly anchorFingerprint: string; readonly entry?: TrustEntry }
  /** Proved by a password or a confirmed short code in this session; pinned as verified. */
  | { readonly source: "srp" | "sas"; readonly entry?: TrustEntry };

/** Who the peer is, once verified. */
export interface PeerIdentity {
  /** The peer's full JID. */
  readonly jid: string;
  readonly bareJid: string;
  /** SHA-256 of the peer's DER certificate, lowercase hex. */
  readonly fingerprint: string;
  readonly certificateDer: Buffer;
  readonly xmppAddrs: readonly string[];
  /** What made it trusted. */
  readonly trust: PeerTrust;
}

export interface VerifyInput {
  readonly peerJid: string;
  readonly certificateDer: Buffer;
  readonly auth: X509Auth;
  /** The engine's trust store, used when `auth.trustStore` is not given. */
  readonly trustStore?: TrustStore;
  readonly certificate?: X509Certificate;
  /** The engine's TOFU default (`auth.tofu` wins). */
  readonly tofu?: boolean;
  /** The engine's trust anchors (`auth.ca` wins). */
  readonly ca?: CaPolicy;
  /** Passed to the CA "ask" prompt. */
  readonly signal?: AbortSignal;
}

/** The checks every method makes on the presented certificate before trusting it. */
export interface PresentedCertificate {
  readonly peerBare: string;
  readonly fingerprint: string;
  readonly xmppAddrs: readonly string[];
  /** All trust-store entries of the peer's bare JID (any state). */
  readonly entries: readonly TrustEntry[];
}

/**
 * Checks (1)–(3): the certificate names the peer's bare JID, matches what the peer
 * advertised (if anything), and is not revoked. Every method runs these first;
 * `srp` and `sas` then prove the rest inside the tunnel.
 */
export async function checkPresentedCertificate(
  peerJid: string,
  der: Buffer,
  advertised: string | undefined,
  store: TrustStore | undefined,
): Promise<PresentedCertificate> {
  const peerBare = bareJid(peerJid);
  const fingerprint = fingerprintOf(der);
  const xmppAddrs = xmppAddrsOf(der);
  const named = xmppAddrs.map((a) => {
    try {
      return bareJid(a);
    } catch {
      return a;
    }
  });
  if (!named.includes(peerBare)) throw new PeerJidMismatchError(peerJid, xmppAddrs);

  if (advertised !== undefined) {
    const parsed = tryParseFingerprint(advertised);
    if (!parsed || !fingerprintMatches(der, fingerprint, parsed)) {
      throw new AdvertisedFingerprintMismatchError(peerJid, advertised, fingerprint);
    }
  }

  const entries = store ? await store.entries(peerBare) : [];
  if (entries.some((e) => e.state === "revoked" && fingerprintMatches(der, fingerprint, e.fingerprint))) {
    throw new UntrustedCertificateError(peerJid, fingerprint, [], "this certificate has been revoked");
  }
  return { peerBare, fingerprint, xmppAddrs, entries };
}

/**
 * Throws {@link CertificateChangedError} when the peer has pinned (not revoked)
 * certificates and `fingerprint` is none of them. Threat: a man in the middle presenting
 * his own certificate for a JID we verified before, hoping the client falls back to a
 * first contact (a password prompt, a short code) instead of raising the alarm.
 */
export function assertNotChanged(
  peerJid: string,
  fingerprint: string,
  der: Buffer | undefined,
  entries: readonly TrustEntry[],
): void {
  const pinned = entries.filter((e) => e.state !== "revoked");
  if (pinned.length === 0) return;
  const matches = (e: TrustEntry) =>
    der ? fingerprintMatches(der, fingerprint, e.fingerprint) : e.fingerprint === fingerprint;
  if (pinned.some(matches)) return;
  throw new CertificateChangedError(
    peerJid,
    fingerprint,
    pinned.map((e) => e.fingerprint),
  );
}

export async function verifyPeerCertificate(input: VerifyInput): Promise<PeerIdentity> {
  const { peerJid, certificateDer: der, auth } = input;
  const store = auth.trustStore ?? input.trustStore;
  const { peerBare, fingerprint, xmppAddrs, entries } = await checkPresentedCertificate(
    peerJid,
    der,
    auth.advertised,
    store,
  );
  const identity = (trust: PeerTrust): PeerIdentity => ({
    jid: peerJid,
    bareJid: peerBare,
    fingerprint,
    certificateDer: der,
    xmppAddrs,
    trust,
  });

  if ((auth.pinned ?? []).some((p) => fingerprintMatches(der, fingerprint, p)))
    return identity({ source: "pinned" });
  const matching = entries.filter(
    (e) => e.state !== "revoked" && fingerprintMatches(der, fingerprint, e.fingerprint),
  );
  const trusted = matching.find((e) => e.state === "verified") ?? matching.find((e) => e.state === "tofu");
  if (trusted) return identity({ source: "trust-store", entry: trusted });

  let caDetail: string | undefined;
  const ca = auth.ca === false ? undefined : (auth.ca ?? input.ca);
  if (ca) {
    const verdict = verifyCaIssued(der, ca);
    if (verdict.ok) {
      if (ca.accept !== "accept") {
        const parsed = input.certificate ?? new X509Certificate(der);
        const ok = await ca.accept({
          peer: peerJid,
          fingerprint,
          subject: parsed.subject,
          issuer: parsed.issuer,
          anchorFingerprint: verdict.anchorFingerprint,
          signal: input.signal ?? new AbortController().signal,
        });
        if (ok !== true) {
          throw new UntrustedCertificateError(
            peerJid,
            fingerprint,
            [],
            "it was issued by a trusted CA, but the user did not accept it",
          );
        }
      }
      const entry = store
        ? await store.pin(peerBare, fingerprint, { state: "verified", method: "ca" })
        : undefined;
      return identity({
        source: "ca",
        anchorFingerprint: verdict.anchorFingerprint,
        ...(entry ? { entry } : {}),
      });
    }
    caDetail = `not accepted as CA-issued: ${verdict.reason}`;
  }

  // A pinned peer presenting another certificate: the alarm, not a plain "untrusted".
  assertNotChanged(peerJid, fingerprint, der, entries);

  if (auth.tofu ?? input.tofu ?? false) {
    if (!store) {
      throw new UntrustedCertificateError(peerJid, fingerprint, [], "trust on first use needs a trust store");
    }
    if (entries.length > 0) {
      throw new CertificateChangedError(
        peerJid,
        fingerprint,
        entries.map((e) => e.fingerprint),
      );
    }
    const entry = await store.pin(peerBare, fingerprint, { state: "tofu", method: "tofu" });
    return identity({ source: "tofu", entry });
  }

  const expected = [
    ...(auth.pinned ?? []).map((p) => tryParseFingerprint(p)?.hex ?? p),
    ...entries.filter((e) => e.state !== "revoked").map((e) => e.fingerprint),
  ];
  throw new UntrustedCertificateError(peerJid, fingerprint, expected, caDetail);
}
