/**
 * JIDs (RFC 7622) as far as XTLS needs them: parse, validate, normalise, compare.
 *
 * Normalisation approximates PRECIS: localpart and domainpart are case-folded
 * (`toLowerCase`) and then NFC-normalised, in that order (RFC 8265 §3.3.3, RFC 7622
 * §3.2.2), the domain losing one trailing dot first; the resourcepart is NFC-normalised
 * and keeps its case. This is what servers apply before routing, so two
 * JIDs that a server treats as the same compare equal here. Normalising is idempotent:
 * the normal form of a JID parses to itself.
 */
import { isIPv6 } from "node:net";
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

// RFC 5890 §2.3.2.1 / RFC 1035 §2.3.4: a label of a domain name is 1 to 63 octets, in
// its A-label (ASCII) form for an internationalised label.
const MAX_LABEL_OCTETS = 63;

/**
 * Refuses a domainpart with an empty label ("a..b", ".a", and "b.." whose one trailing dot
 * is already gone) or a label over 63 octets. Before this check (found by the fuzz suite)
 * only one trailing dot was stripped and labels were not looked at, so "a@b.." normalised
 * to "a@b." and that to "a@b": normalisation was not idempotent, and two spellings of
 * nothing valid compared equal to a real JID. An IP-literal ("[::1]") has no labels; an
 * IPv4 address ("127.0.0.1") passes as four labels.
 */
function labelProblem(domain: string): string | undefined {
  if (domain.startsWith("[") && domain.endsWith("]")) {
    // RFC 7622 §3.2 / RFC 3986 §3.2.2: an IP-literal holds an IPv6 address. Before
    // (reported by the fuzz work), anything in brackets passed, so "[not-an-address]" was a
    // domain a JID could name and compare equal to.
    const address = domain.slice(1, -1);
    return isIPv6(address) && !address.includes("%")
      ? undefined
      : "an IP-literal that is not an IPv6 address";
  }
  if (domain.includes("[") || domain.includes("]")) return "'[' or ']' outside an IP-literal";
  for (const label of domain.split(".")) {
    if (label.length === 0) return "empty label in domainpart";
    if (aLabelOctets(label) > MAX_LABEL_OCTETS)
      return `domainpart label longer than ${MAX_LABEL_OCTETS} octets`;
  }
  return undefined;
}

/** The length of a label's A-label form ("xn--" + Punycode, RFC 3492) in octets. */
function aLabelOctets(label: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is \u0000–\u007f.
  if (/^[\u0000-\u007f]*$/u.test(label)) return label.length;
  const points = Array.from(label, (c) => c.codePointAt(0)!);
  // Every code point yields at least one character of Punycode: a label this long is over
  // the limit whatever it holds, and the encoder (quadratic) never sees a long input.
  if (points.length > MAX_LABEL_OCTETS - 4) return 4 + points.length;
  return 4 + punycodeLength(points);
}

