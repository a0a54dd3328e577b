/**
 * XEP-0047 In-Band Bytestreams v2.0.1, the wire format (§2.1–§2.3): the three
 * elements of `http://jabber.org/protocol/ibb` — §2.1 `<open sid block-size stanza/>`,
 * §2.2 `<data sid seq>Base64</data>`, §2.3 `<close sid/>`. Builders emit exactly what a
 * sender must; parsers check what a receiver must before it acts, and say which stanza
 * error to answer with.
 */
import { type Element, encodeBase64, NS, StanzaError, xml } from "@xtls/core";

/** XEP-0047 §5: "It is RECOMMENDED to use a 'block-size' of 4096." */
export const DEFAULT_BLOCK_SIZE = 4096;
/** XEP-0047 §2.1: `block-size` is an xs:unsignedShort (octets before Base64, since v2.0). */
export const MAX_BLOCK_SIZE = 65535;
/** docs/protocol/ibb.md#block-size: XEP-0261 types `block-size` as xs:short, so never offer more. */
export const MAX_OFFERED_BLOCK_SIZE = 32767;
/** docs/protocol/ibb.md#block-size: on `resource-constraint`, halve the block size, but not below this. */
export const MIN_RETRY_BLOCK_SIZE = 512;

/** How data travels (XEP-0047 §2.1 `stanza` attribute, default `iq`; §4 for `message`). */
export type IbbStanzaKind = "iq" | "message";

export interface OpenRequestFields {
  readonly sid: string;
  readonly blockSize: number;
  readonly stanza: IbbStanzaKind;
}

// XML whitespace would make a sid that cannot be an NMTOKEN (XEP-0047 §2.1: sid is an NMTOKEN).
const SID = /^[^\s]+$/;
const UNSIGNED_SHORT = /^\d{1,5}$/;

export function isValidSid(sid: string | undefined): sid is string {
  return sid !== undefined && SID.test(sid);
}

/** Reads an xs:unsignedShort; `undefined` when absent or not one. */
export function parseUnsignedShort(value: string | undefined): number | undefined {
  if (value === undefined || !UNSIGNED_SHORT.test(value)) return undefined;
  const n = Number(value);
  return n <= 0xffff ? n : undefined;
}

/** The `seq` that follows `seq`. */
export function nextSeq(seq: number): number {
  // XEP-0047 §2.2: "The counter loops at maximum, so after value 65535, 'seq' MUST start again at 0."
  return (seq + 1) & 0xffff;
}

export function openElement(fields: OpenRequestFields): Element {
  return xml("open", {
    xmlns: NS.IBB,
    sid: fields.sid,
    "block-size": String(fields.blockSize),
    stanza: fields.stanza,
  });
}

/** One chunk as ONE line of padded Base64 (docs/protocol/core.md#strict-base64: the sender emits no whitespace). */
export function dataElement(sid: string, seq: number, chunk: Uint8Array): Element {
  return xml("data", { xmlns: NS.IBB, sid, seq: String(seq) }, encodeBase64(chunk));
}

export function closeElement(sid: string): Element {
  return xml("close", { xmlns: NS.IBB, sid });
}

/**
 * Validates an incoming `<open/>`. Throws the `bad-request` to answer with when a
 * required attribute is missing or malformed (XEP-0047 §2.1: `sid` and `block-size`
 * are REQUIRED; `stanza` is `iq` or `message`, default `iq`).
 */
export function parseOpen(open: Element): OpenRequestFields {
  const { sid } = open.attrs;
  if (!isValidSid(sid)) throw new StanzaError("bad-request", { text: "<open/> needs a 'sid' (an NMTOKEN)" });
  const blockSize = parseUnsignedShort(open.attrs["block-size"]);
  if (blockSize === undefined || blockSize === 0) {
    throw new StanzaError("bad-request", { text: "'block-size' must be an integer from 1 to 65535" });
  }
  const stanza = open.attrs.stanza ?? "iq";
  if (stanza !== "iq" && stanza !== "message") {
    throw new StanzaError("bad-request", { text: "'stanza' must be 'iq' or 'message'" });
  }
  return { sid, blockSize, stanza };
}
