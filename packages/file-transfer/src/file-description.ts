/**
 * The XEP-0234 application format (urn:xmpp:jingle:apps:file-transfer:5, "Application
 * Format", §5), as data and back:
 *
 *   <description xmlns='urn:xmpp:jingle:apps:file-transfer:5'>
 *     <file>
 *       <date>1969-07-21T02:56:15Z</date> <desc>…</desc> <media-type>text/plain</media-type>
 *       <name>test.txt</name> <size>6144</size> <range/>
 *       <hash-used xmlns='urn:xmpp:hashes:2' algo='sha-256'/>
 *     </file>
 *   </description>
 *
 * Everything here travels in the clear over XMPP. Parsing ignores unknown children
 * (XEP-0234 lets other specs add metadata, e.g. XEP-0264 thumbnails) and refuses bad
 * values: a size that is not a non-negative integer, a date that is not XEP-0082, a
 * hash that is not strict Base64, … A refused offer never reaches the user.
 */
import { type Element, NS, xml } from "@xtls/core";
import { HashFormatError, hashElement, hashUsedElement, parseHash, parseHashUsed } from "./hashes.js";

export const DEFAULT_MEDIA_TYPE = "application/octet-stream";

/** A file as described in a `<file/>` (all values as the peer sent them: untrusted). */
export interface FileDescription {
  /** The file name offered; never use it as a path (see `safeFileName`). */
  readonly name?: string;
  /** Octets. */
  readonly size?: number;
  /** Default `application/octet-stream` (XEP-0234). */
  readonly mediaType?: string;
  /** Last modification time (XEP-0082 DateTime). */
  readonly date?: Date;
  readonly desc?: string;
  /** Computed digests (`<hash/>` with a value). */
  readonly hashes?: readonly { readonly algo: string; readonly value: Buffer }[];
  /** Algorithms announced without a value (`<hash-used/>`, or an empty `<hash/>`). */
  readonly hashUsed?: readonly string[];
  /** `<range/>`: the sender supports ranged transfers (resume). */
  readonly range?: { readonly offset: number; readonly length?: number };
}

export class FileDescriptionError extends Error {
  override readonly name = "FileDescriptionError";
}

/** `<description xmlns='urn:xmpp:jingle:apps:file-transfer:5'><file>…</file></description>`. */
export function buildFileDescription(file: FileDescription): Element {
  return xml("description", { xmlns: NS.JFT }, buildFile(file));
}

export function buildFile(file: FileDescription): Element {
  if (file.size !== undefined && !(Number.isSafeInteger(file.size) && file.size >= 0)) {
    throw new RangeError(`a file size must be a non-negative integer, not ${file.size}`);
  }
  return xml(
    "file",
    {},
    file.date ? xml("date", {}, formatDateTime(file.date)) : null,
    file.desc !== undefined ? xml("desc", {}, file.desc) : null,
    file.mediaType !== undefined ? xml("media-type", {}, file.mediaType) : null,
    file.name !== undefined ? xml("name", {}, file.name) : null,
    file.size !== undefined ? xml("size", {}, String(file.size)) : null,
    file.range
      ? xml("range", {
          offset: file.range.offset ? String(file.range.offset) : undefined,
          length: file.range.length !== undefined ? String(file.range.length) : undefined,
        })
      : null,
    ...(file.hashes ?? []).map(hashElement),
    ...(file.hashUsed ?? []).map(hashUsedElement),
  );
}

/** Reads a `<description/>` of this namespace: exactly one `<file/>` (one file per content). */
export function parseFileDescription(description: Element): FileDescription {
  if (description.getNS() !== NS.JFT) {
    throw new FileDescriptionError(`not a file-transfer description (${description.getNS()})`);
  }
  const files = description.getChildren("file", NS.JFT);
  if (files.length !== 1) {
    throw new FileDescriptionError(`a file-transfer description holds one <file/>, not ${files.length}`);
  }
  return parseFile(files[0]!);
}

