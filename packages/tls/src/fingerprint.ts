/**
 * Certificate fingerprints: the digest of the DER certificate, lowercase hex. We emit
 * SHA-256; SHA-1 (from the draft's `algo='sha1'` example and XEP-0189 v0.8 key names)
 * is accepted for comparison only (docs/protocol/mode-j.md#fingerprints).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { XtlsError } from "@xtls/core";

export type FingerprintAlgorithm = "sha-256" | "sha-1";

export interface Fingerprint {
  readonly algo: FingerprintAlgorithm;
  /** Lowercase hex, no separators. */
  readonly hex: string;
}

export class FingerprintFormatError extends XtlsError {
  constructor(input: string, why: string) {
    super("bad-fingerprint", `"${input.slice(0, 120)}" is not a certificate fingerprint: ${why}`);
  }
}

const ALGO_NAMES: Record<string, FingerprintAlgorithm> = {
  "sha-256": "sha-256",
  sha256: "sha-256",
  "sha-1": "sha-1",
  sha1: "sha-1",
};
const HEX_LENGTH: Record<FingerprintAlgorithm, number> = { "sha-256": 64, "sha-1": 40 };

/** Lowercase hex SHA-256 (or SHA-1) of a DER certificate. */
export function fingerprintOf(der: Uint8Array, algo: FingerprintAlgorithm = "sha-256"): string {
  return createHash(algo === "sha-256" ? "sha256" : "sha1")
    .update(der)
    .digest("hex");
}

/**
 * Parses a fingerprint as peers and people write it: hex with or without colons, any
 * case, optionally with an algorithm name (`sha1`, `sha-1`, `sha256`, `sha-256`). Without
 * a name the length decides (64 hex digits: SHA-256, 40: SHA-1).
 */
export function parseFingerprint(input: string, algo?: string): Fingerprint {
  const hex = input.trim().replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex)) throw new FingerprintFormatError(input, "not hexadecimal");
  let resolved: FingerprintAlgorithm | undefined;
  if (algo !== undefined) {
    resolved = ALGO_NAMES[algo.toLowerCase()];
    if (!resolved) throw new FingerprintFormatError(input, `unsupported algorithm ${algo}`);
  } else {
    resolved = hex.length === 64 ? "sha-256" : hex.length === 40 ? "sha-1" : undefined;
    if (!resolved)
      throw new FingerprintFormatError(input, `${hex.length} hex digits is neither SHA-256 nor SHA-1`);
  }
  if (hex.length !== HEX_LENGTH[resolved]) {
    throw new FingerprintFormatError(
      input,
      `${resolved} needs ${HEX_LENGTH[resolved]} hex digits, got ${hex.length}`,
    );
  }
  return { algo: resolved, hex };
}

/** `undefined` instead of an exception for malformed input. */
export function tryParseFingerprint(input: string, algo?: string): Fingerprint | undefined {
  try {
    return parseFingerprint(input, algo);
  } catch {
    return undefined;
  }
}

/** Whether the DER certificate has this fingerprint (constant-time on the digest). */
export function certificateMatches(der: Uint8Array, fingerprint: Fingerprint | string): boolean {
  return fingerprintMatches(der, undefined, fingerprint);
}

/**
 * {@link certificateMatches} for a certificate whose SHA-256 fingerprint was already
 * computed from that very DER (a handshake hashes its peer's certificate once, not once
 * per pin compared).
 */
export function fingerprintMatches(
  der: Uint8Array,
  sha256: string | undefined,
  fingerprint: Fingerprint | string,
): boolean {
  const fp = typeof fingerprint === "string" ? tryParseFingerprint(fingerprint) : fingerprint;
  if (!fp) return false;
  const hex = fp.algo === "sha-256" && sha256 !== undefined ? sha256 : fingerprintOf(der, fp.algo);
  const actual = Buffer.from(hex, "hex");
  const expected = Buffer.from(fp.hex, "hex");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** `ab:cd:…` in upper case, for people comparing fingerprints by eye. */
export function formatFingerprint(hex: string): string {
  return (hex.toUpperCase().match(/.{2}/g) ?? []).join(":");
}
