/**
 * XEP-0300 Use of Cryptographic Hash Functions in XMPP (urn:xmpp:hashes:2), the parts
 * a file transfer needs: `<hash algo='…'>Base64</hash>` and `<hash-used algo='…'/>`
 * (XEP-0300 §3).
 *
 * - "XML Format": `algo` is an IANA "Hash Function Textual Name" (with a hyphen:
 *   `sha-256`) or one of the names the XEP adds (`sha3-256`, `blake2b-512`, …); the
 *   value is the Base64 of the binary digest, without whitespace, padding bits zero.
 *   Parsing here is strict: anything else is refused, never repaired.
 * - XEP-0414: sha-256, sha3-256 and blake2b-512 are MUST; sha-1 SHOULD NOT and md5
 *   MUST NOT be used — we never verify a file with either.
 */
import { type BinaryLike, createHash, type Hash } from "node:crypto";
import { Base64Error, decodeBase64Strict, type Element, encodeBase64, NS, xml } from "@xtls/core";

/** What we compute and verify with: XEP-0300 name → Node's name and digest length. */
const ALGORITHMS: Readonly<Record<string, { readonly node: string; readonly length: number }>> = {
  "sha-256": { node: "sha256", length: 32 },
  "sha-384": { node: "sha384", length: 48 },
  "sha-512": { node: "sha512", length: 64 },
  "sha3-256": { node: "sha3-256", length: 32 },
  "sha3-512": { node: "sha3-512", length: 64 },
  "blake2b-512": { node: "blake2b512", length: 64 },
};

/** Digest lengths of names we recognise but refuse to rely on (XEP-0414). */
const WEAK: Readonly<Record<string, number>> = { md5: 16, "sha-1": 20, "sha-224": 28 };

/** The algorithm this package offers (XEP-0414 MUST; docs/protocol/file-transfer.md#hash-algorithm). */
export const DEFAULT_HASH_ALGORITHM = "sha-256";

/** XEP-0300 names we can verify a file with, strongest-first in our preference. */
export const SUPPORTED_HASH_ALGORITHMS: readonly string[] = [
  "sha-256",
  "sha3-256",
  "blake2b-512",
  "sha-512",
  "sha3-512",
  "sha-384",
];

/** The disco feature for a hash algorithm (XEP-0300 "Determining Support"). */
export function hashFeature(algo: string): string {
  return `urn:xmpp:hash-function-text-names:${algo}`;
}

/** IANA textual names: lowercase letters, digits and hyphens. */
const ALGO_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

export interface HashValue {
  readonly algo: string;
  readonly value: Buffer;
}

export class HashFormatError extends Error {
  override readonly name = "HashFormatError";
}

export function isSupportedHash(algo: string): boolean {
  return algo in ALGORITHMS;
}

/** Octets in a digest of `algo`, if we know the algorithm. */
export function digestLength(algo: string): number | undefined {
  return ALGORITHMS[algo]?.length ?? WEAK[algo];
}

/** A running hash for one of {@link SUPPORTED_HASH_ALGORITHMS}. */
export function createFileHash(algo: string): Hash {
  const known = ALGORITHMS[algo];
  if (!known) throw new HashFormatError(`the hash algorithm '${algo}' is not supported`);
  return createHash(known.node);
}

export function digestOf(algo: string, data: BinaryLike): Buffer {
  return createFileHash(algo).update(data).digest();
}

/** `<hash xmlns='urn:xmpp:hashes:2' algo='sha-256'>Base64</hash>` (XEP-0300 "XML Format"). */
export function hashElement(hash: HashValue): Element {
  return xml("hash", { xmlns: NS.HASHES, algo: hash.algo }, encodeBase64(hash.value));
}

/** `<hash-used xmlns='urn:xmpp:hashes:2' algo='sha-256'/>` (XEP-0300 "XML Format"). */
export function hashUsedElement(algo: string): Element {
  return xml("hash-used", { xmlns: NS.HASHES, algo });
}

function checkAlgo(algo: string | undefined): string {
  if (algo === undefined || algo === "") throw new HashFormatError("a hash needs an 'algo' attribute");
  if (!ALGO_NAME.test(algo)) throw new HashFormatError(`'${algo}' is not a hash function textual name`);
  return algo;
}

/**
 * Reads a `<hash/>`. An empty one only names the algorithm, as XEP-0234 allows in an
 * offer ("Checksum"): it is returned with `value` undefined.
 */
export function parseHash(el: Element): { algo: string; value: Buffer | undefined } {
  const algo = checkAlgo(el.attrs.algo);
  const text = el.text();
  if (text === "") return { algo, value: undefined };
  let value: Buffer;
  try {
    // XEP-0300: no whitespace at all, not even XML whitespace.
    value = decodeBase64Strict(text, { allowWhitespace: false, maxBytes: 1024 });
  } catch (error) {
    if (error instanceof Base64Error) throw new HashFormatError(`the ${algo} hash is not valid Base64`);
    throw error;
  }
  // Padding bits must be zero: the canonical encoding of the octets is the text itself.
  if (encodeBase64(value) !== text) throw new HashFormatError(`the ${algo} hash has non-zero padding bits`);
  const length = digestLength(algo);
  if (length !== undefined && value.length !== length) {
    throw new HashFormatError(`a ${algo} digest has ${length} octets, not ${value.length}`);
  }
  return { algo, value };
}

/** Reads a `<hash-used/>`. */
export function parseHashUsed(el: Element): string {
  return checkAlgo(el.attrs.algo);
}
