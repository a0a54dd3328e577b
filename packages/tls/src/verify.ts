/**
 * Peer authentication for the `x509` method: after the TLS handshake, the certificate
 * the peer actually presented must (1) name the peer's bare JID as an XmppAddr,
 * (2) match the fingerprint the peer advertised in the cleartext negotiation, if any,
 * and (3) match a fingerprint pinned by the caller or trusted (verified or tofu, never
 * revoked) in the trust store for that bare JID.
 *
 * Threat: a man in the middle (a malicious or compromised server) relays the
 * negotiation and runs its own TLS sessions with each side. It can rewrite the
 * advertised fingerprints, but it cannot present a certificate whose fingerprint is
 * pinned for the peer without the peer's private key; check (3) is what stops it.
 * Check (1) stops a trusted friend's certificate being replayed for another JID.
 */
import type { X509Certificate } from "node:crypto";
import { bareJid } from "@xtls/core";
import { xmppAddrsOf } from "./certificate.js";
import {
  AdvertisedFingerprintMismatchError,
  PeerJidMismatchError,
  UntrustedCertificateError,
} from "./errors.js";
import { certificateMatches, fingerprintOf, tryParseFingerprint } from "./fingerprint.js";
import type { TrustEntry, TrustStore } from "./trust-store.js";

export interface X509Auth {
  readonly method: "x509";
  /** Fingerprints the caller pins for this peer (any accepted format). */
  readonly pinned?: readonly string[];
  /** Consulted for the peer's bare JID; defaults to the engine's trust store. */
  readonly trustStore?: TrustStore;
  /** What the peer advertised in signalling: a hint, checked against the real certificate. */
  readonly advertised?: string;
}

export type ChannelAuth = X509Auth;

/** Who the peer is, once verified. */
export interface PeerIdentity {
  /** The peer's full JID. */
  readonly jid: string;
  readonly bareJid: string;
  /** SHA-256 of the peer's DER certificate, lowercase hex. */
  readonly fingerprint: string;
  readonly certificateDer: Buffer;
  readonly xmppAddrs: readonly string[];
  /** What made it trusted: a fingerprint the caller pinned, or a trust-store entry. */
  readonly trust:
    | { readonly source: "pinned" }
    | { readonly source: "trust-store"; readonly entry: TrustEntry };
}

export interface VerifyInput {
  readonly peerJid: string;
  readonly certificateDer: Buffer;
  readonly auth: ChannelAuth;
  /** The engine's trust store, used when `auth.trustStore` is not given. */
  readonly trustStore?: TrustStore;
  readonly certificate?: X509Certificate;
}

export async function verifyPeerCertificate(input: VerifyInput): Promise<PeerIdentity> {
  const { peerJid, certificateDer: der, auth } = input;
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

  if (auth.advertised !== undefined) {
    const advertised = tryParseFingerprint(auth.advertised);
    if (!advertised || !certificateMatches(der, advertised)) {
      throw new AdvertisedFingerprintMismatchError(peerJid, auth.advertised, fingerprint);
    }
  }

  const store = auth.trustStore ?? input.trustStore;
  const entries = store ? await store.entries(peerBare) : [];
  const matching = entries.filter((e) => certificateMatches(der, e.fingerprint));
  if (matching.some((e) => e.state === "revoked")) {
    throw new UntrustedCertificateError(peerJid, fingerprint, [], "this certificate has been revoked");
  }
  const identity = (trust: PeerIdentity["trust"]): PeerIdentity => ({
    jid: peerJid,
    bareJid: peerBare,
    fingerprint,
    certificateDer: der,
    xmppAddrs,
    trust,
  });
  if ((auth.pinned ?? []).some((p) => certificateMatches(der, p))) return identity({ source: "pinned" });
  const trusted = matching.find((e) => e.state === "verified") ?? matching.find((e) => e.state === "tofu");
  if (trusted) return identity({ source: "trust-store", entry: trusted });

  const expected = [
    ...(auth.pinned ?? []).map((p) => tryParseFingerprint(p)?.hex ?? p),
    ...entries.filter((e) => e.state !== "revoked").map((e) => e.fingerprint),
  ];
  throw new UntrustedCertificateError(peerJid, fingerprint, expected);
}
