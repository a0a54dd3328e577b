/**
 * Strict Base64 (RFC 4648 §4, padded). `Buffer.from(s, "base64")` silently skips junk,
 * which would let a peer smuggle bytes past validation; every decoder of peer input in
 * XTLS goes through {@link decodeBase64Strict} (PROTOCOLS.md §4.4).
 */
import { XtlsError } from "./errors.js";

export class Base64Error extends XtlsError {
  constructor(why: string) {
    super("bad-base64", `invalid Base64: ${why}`);
  }
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// XML whitespace (SP, TAB, CR, LF): XEP-0047's own examples wrap Base64 over lines.
const XML_WHITESPACE = /[ \t\r\n]+/g;

export interface DecodeOptions {
  /** Strip XML whitespace before decoding (receivers do; senders never emit it). Default true. */
  allowWhitespace?: boolean;
  /** Reject when the decoded length would exceed this many octets. */
  maxBytes?: number;
}

/** Decodes padded Base64, rejecting (never skipping) anything outside the alphabet. */
export function decodeBase64Strict(text: string, options: DecodeOptions = {}): Buffer {
  const compact = options.allowWhitespace === false ? text : text.replace(XML_WHITESPACE, "");
  if (compact.length % 4 !== 0) throw new Base64Error(`length ${compact.length} is not a multiple of 4`);
  if (options.maxBytes !== undefined) {
    const decodedLength =
      (compact.length / 4) * 3 - (compact.endsWith("==") ? 2 : compact.endsWith("=") ? 1 : 0);
    if (decodedLength > options.maxBytes) {
      throw new Base64Error(`${decodedLength} octets exceed the limit of ${options.maxBytes}`);
    }
  }
  if (!CANONICAL.test(compact)) throw new Base64Error("character outside the alphabet or misplaced '='");
  // RFC 4648 §3.5: the pad bits of the last group are zero ("AB==" would decode like "AA==";
  // two texts for one value is exactly what strictness rules out). Found by the fuzz suite.
  const last = compact.endsWith("==") ? compact.at(-3) : compact.endsWith("=") ? compact.at(-2) : undefined;
  if (last !== undefined) {
    const bits = ALPHABET.indexOf(last);
    if ((compact.endsWith("==") ? bits & 0x0f : bits & 0x03) !== 0)
      throw new Base64Error("non-zero pad bits");
  }
  return Buffer.from(compact, "base64");
}

/** Single-line padded Base64, as every XTLS sender emits it. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
