/**
 * What ties an in-tunnel authentication to this one TLS session: both full JIDs, both
 * certificate fingerprints and a TLS exporter value (RFC 8446 §7.5).
 *
 * Threat: a relaying man in the middle terminates TLS with each side and forwards the
 * authentication messages. It necessarily runs two TLS sessions, so the two exporter
 * values differ (and so do the certificates each side sees), and a proof or code made
 * on one side cannot match the other. The certificates are bound explicitly as well,
 * because the TLS 1.3 exporter secret is derived before the client's Certificate
 * message: it covers the server certificate, not the client's.
 */
import { createHash } from "node:crypto";
import { normalizeJid } from "@xtls/core";

export interface SessionBinding {
  /** Full JIDs, normalised. The initiator is the TLS client. */
  readonly initiatorJid: string;
  readonly responderJid: string;
  /** SHA-256 of each DER certificate, lowercase hex. */
  readonly initiatorFingerprint: string;
  readonly responderFingerprint: string;
  /** The TLS exporter value for the method's label (32 octets, empty context). */
  readonly exporter: Buffer;
}

export const EXPORTER_OCTETS = 32;

function lengthPrefixed(value: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(value.length);
  return Buffer.concat([len, value]);
}

/**
 * SHA-256( label | 0x00 | u16 len | initiator JID | u16 len | responder JID |
 *          initiator fingerprint (32) | responder fingerprint (32) | u16 len | exporter )
 */
export function bindingDigest(label: string, binding: SessionBinding): Buffer {
  const fpI = Buffer.from(binding.initiatorFingerprint, "hex");
  const fpR = Buffer.from(binding.responderFingerprint, "hex");
  if (fpI.length !== 32 || fpR.length !== 32) throw new RangeError("fingerprints must be SHA-256");
  return createHash("sha256")
    .update(Buffer.from(`${label}\0`, "utf8"))
    .update(lengthPrefixed(Buffer.from(normalizeJid(binding.initiatorJid), "utf8")))
    .update(lengthPrefixed(Buffer.from(normalizeJid(binding.responderJid), "utf8")))
    .update(fpI)
    .update(fpR)
    .update(lengthPrefixed(binding.exporter))
    .digest();
}