/** Reads a `<file/>`. */
export function parseFile(file: Element): FileDescription {
  let name: string | undefined;
  let size: number | undefined;
  let mediaType: string | undefined;
  let date: Date | undefined;
  let desc: string | undefined;
  let range: FileDescription["range"];
  const hashes: { algo: string; value: Buffer }[] = [];
  const hashUsed: string[] = [];
  const seen = new Set<string>();
  const once = (what: string) => {
    if (seen.has(what)) throw new FileDescriptionError(`<${what}/> appears twice in <file/>`);
    seen.add(what);
  };
  for (const child of file.getChildElements()) {
    const ns = child.getNS();
    if (ns === NS.HASHES) {
      try {
        if (child.name === "hash") {
          const h = parseHash(child);
          if (h.value) {
            // XEP-0300: several hashes only with different algorithms.
            if (hashes.some((x) => x.algo === h.algo))
              throw new FileDescriptionError(`two ${h.algo} hashes in one <file/>`);
            hashes.push({ algo: h.algo, value: h.value });
          } else if (!hashUsed.includes(h.algo)) hashUsed.push(h.algo);
        } else if (child.name === "hash-used") {
          const algo = parseHashUsed(child);
          if (!hashUsed.includes(algo)) hashUsed.push(algo);
        }
      } catch (error) {
        if (error instanceof HashFormatError) throw new FileDescriptionError(error.message);
        throw error;
      }
      continue;
    }
    if (ns !== NS.JFT) continue; // other specs' metadata: ignored
    switch (child.name) {
      case "name":
        once("name");
        name = child.text();
        break;
      case "size":
        once("size");
        size = parseSize(child.text());
        break;
      case "media-type":
        once("media-type");
        mediaType = parseMediaType(child.text());
        break;
      case "date":
        once("date");
        date = parseDateTime(child.text());
        break;
      case "desc":
        // Several, one per xml:lang: keep the first (usually the only one).
        desc ??= child.text();
        break;
      case "range":
        once("range");
        range = parseRange(child);
        break;
    }
  }
  return {
    name,
    size,
    mediaType,
    date,
    desc,
    hashes,
    hashUsed: hashUsed.filter((a) => !hashes.some((h) => h.algo === a)),
    range,
  };
}

const MAX_SIZE = Number.MAX_SAFE_INTEGER;

function parseSize(text: string): number {
  const t = text.trim();
  if (!/^[0-9]+$/.test(t)) {
    throw new FileDescriptionError(`the file size '${text}' is not a non-negative integer`);
  }
  const n = Number(t);
  if (!Number.isSafeInteger(n) || n > MAX_SIZE)
    throw new FileDescriptionError(`the file size ${t} is too large`);
  return n;
}

function parseOctets(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new FileDescriptionError(`the range ${what} '${value}' is not a non-negative integer`);
  }
  return Number(value);
}

function parseRange(el: Element): FileDescription["range"] {
  const offset = parseOctets(el.attrs.offset, "offset") ?? 0;
  const length = parseOctets(el.attrs.length, "length");
  return length === undefined ? { offset } : { offset, length };
}

// RFC 6838 §4.2 type/subtype names, then parameters (RFC 2045 §5.1, loosely).
const MEDIA_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?:\s*;[^\r\n]*)?$/;

function parseMediaType(text: string): string {
  const t = text.trim();
  if (!MEDIA_TYPE.test(t) || t.length > 255) throw new FileDescriptionError(`'${text}' is not a media type`);
  return t;
}

// XEP-0082 §3.2 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD = Z | (+|-)hh:mm.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an XEP-0082 DateTime strictly (fields in range; the calendar date must exist). */
export function parseDateTime(text: string): Date {
  const m = DATE_TIME.exec(text.trim());
  if (!m) throw new FileDescriptionError(`'${text}' is not an XEP-0082 DateTime`);
  const [, y, mo, d, h, mi, s, , tz] = m;
  const month = Number(mo);
  const day = Number(d);
  const ok =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= new Date(Date.UTC(Number(y), month, 0)).getUTCDate() &&
    Number(h) <= 23 &&
    Number(mi) <= 59 &&
    Number(s) <= 60 &&
    (tz === "Z" || (Number(tz!.slice(1, 3)) <= 23 && Number(tz!.slice(4, 6)) <= 59));
  const date = new Date(text.trim());
  if (!ok || Number.isNaN(date.getTime())) throw new FileDescriptionError(`'${text}' is not a valid date`);
  return date;
}

/** XEP-0082 DateTime in UTC, with milliseconds only when there are any. */
export function formatDateTime(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError("invalid date");
  return date.toISOString().replace(".000Z", "Z");
}