// RFC 3492 §6.3, counting the output instead of building it.
function punycodeLength(input: readonly number[]): number {
  const base = 36;
  const tMin = 1;
  const tMax = 26;
  const adapt = (delta: number, points: number, first: boolean): number => {
    let d = first ? Math.floor(delta / 700) : delta >> 1;
    d += Math.floor(d / points);
    let k = 0;
    while (d > ((base - tMin) * tMax) >> 1) {
      d = Math.floor(d / (base - tMin));
      k += base;
    }
    return k + Math.floor(((base - tMin + 1) * d) / (d + 38));
  };
  const basic = input.filter((c) => c < 0x80).length;
  let length = basic > 0 ? basic + 1 : 0;
  let n = 0x80;
  let delta = 0;
  let bias = 72;
  for (let handled = basic; handled < input.length; ) {
    let m = Number.POSITIVE_INFINITY;
    for (const c of input) if (c >= n && c < m) m = c;
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of input) {
      if (c < n) delta++;
      if (c !== n) continue;
      let q = delta;
      for (let k = base; ; k += base) {
        const t = k <= bias ? tMin : k >= bias + tMax ? tMax : k - bias;
        if (q < t) break;
        length++;
        q = Math.floor((q - t) / (base - t));
      }
      length++;
      bias = adapt(delta, handled + 1, handled === basic);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return length;
}

/** Parses and normalises a JID; throws {@link JidError} when it is malformed. */
// Parsed JIDs by input: a session's stanzas name the same few JIDs again and again
// (normalising them was ~3% of a full tunnel setup's CPU). Only valid JIDs are kept, as
// frozen objects; the cache is emptied when full, so a peer sending many distinct JIDs
// costs the same as without it.
const parsed = new Map<string, Jid>();
const MAX_CACHED = 4096;

export function parseJid(input: string): Jid {
  const jid = parseOrWhy(input);
  if (typeof jid === "string") throw new JidError(String(input), jid);
  return jid;
}

// The parsed JID, or why the input is not one. Not throwing: `tryParseJid` runs on every
// address a peer sends, and an exception (its stack trace) per malformed one was most of
// the cost of refusing it.
function parseOrWhy(input: string): Jid | string {
  const cached = parsed.get(input);
  if (cached) return cached;
  const jid = parseUncached(input);
  if (typeof jid === "string") return jid;
  Object.freeze(jid);
  if (parsed.size >= MAX_CACHED) parsed.clear();
  parsed.set(input, jid);
  return jid;
}

function parseUncached(input: string): Jid | string {
  if (typeof input !== "string" || input.length === 0) return "empty";
  const slash = input.indexOf("/");
  const head = slash === -1 ? input : input.slice(0, slash);
  const resourceRaw = slash === -1 ? "" : input.slice(slash + 1);
  if (slash !== -1 && resourceRaw.length === 0) return "empty resourcepart";
  const at = head.indexOf("@");
  const localRaw = at === -1 ? "" : head.slice(0, at);
  const domainRaw = at === -1 ? head : head.slice(at + 1);
  if (at !== -1 && localRaw.length === 0) return "empty localpart";
  if (domainRaw.length === 0) return "empty domainpart";
  if (domainRaw.includes("@")) return "more than one '@' before the resource";

  // Case mapping before NFC, as PRECIS orders them: the other way round is not idempotent,
  // because lowercasing can leave a string that NFC composes further ("Ώ\u0345" → "ώ\u0345"
  // → "ῴ"; found by the fuzz suite at 10^5 cases).
  const local = localRaw.toLowerCase().normalize("NFC");
  // RFC 7622 §3.2: one trailing dot (the DNS root label) is stripped before any other
  // canonicalisation. Only one: "b.." is not "b." spelled differently but a name with an
  // empty label, refused below.
  const domain = (domainRaw.endsWith(".") ? domainRaw.slice(0, -1) : domainRaw)
    .toLowerCase()
    .normalize("NFC");
  const resource = resourceRaw.normalize("NFC");
  if (LOCAL_FORBIDDEN.test(local)) return "forbidden character in localpart";
  if (domain.length === 0) return "empty domainpart";
  if (/[\s/@]/u.test(domain)) return "invalid domainpart";
  for (const [name, part] of [
    ["localpart", local],
    ["domainpart", domain],
    ["resourcepart", resource],
  ] as const) {
    if (partBytes(part) > MAX_PART_BYTES) return `${name} longer than 1023 octets`;
  }
  const labels = labelProblem(domain);
  if (labels !== undefined) return labels;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
  if (/[\u0000-\u001f\u007f]/u.test(input)) return "control character";

  const bare = local ? `${local}@${domain}` : domain;
  return { local, domain, resource, bare, full: resource ? `${bare}/${resource}` : bare };
}

/** The normalised form of a JID, or `undefined` when it is malformed. */
export function tryParseJid(input: string | undefined): Jid | undefined {
  if (input === undefined) return undefined;
  const jid = parseOrWhy(input);
  return typeof jid === "string" ? undefined : jid;
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
