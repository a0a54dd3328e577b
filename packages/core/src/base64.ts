/**
 * Strict Base64 (RFC 4648 §4, padded). `Buffer.from(s, "base64")` silently skips junk,
 * which would let a peer smuggle bytes past validation; every decoder of peer input in
 * XTLS goes through {@link decodeBase64Strict} (docs/protocol/core.md#strict-base64).
 */
import { XtlsError } from "./errors.js";

export class Base64Error extends XtlsError {
  constructor(why: string) {
    super("bad-base64", `invalid Base64: ${why}`);
  }
}

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
  // Canonical means: decoding and encoding again gives the same text. That one test
  // refuses every character outside the alphabet (Node's decoder skips junk and takes
  // the URL-safe '-' and '_'), a misplaced '=', and non-zero pad bits (RFC 4648 §3.5:
  // "AB==" would decode like "AA=="; two texts for one value is exactly what strictness
  // rules out; found by the fuzz suite). It costs a native encode instead of a regular
  // expression over the whole text (~2% of a tunnel setup's CPU).
  const bytes = Buffer.from(compact, "base64");
  if (bytes.toString("base64") !== compact) {
    throw new Base64Error(
      /[^A-Za-z0-9+/=]/.test(compact)
        ? "character outside the alphabet"
        : /=[^=]|^=|={3}/.test(compact)
          ? "misplaced '='"
          : "non-zero pad bits",
    );
  }
  return bytes;
}

/** Single-line padded Base64, as every XTLS sender emits it. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}
