/**
 * Before the handshake, for the signalling layers: can `x509` be expected to
 * authenticate this peer, or does the session need a bootstrap (`srp`, `sas`)? The
 * draft's responder rules 3–5 (docs/protocol/mode-j.md#responder-rules) and XEP-0250's "offer only what you
 * can verify" (XEP-0250 §3.2) depend on this answer. It is only a forecast from the advertised
 * fingerprint, which crossed the servers in cleartext: the certificate presented in
 * TLS is verified for real afterwards.
 */
import { type Fingerprint, tryParseFingerprint } from "./fingerprint.js";
import type { TrustStore } from "./trust-store.js";

/**
 * - `trusted`: the advertised certificate is pinned (or trusted in the store); for a
 *   SHA-1 or missing hint: some certificate of the peer is trusted.
 * - `revoked`: the advertised certificate is revoked.
 * - `tofu`: nothing is known about the peer and TOFU is on: x509 will pin it.
 * - `changed`: the peer has a pinned certificate and announces another one (or TOFU is
 *   on and the announced one is not a known one): x509 will refuse it
 *   (CertificateChangedError), and so will a bootstrap — the user re-verifies deliberately.
 * - `ca`: not pinned, but trust anchors are configured: x509 works if it is CA-issued.
 * - `unknown`: x509 cannot work; bootstrap with `srp` or `sas`.
 */
export type PeerAssessment = "trusted" | "revoked" | "tofu" | "changed" | "ca" | "unknown";

export interface AssessInput {
  readonly peerJid: string;
  readonly advertised?: Fingerprint | string;
  readonly trustStore?: TrustStore;
  readonly pinned?: readonly string[];
  readonly tofu?: boolean;
  /** Whether trust anchors are configured. */
  readonly ca?: boolean;
}

export async function assessPeer(input: AssessInput): Promise<PeerAssessment> {
  const hint =
    typeof input.advertised === "string" ? tryParseFingerprint(input.advertised) : input.advertised;
  const entries = input.trustStore ? await input.trustStore.entries(input.peerJid) : [];
  const pinned = (input.pinned ?? []).map((p) => tryParseFingerprint(p)).filter((p) => p !== undefined);
  const same = (fp: string) => hint !== undefined && hint.algo === "sha-256" && fp === hint.hex;
  if (entries.some((e) => e.state === "revoked" && same(e.fingerprint))) return "revoked";
  const trusted = entries.filter((e) => e.state !== "revoked");
  if (hint?.algo === "sha-256") {
    if (trusted.some((e) => same(e.fingerprint)) || pinned.some((p) => p.hex === hint.hex)) return "trusted";
  } else if (trusted.length > 0 || pinned.length > 0) {
    // A SHA-1 hint (draft example, XEP-0189 v0.8) cannot be looked up in a SHA-256
    // store; with no hint at all, the handshake will tell.
    return "trusted";
  }
  if (input.ca) return "ca";
  if (trusted.length > 0 && hint?.algo === "sha-256") return "changed";
  if (input.tofu) return entries.length === 0 ? "tofu" : "changed";
  return "unknown";
}
