/**
 * `i;octet` collation (RFC 4790 §9.3): unsigned byte-by-byte comparison of the UTF-8
 * encoding. Used by the XTLS ProtoXEP's start-conflict rule (full JIDs), XEP-0166's
 * tie-break (sids, then JIDs) and XEP-0115 sorting.
 *
 * Never use JavaScript's `<` (UTF-16 code units: U+1F600 sorts before U+FF21, the
 * opposite of UTF-8) or `localeCompare` (locale-dependent). docs/protocol/core.md#jid-ordering.
 */
import { normalizeJid } from "./jid.js";

/** Negative, zero or positive, like `Array.prototype.sort` expects. */
export function compareOctets(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** `i;octet` over normalised JIDs (docs/protocol/core.md#jid-ordering, steps 1–3). Throws on a malformed JID. */
export function compareJids(a: string, b: string): number {
  return compareOctets(normalizeJid(a), normalizeJid(b));
}
