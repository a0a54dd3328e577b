/**
 * Turning a peer's file name into one that is safe to create in a directory we chose.
 * XEP-0234 "Application Format" and "Security Considerations": the name is untrusted;
 * `/`, `\`, `..` must never be interpreted as a directory structure (docs/protocol/file-transfer.md#what-stays-in-the-clear).
 *
 * The rule: keep the last path component (a name containing `/` or `\` is treated as
 * a path, as most clients do), drop control and bidi-override characters, drop leading
 * dots (no hidden files, no `.`/`..`) and trailing dots and spaces, bound the length,
 * and fall back to `file` when nothing is left. The result never contains a separator,
 * so joined to a directory it names an entry *of* that directory.
 */
import { randomBytes } from "node:crypto";
import { basename, extname, join, resolve, sep } from "node:path";

/** Used when the offered name has nothing usable left. */
export const FALLBACK_FILE_NAME = "file";

// C0, DEL, C1 controls; bidi embeddings/overrides/isolates (a name that displays as
// "photo.jpg" but is "…gpj.exe"); zero-width and BOM characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;
// Names Windows reserves whatever the extension (a file shared to a Windows box later).
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
/**
 * Octets (UTF-8) a name may take, so that the name with a " (999)" suffix and our
 * temporary-file decoration stays under NAME_MAX (255) on common file systems.
 */
export const MAX_NAME_BYTES = 200;

/** A name safe to create inside a directory, from the name a peer offered. */
export function safeFileName(offered: string | undefined): string {
  let name = (offered ?? "").normalize("NFC").replace(UNSAFE_CHARACTERS, "");
  // Last path component, with either separator.
  name = name.split(/[/\\]/).pop() ?? "";
  name = name.replace(/^[.\s]+/, "").replace(/[.\s]+$/, "");
  if (RESERVED.test(name)) name = `_${name}`;
  name = truncateUtf8(name, MAX_NAME_BYTES);
  return name === "" ? FALLBACK_FILE_NAME : name;
}

/** Shortens `name` to at most `max` UTF-8 octets, keeping its extension when it is short. */
export function truncateUtf8(name: string, max: number): string {
  if (Buffer.byteLength(name) <= max) return name;
  const ext = extname(name);
  const keepExt = ext.length > 0 && Buffer.byteLength(ext) <= 16 ? ext : "";
  let stem = keepExt ? name.slice(0, -keepExt.length) : name;
  const budget = max - Buffer.byteLength(keepExt);
  // Cut by code points, never inside a surrogate pair.
  const points = [...stem];
  while (points.length > 0 && Buffer.byteLength(points.join("")) > budget) points.pop();
  stem = points.join("").replace(/[.\s]+$/, "");
  return `${stem}${keepExt}`;
}

/** The n-th alternative of a name: `notes.txt` → `notes (1).txt`, `archive` → `archive (1)`. */
export function numberedName(name: string, n: number): string {
  if (n === 0) return name;
  const ext = extname(name);
  const stem = ext ? name.slice(0, -ext.length) : name;
  return `${stem} (${n})${ext}`;
}

/** Where a file is received before it is verified: a hidden, unguessable sibling. */
export function partialName(name: string): string {
  return `.${name}.xtls-partial-${randomBytes(8).toString("hex")}`;
}

/** Whether a directory entry is one of our temporary files (for clean-up tools and tests). */
export function isPartialName(entry: string): boolean {
  return /^\..*\.xtls-partial-[0-9a-f]{16}$/.test(entry);
}

/**
 * `dir`/`name`, checked to be an entry of `dir` (defence in depth: `name` comes from
 * {@link safeFileName} and cannot contain a separator).
 */
export function entryOf(dir: string, name: string): string {
  const base = resolve(dir);
  const path = join(base, name);
  const prefix = base.endsWith(sep) ? base : base + sep;
  if (basename(path) !== name || resolve(path, "..") !== base || !path.startsWith(prefix)) {
    throw new Error(`'${name}' would not be an entry of ${base}`);
  }
  return path;
}

// What cannot go into a file offer's <name/>: every control character (C0 — tab and
// line breaks included —, DEL, C1), and what XML 1.0 forbids outright (§2.2 Char: lone
// surrogates, U+FFFE, U+FFFF). A stanza carrying a forbidden character is not
// well-formed: the server drops our whole connection (RFC 6120 §4.9.3.13, not-well-formed).
const UNSENDABLE_IN_NAME =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// What XML 1.0 forbids in text (tab, line feed and carriage return are allowed).
const UNSENDABLE_IN_TEXT =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Whether `name` can be offered as it is (no control character, nothing XML 1.0 forbids). */
export function isSendableFileName(name: string): boolean {
  UNSENDABLE_IN_NAME.lastIndex = 0;
  return !UNSENDABLE_IN_NAME.test(name);
}

/** Whether `text` (a description) is allowed in XML 1.0 character data. */
export function isSendableText(text: string): boolean {
  UNSENDABLE_IN_TEXT.lastIndex = 0;
  return !UNSENDABLE_IN_TEXT.test(text);
}

/**
 * `name` with each character that cannot be offered (see {@link isSendableFileName})
 * replaced by `_`: `bad\x01name.txt` → `bad_name.txt`. For senders, before offering.
 */
export function sendableFileName(name: string): string {
  return name.replace(UNSENDABLE_IN_NAME, "_");
}
