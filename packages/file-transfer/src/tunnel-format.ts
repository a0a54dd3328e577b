/**
 * What flows inside the XTLS tunnel (TLS application data), our addition to XEP-0234.
 *
 * docs/protocol/file-transfer.md#the-digest-travels-inside-the-tunnel: the offer names the algorithm only (`<hash-used/>`), because a
 * digest in the clear lets any server on the path confirm that a *known* file is being
 * sent. The digest itself travels inside the tunnel, after the file:
 *
 *   sender → receiver   file octets (exactly <size>, no framing: XEP-0234 "the raw file")
 *                       trailer = "XFTH" | L (1 octet) | algo (L octets, ASCII) | digest
 *   receiver → sender   verdict = "XFTV" | status (1 octet)
 *
 * - `algo` must equal the algorithm the offer announced (`sha-256` from this package),
 *   and the digest has that algorithm's length (32 octets for sha-256): the receiver
 *   knows the trailer's exact length before reading it, so it never waits for bytes
 *   that are not coming.
 * - Octets after the declared size that do not form that trailer are data beyond the
 *   declared size: the receiver ends with `media-error` + `<file-too-large/>`.
 * - The verdict is the only thing the receiver ever sends. Status 0x00: size and digest
 *   matched and the file was stored under its final name; 0x01: the digest did not
 *   match (the file was discarded; the session then ends with `media-error`). Other
 *   failures are told by the Jingle reason alone.
 * - Then both sides close TLS (close_notify), the transport closes, and the initiator
 *   sends `session-terminate` with `<success/>`.
 */
import { digestLength } from "./hashes.js";

export const TRAILER_MAGIC = Buffer.from("XFTH", "ascii");
export const VERDICT_MAGIC = Buffer.from("XFTV", "ascii");

export const VERDICT_STORED = 0x00;
export const VERDICT_HASH_MISMATCH = 0x01;
export type Verdict = "stored" | "hash-mismatch";

export const VERDICT_LENGTH = VERDICT_MAGIC.length + 1;

/** The octets of the trailer for `algo` (known before reading it). */
export function trailerLength(algo: string): number {
  const digest = digestLength(algo);
  if (digest === undefined) throw new RangeError(`unknown hash algorithm '${algo}'`);
  return TRAILER_MAGIC.length + 1 + Buffer.byteLength(algo, "ascii") + digest;
}

export function encodeTrailer(algo: string, digest: Buffer): Buffer {
  const name = Buffer.from(algo, "ascii");
  if (name.length === 0 || name.length > 64) throw new RangeError(`bad algorithm name '${algo}'`);
  if (digest.length !== digestLength(algo))
    throw new RangeError(`a ${algo} digest has ${digestLength(algo)} octets`);
  return Buffer.concat([TRAILER_MAGIC, Buffer.from([name.length]), name, digest]);
}

/** The digest in a trailer for `algo`, or undefined when the octets are not one. */
export function decodeTrailer(octets: Buffer, algo: string): Buffer | undefined {
  const name = Buffer.from(algo, "ascii");
  if (octets.length !== trailerLength(algo)) return undefined;
  if (!octets.subarray(0, TRAILER_MAGIC.length).equals(TRAILER_MAGIC)) return undefined;
  if (octets[TRAILER_MAGIC.length] !== name.length) return undefined;
  const start = TRAILER_MAGIC.length + 1;
  if (!octets.subarray(start, start + name.length).equals(name)) return undefined;
  return Buffer.from(octets.subarray(start + name.length));
}

export function encodeVerdict(verdict: Verdict): Buffer {
  return Buffer.concat([
    VERDICT_MAGIC,
    Buffer.from([verdict === "stored" ? VERDICT_STORED : VERDICT_HASH_MISMATCH]),
  ]);
}

/** The verdict in 5 octets, or undefined when they are not one. */
export function decodeVerdict(octets: Buffer): Verdict | undefined {
  if (octets.length !== VERDICT_LENGTH || !octets.subarray(0, 4).equals(VERDICT_MAGIC)) return undefined;
  if (octets[4] === VERDICT_STORED) return "stored";
  if (octets[4] === VERDICT_HASH_MISMATCH) return "hash-mismatch";
  return undefined;
}
