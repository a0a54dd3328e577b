/**
 * JIDs (RFC 7622) as far as XTLS needs them: parse, validate, normalise, compare.
 *
 * Normalisation approximates PRECIS: localpart and domainpart are NFC-normalised and
 * case-folded (`toLowerCase`), the domain loses a trailing dot; the resourcepart is
 * NFC-normalised and keeps its case. This is what servers apply before routing, so two
 * JIDs that a server treats as the same compare equal here.
 */
import { XtlsError } from "./errors.js";

export class JidError extends XtlsError {
  constructor(input: string, why: string) {
    super("jid-malformed", `"${input}" is not a valid JID: ${why}`);
  }
}

export interface Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  /** `local@domain/resource` (or shorter forms), normalised. */
  readonly full: string;
  /** `local@domain` (or `domain`), normalised. */
  readonly bare: string;
}

// RFC 7622 §3.3.1: these may not appear in a localpart.
const LOCAL_FORBIDDEN = /["&'/:<>@\s]/u;
const MAX_PART_BYTES = 1023;

function partBytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** Parses and normalises a JID; throws {@link JidError} when it is malformed. */
export function parseJid(input: string): Jid {
  if (typeof input !== "string" || input.length === 0) throw new JidError(String(input), "empty");
  const slash = input.indexOf("/");
  const head = slash === -1 ? input : input.slice(0, slash);
  const resourceRaw = slash === -1 ? "" : input.slice(slash + 1);
  if (slash !== -1 && resourceRaw.length === 0) throw new JidError(input, "empty resourcepart");
  const at = head.indexOf("@");
  const localRaw = at === -1 ? "" : head.slice(0, at);
  const domainRaw = at === -1 ? head : head.slice(at + 1);
  if (at !== -1 && localRaw.length === 0) throw new JidError(input, "empty localpart");
  if (domainRaw.length === 0) throw new JidError(input, "empty domainpart");
  if (domainRaw.includes("@")) throw new JidError(input, "more than one '@' before the resource");

  const local = localRaw.normalize("NFC").toLowerCase();
  const domain = domainRaw.normalize("NFC").toLowerCase().replace(/\.$/u, "");
  const resource = resourceRaw.normalize("NFC");
  if (LOCAL_FORBIDDEN.test(local)) throw new JidError(input, "forbidden character in localpart");
  if (/[\s/@]/u.test(domain) || domain.length === 0) throw new JidError(input, "invalid domainpart");
  for (const [name, part] of [
    ["localpart", local],
    ["domainpart", domain],
    ["resourcepart", resource],
  ] as const) {
    if (partBytes(part) > MAX_PART_BYTES) throw new JidError(input, `${name} longer than 1023 octets`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
  if (/[\u0000-\u001f\u007f]/u.test(input)) throw new JidError(input, "control character");

  const bare = local ? `${local}@${domain}` : domain;
  return { local, domain, resource, bare, full: resource ? `${bare}/${resource}` : bare };
}

/** The normalised form of a JID, or `undefined` when it is malformed. */
export function tryParseJid(input: string | undefined): Jid | undefined {
  if (input === undefined) return undefined;
  try {
    return parseJid(input);
  } catch {
    return undefined;
  }
}

/** Normalised full form (`a@b/c`); throws {@link JidError}. */
export function normalizeJid(input: string): string {
  return parseJid(input).full;
}

/** Normalised bare form (`a@b`); throws {@link JidError}. */
export function bareJid(input: string): string {
  return parseJid(input).bare;
}

/** Whether the JID has a resourcepart. */
export function isFullJid(input: string): boolean {
  const jid = tryParseJid(input);
  return jid !== undefined && jid.resource !== "";
}

/** Whether two JIDs are the same after normalisation (malformed JIDs are never equal). */
export function sameJid(a: string | undefined, b: string | undefined): boolean {
  const ja = tryParseJid(a);
  const jb = tryParseJid(b);
  return ja !== undefined && jb !== undefined && ja.full === jb.full;
}

/** Whether two JIDs have the same bare JID after normalisation. */
export function sameBareJid(a: string | undefined, b: string | undefined): boolean {
  const ja = tryParseJid(a);
  const jb = tryParseJid(b);
  return ja !== undefined && jb !== undefined && ja.bare === jb.bare;
}
