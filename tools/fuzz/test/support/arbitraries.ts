/**
 * Arbitraries for stanzas: strings that are legal XML character data, JIDs (live,
 * variant spellings of live ones, malformed), numbers-as-text at the boundaries the
 * specs set, Base64 that is valid, wrapped, corrupted or unpadded, and a grammar of the
 * payloads each handler understands, from which elements are generated with every
 * attribute optional, values off by one, namespaces swapped and unknown children mixed in.
 */
import { CAPS_NODE, encodeBase64, NS } from "@xtls/core";
import { JINGLE_ACTIONS, REASON_CONDITIONS } from "@xtls/jingle";
import * as fc from "fast-check";
import type { RefKind, Val, XNode } from "./xml-model.js";

// ─── text ────────────────────────────────────────────────────────────────────────────

/** One character that XML 1.0 allows (no C0 controls but TAB/LF/CR, no U+FFFE/FFFF, no lone surrogates). */
export const xmlChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(..."abcmxyzAZ0129-_.:/@") },
  {
    weight: 3,
    arbitrary: fc.constantFrom("<", ">", "&", "'", '"', " ", "\t", "\n", "\r", "=", "+", "#", ";", "]]>"),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "é",
      "e\u0301",
      "Ａ",
      "😀",
      "\u00a0",
      "\u200b",
      "İ",
      "ß",
      "\u212a",
      "\ufeff",
      "\u2028",
      "\u0085",
      "\ufffd",
      "\u202e",
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
);

export const anyText = (maxLength = 12): fc.Arbitrary<string> => fc.string({ unit: xmlChar, maxLength });

/** An XML name (for random elements and attributes). */
export const xmlName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("x", "query", "data", "open", "close", "jingle", "error", "item", "foo-bar", "a.b", "_z"),
  fc.stringMatching(/^[a-z_][a-z0-9._-]{0,8}$/),
);

/** Values that are numbers to someone: boundaries first, then junk that `Number()` accepts. */
export function numberish(interesting: readonly number[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...interesting.map(String)) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "",
        " ",
        "-1",
        "-0",
        "+1",
        "0x10",
        "1e3",
        "1.5",
        "NaN",
        "Infinity",
        "00000000001",
        "99999999999999999999",
        " 4096",
        "4096 ",
        "\u0664",
        "０",
      ),
    },
    { weight: 3, arbitrary: fc.integer({ min: -2, max: 70_000 }).map(String) },
    { weight: 1, arbitrary: anyText(6) },
  );
}

/** The first of `values` (the usual one), another of them, or (rarely) anything. */
export function choice(values: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(values[0]!) },
    { weight: 4, arbitrary: fc.constantFrom(...values) },
    { weight: 1, arbitrary: anyText(8) },
  );
}

/** Any of `values` alike, or (rarely) anything. */
export function uniform(values: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: anyText(8) });
}

/** An element name: one of `values`, or (rarely) another XML name. */
export function nameChoice(values: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...values) }, { weight: 1, arbitrary: xmlName });
}

export function ref(kind: RefKind): fc.Arbitrary<Val> {
  return fc.nat({ max: 1_000_000 }).map((index) => ({ ref: kind, index }));
}

// ─── JIDs ────────────────────────────────────────────────────────────────────────────

export const MALFORMED_JIDS: readonly string[] = [
  "",
  "@",
  "/",
  "a@",
  "@b",
  "a@b/",
  "a@@b",
  "a@b@c",
  "a b@c",
  "a@b c",
  "a\t@b",
  "a@b\n/r",
  "<x>@y",
  'a"b@c',
  "a:b@c",
  "a&b@c",
  ".",
  "a@.",
  "a@b./r",
  `${"l".repeat(1024)}@b`,
  `a@${"d".repeat(1024)}`,
  `a@b/${"r".repeat(1024)}`,
  `a@b/${"é".repeat(600)}`,
  "😀@😀/😀",
  "A@B/Ａ",
];

/** A JID: mostly a live one (so the router delivers), else a variant, a stranger or junk. */
export const jidVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 10, arbitrary: ref("jid") },
  { weight: 4, arbitrary: ref("jidVariant") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "benvolio@montague.lit/street",
      "capulet.lit",
      "montague.lit",
      "nobody@nowhere",
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom(...MALFORMED_JIDS) },
  { weight: 1, arbitrary: anyText(16) },
);

/** A stanza's `from`/`to`: live most of the time, sometimes absent. */
export const addressVal: fc.Arbitrary<Val | undefined> = fc.oneof(
  { weight: 12, arbitrary: ref("jid") },
  { weight: 3, arbitrary: ref("jidVariant") },
  { weight: 1, arbitrary: jidVal },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

// ─── Base64 and friends ───────────────────────────────────────────────────────────────

const byteCount: fc.Arbitrary<number> = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 48 }) },
  { weight: 1, arbitrary: fc.constantFrom(511, 512, 4095, 4096, 4097, 16384, 32767, 32768, 65535, 65536) },
);

function pattern(n: number, seed: number): Buffer {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i++) bytes[i] = (seed + i * 131) & 0xff;
  return bytes;
}

function insertAt(s: string, at: number, what: string): string {
  const i = s.length === 0 ? 0 : at % (s.length + 1);
  return s.slice(0, i) + what + s.slice(i);
}

/** Base64: canonical, wrapped in XML whitespace, corrupted, unpadded, empty or junk. */
export const base64ish: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(byteCount, fc.nat(255)).map(([n, s]) => encodeBase64(pattern(n, s))) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(byteCount, fc.nat(255), fc.nat(), fc.constantFrom(" ", "\n", "\t", "\r\n", "  \n "))
      .map(([n, s, at, ws]) => insertAt(encodeBase64(pattern(n, s)), at, ws)),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        byteCount,
        fc.nat(255),
        fc.nat(),
        fc.constantFrom("!", "-", "_", "=", "==", "A", "AB", "é", "%", ".", "\u00a0", "&amp;"),
      )
      .map(([n, s, at, junk]) => insertAt(encodeBase64(pattern(n, s)), at, junk)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(byteCount, fc.nat(255))
      .map(([n, s]) => encodeBase64(pattern(n, s)).replace(/=+$/, "")),
  },
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: anyText(24) },
);

const HEX = "0123456789abcdef";
export const fingerprintVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 4, arbitrary: ref("fingerprint") },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(40, 64, 63, 65, 0, 128), fc.nat())
      .map(([n, s]) => Array.from({ length: n }, (_, i) => HEX[(s + i * 7) % 16]).join("")),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "AB:CD:EF",
      "80:3B:54:4A:FA:B6:16:21:72:07:C5:27:0B:E7:57:68:62:FF:3B:B2",
      "803b544afab616217207c5270be7576862ff3bb2",
    ),
  },
  { weight: 1, arbitrary: anyText(20) },
);

/** A sid: a live one of the given kind (or any live one), a fixture's, or a malformed one. */
export function sidVal(kind: RefKind): fc.Arbitrary<Val> {
  return fc.oneof(
    { weight: 6, arbitrary: ref(kind) },
    { weight: 2, arbitrary: ref("sid") },
    { weight: 2, arbitrary: fc.constantFrom("a73sjjvkl37jfea", "ch3d9s71", "vj3hs98y", "s1", "xtls_1") },
    {
      weight: 2,
      arbitrary: fc.constantFrom("", " ", "a b", "\t", "x".repeat(127), "x".repeat(128), "é😀", "<&>"),
    },
    { weight: 1, arbitrary: anyText(10) },
  );
}

const seqVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 5, arbitrary: ref("seq") },
  { weight: 3, arbitrary: numberish([0, 1, 2, 65535, 65536, 32767]) },
);

const hostVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom("127.0.0.1", "::1", "localhost") },
  {
    weight: 2,
    arbitrary: fc.constantFrom("", " ", "192.0.2.1", "streamhost.example", "256.1.1.1", "[::1]", "0.0.0.0"),
  },
  { weight: 1, arbitrary: anyText(10) },
);

const portVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 8, arbitrary: ref("port") },
  { weight: 2, arbitrary: numberish([0, 1, 1080, 65535, 65536]) },
);

const dstaddrVal: fc.Arbitrary<Val> = fc.oneof(
  { weight: 3, arbitrary: ref("dstaddr") },
  { weight: 1, arbitrary: fingerprintVal },
);

// ─── the grammar ─────────────────────────────────────────────────────────────────────

interface Spec {
  readonly name: string | fc.Arbitrary<string>;
  /** The namespace to declare (undefined: inherit from the parent). */
  readonly ns?: string | fc.Arbitrary<string>;
  readonly attrs?: Record<string, fc.Arbitrary<Val>>;
  readonly children?: readonly string[];
  readonly text?: fc.Arbitrary<Val>;
}

/** Every namespace a handler or parser here looks at, plus decoys. */
export const NAMESPACES: readonly string[] = [
  NS.IBB,
  NS.S5B,
  NS.JINGLE,
  NS.XTLS_IQ,
  NS.DISCO_INFO,
  NS.DISCO_ITEMS,
  NS.C2CTLS,
  NS.PUBKEY_TMP,
  NS.PUBKEY,
  NS.JINGLE_IBB,
  "urn:xmpp:jingle:transports:ibb:0",
  NS.JINGLE_S5B,
  NS.JINGLE_XMLSTREAM,
  "urn:xmpp:jingle:apps:xmlstream:1",
  NS.XTLS_JINGLE,
  "urn:xmpp:jingle:security:xtls:1",
  NS.JFT,
  NS.HASHES,
  NS.STANZAS,
  NS.CLIENT,
  NS.STREAMS,
  NS.JINGLE_ERRORS,
  NS.PING,
  "urn:xmpp:jingle:0",
  "urn:xmpp:jingle:jet:0",
  "urn:xmpp:xtls:0",
  "",
];

const nsSwap = (ns: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(ns) },
    { weight: 1, arbitrary: fc.constantFrom(...NAMESPACES) },
    { weight: 1, arbitrary: anyText(10) },
  );

const t = (values: readonly string[]) => choice(values);

const SPECS: Record<string, Spec> = {
  // XEP-0047
  "ibb:open": {
    name: "open",
    ns: nsSwap(NS.IBB),
    attrs: {
      sid: sidVal("ibbSid"),
      "block-size": numberish([1, 511, 512, 4096, 8192, 32767, 32768, 65535, 65536, 0]),
      stanza: t(["iq", "message", "IQ", ""]),
    },
  },
  "ibb:data": {
    name: "data",
    ns: nsSwap(NS.IBB),
    attrs: { sid: sidVal("ibbSid"), seq: seqVal },
    text: base64ish,
  },
  "ibb:close": { name: "close", ns: nsSwap(NS.IBB), attrs: { sid: sidVal("ibbSid") } },
  // XEP-0065
  "s5b:query": {
    name: "query",
    ns: nsSwap(NS.S5B),
    attrs: { sid: sidVal("s5bSid"), mode: t(["tcp", "udp", "TCP", ""]), dstaddr: dstaddrVal },
    children: ["s5b:streamhost", "s5b:streamhost", "s5b:streamhost-used", "s5b:activate"],
  },
  "s5b:streamhost": { name: "streamhost", attrs: { jid: jidVal, host: hostVal, port: portVal } },
  "s5b:streamhost-used": { name: "streamhost-used", attrs: { jid: jidVal } },
  "s5b:activate": { name: "activate", text: jidVal },
  // XEP-0166 and its plug-ins
  "jingle:jingle": {
    name: "jingle",
    ns: nsSwap(NS.JINGLE),
    attrs: {
      action: uniform(JINGLE_ACTIONS),
      sid: sidVal("jingleSid"),
      initiator: jidVal,
      responder: jidVal,
    },
    children: ["jingle:content", "jingle:content", "jingle:reason", "jingle:info"],
  },
  "jingle:content": {
    name: "content",
    attrs: {
      creator: t(["initiator", "responder"]),
      name: t(["xmlstream", "file", "content", "a", ""]),
      senders: t(["both", "initiator", "responder", "none"]),
      disposition: t(["session", "early-session"]),
    },
    children: ["desc:xmlstream", "desc:jft", "tr:ibb", "tr:s5b", "sec:xtls"],
  },
  "jingle:reason": { name: "reason", children: ["reason:condition", "reason:text", "reason:extra"] },
  "reason:condition": { name: nameChoice(REASON_CONDITIONS) },
  "reason:text": { name: "text", text: anyText(20) },
  "reason:extra": {
    name: fc.constantFrom("file-not-available", "file-too-large", "unknown"),
    ns: fc.constantFrom(NS.JFT_ERRORS, NS.JINGLE, "urn:example"),
  },
  "jingle:info": {
    name: fc.constantFrom("ringing", "active", "hold", "mute", "checksum", "received", "ping"),
    ns: fc.constantFrom(
      NS.JFT,
      "urn:xmpp:jingle:apps:rtp:info:1",
      NS.JINGLE_XMLSTREAM,
      NS.JINGLE,
      "urn:example",
    ),
    children: ["jft:file"],
  },
  "desc:xmlstream": {
    name: "description",
    ns: fc.constantFrom(NS.JINGLE_XMLSTREAM, "urn:xmpp:jingle:apps:xmlstream:1", NS.JFT, "urn:example"),
  },
  "desc:jft": { name: "description", ns: nsSwap(NS.JFT), children: ["jft:file"] },
  "jft:file": {
    name: "file",
    children: [
      "jft:name",
      "jft:size",
      "jft:date",
      "jft:media-type",
      "jft:desc",
      "jft:hash",
      "jft:hash-used",
      "jft:range",
    ],
  },
  "jft:name": {
    name: "name",
    text: fc.oneof(
      fc.constantFrom(
        "test.txt",
        "../../etc/passwd",
        "a/b",
        "",
        ".",
        "..",
        "con",
        "x".repeat(300),
        "\u202etxt.exe",
      ),
      anyText(16),
    ),
  },
  "jft:size": { name: "size", text: numberish([0, 1, 6144, 2 ** 53, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER]) },
  "jft:date": {
    name: "date",
    text: fc.oneof(
      fc.constantFrom("2024-01-01T00:00:00Z", "1969-07-21T02:56:15Z", "garbage", ""),
      anyText(10),
    ),
  },
  "jft:media-type": { name: "media-type", text: t(["text/plain", "application/octet-stream", "x"]) },
  "jft:desc": { name: "desc", text: anyText(20) },
  "jft:hash": {
    name: "hash",
    ns: nsSwap(NS.HASHES),
    attrs: { algo: t(["sha-256", "sha-1", "md5", "sha3-256", "blake2b-512", "sha-512"]) },
    text: base64ish,
  },
  "jft:hash-used": { name: "hash-used", ns: nsSwap(NS.HASHES), children: ["jft:hash-empty"] },
  "jft:hash-empty": { name: "hash", attrs: { algo: t(["sha-256", "sha-1", "md5"]) } },
  "jft:range": { name: "range", attrs: { offset: numberish([0, 1, 6144]), length: numberish([0, 1, 6144]) } },
  "tr:ibb": {
    name: "transport",
    ns: fc.constantFrom(NS.JINGLE_IBB, "urn:xmpp:jingle:transports:ibb:0", NS.JINGLE_S5B, "urn:example"),
    attrs: {
      sid: sidVal("transportSid"),
      "block-size": numberish([1, 512, 4096, 32767, 32768, 65535, 65536, 0]),
      stanza: t(["iq", "message"]),
    },
  },
  "tr:s5b": {
    name: "transport",
    ns: nsSwap(NS.JINGLE_S5B),
    attrs: { sid: sidVal("transportSid"), mode: t(["tcp", "udp"]), dstaddr: dstaddrVal },
    children: [
      "s5b:candidate",
      "s5b:candidate",
      "s5b:candidate-used",
      "s5b:candidate-error",
      "s5b:activated",
      "s5b:proxy-error",
    ],
  },
  "s5b:candidate": {
    name: "candidate",
    attrs: {
      cid: t(["c1", "c2", "hft54dqy", ""]),
      host: hostVal,
      jid: jidVal,
      port: portVal,
      priority: numberish([0, 1, 7929855, 8257536, 2 ** 31, 2 ** 32]),
      type: uniform(["direct", "assisted", "proxy", "tunnel"]),
    },
  },
  "s5b:candidate-used": { name: "candidate-used", attrs: { cid: t(["c1", "c2", "hft54dqy", ""]) } },
  "s5b:candidate-error": { name: "candidate-error" },
  "s5b:activated": { name: "activated", attrs: { cid: t(["c1", "c2", ""]) } },
  "s5b:proxy-error": { name: "proxy-error" },
  "sec:xtls": {
    name: "security",
    ns: fc.constantFrom(
      NS.XTLS_JINGLE,
      "urn:xmpp:jingle:security:xtls:1",
      "urn:xmpp:jingle:jet:0",
      "urn:example",
    ),
    children: ["sec:fingerprint", "sec:method", "sec:method", "sec:method"],
  },
  "sec:fingerprint": {
    name: "fingerprint",
    attrs: { algo: t(["sha-256", "sha1", "sha-1", "SHA-256", "md5"]) },
    text: fingerprintVal,
  },
  "sec:method": { name: "method", attrs: { name: uniform(["x509", "srp", "sas", "openpgp"]) } },
  // Mode Q (XTLS ProtoXEP) and XEP-0250 offers
  "q:start": { name: "start", ns: nsSwap(NS.XTLS_IQ), children: ["c2c:offer"] },
  "c2c:offer": {
    name: "offer",
    ns: nsSwap(NS.C2CTLS),
    children: ["pk:keyinfo", "pk:keyinfo", "c2c:srp", "c2c:insecure"],
  },
  "pk:keyinfo": { name: "keyinfo", ns: nsSwap(NS.PUBKEY_TMP), children: ["pk:name"] },
  "pk:name": { name: "name", text: fingerprintVal },
  "c2c:srp": { name: "srp" },
  "c2c:insecure": { name: "insecure" },
  "q:data": {
    name: "data",
    ns: nsSwap(NS.XTLS_IQ),
    attrs: { method: t(["x509", "srp", "openpgp", "X509", ""]) },
    text: base64ish,
  },
  "q:close": { name: "close", ns: nsSwap(NS.XTLS_IQ) },
  "q:proceed": { name: "proceed", ns: nsSwap(NS.XTLS_IQ), children: ["c2c:offer"] },
  "q:closed": { name: "closed", ns: nsSwap(NS.XTLS_IQ) },
  // disco, ping, pubkeys
  "disco:query": {
    name: "query",
    ns: nsSwap(NS.DISCO_INFO),
    attrs: { node: t([CAPS_NODE, `${CAPS_NODE}#`, "", "x"]) },
    children: ["disco:identity", "disco:feature"],
  },
  "disco:identity": { name: "identity", attrs: { category: t(["client"]), type: t(["pc"]) } },
  "disco:feature": { name: "feature", attrs: { var: t([NS.IBB, NS.JINGLE]) } },
  "disco:items": { name: "query", ns: NS.DISCO_ITEMS },
  ping: { name: "ping", ns: NS.PING },
  "pubkey:pubkeys": {
    name: "pubkeys",
    ns: nsSwap(NS.PUBKEY),
    attrs: { jid: jidVal },
    children: ["pubkey:keyinfo"],
  },
  "pubkey:keyinfo": { name: "keyinfo", children: ["pubkey:name", "pubkey:x509cert"] },
  "pubkey:name": { name: "name", text: fingerprintVal },
  "pubkey:x509cert": { name: "x509cert", text: base64ish },
};

export type PayloadKey = keyof typeof SPECS;

const MAX_DEPTH = 4;

const extraAttrs: fc.Arbitrary<Record<string, Val>> = fc
  .dictionary(
    fc.oneof(
      xmlName,
      fc.constantFrom("sid", "seq", "id", "type", "xml:lang", "xmlns:x", "code", "action", "block-size"),
    ),
    fc.oneof(anyText(8), jidVal, sidVal("sid")),
    { maxKeys: 2 },
  )
  // A prefix is never bound to "" (Namespaces in XML 1.0 §3): a server refuses the stream
  // that holds xmlns:x='', and so does core's parser since it was fixed, so such a
  // stanza never reaches a handler. A reference might resolve to "" too.
  .map((attrs) =>
    "xmlns:x" in attrs && (typeof attrs["xmlns:x"] !== "string" || attrs["xmlns:x"] === "")
      ? { ...attrs, "xmlns:x": "urn:example:x" }
      : attrs,
  );

/** A random element (any name and namespace, random attributes, maybe children). */
export const randomElement: fc.Arbitrary<XNode> = fc.letrec<{ el: XNode }>((tie) => ({
  el: fc
    .tuple(
      xmlName,
      fc.option(fc.oneof(fc.constantFrom(...NAMESPACES), anyText(10)), { nil: undefined }),
      extraAttrs,
      fc.array(fc.oneof({ weight: 3, arbitrary: anyText(10) }, { weight: 1, arbitrary: tie("el") }), {
        maxLength: 3,
        depthIdentifier: "random-element",
      }),
    )
    .map(([name, ns, attrs, children]) => ({
      name,
      attrs: ns === undefined ? { ...attrs } : { ...attrs, xmlns: ns },
      children,
    })),
})).el;

const built = new Map<string, fc.Arbitrary<XNode>>();

/** Elements following `SPECS[key]`, every attribute optional, with deviations. */
export function payload(key: PayloadKey, depth = MAX_DEPTH): fc.Arbitrary<XNode> {
  const memo = `${key}/${depth}`;
  const cached = built.get(memo);
  if (cached) return cached;
  const spec = SPECS[key]!;
  const name = typeof spec.name === "string" ? fc.constant(spec.name) : spec.name;
  const ns =
    spec.ns === undefined
      ? fc.constant(undefined)
      : typeof spec.ns === "string"
        ? fc.constant(spec.ns)
        : spec.ns;
  // Each known attribute is present six times in seven: most payloads get far enough
  // into the handler to matter, and every attribute is sometimes missing.
  const attrs: fc.Arbitrary<Record<string, Val | undefined>> =
    spec.attrs && Object.keys(spec.attrs).length > 0
      ? fc.record(
          Object.fromEntries(
            Object.entries(spec.attrs).map(([k, a]) => [k, fc.option(a, { freq: 6, nil: undefined })]),
          ),
        )
      : fc.constant({});
  const childArbs =
    depth > 0 && spec.children
      ? [...new Set(spec.children)].map((k) => payload(k as PayloadKey, depth - 1))
      : [];
  const children: fc.Arbitrary<Array<XNode | Val>> =
    childArbs.length > 0
      ? fc.array(
          fc.oneof(
            ...childArbs.map((arbitrary) => ({ weight: 6, arbitrary })),
            { weight: 1, arbitrary: randomElement },
            { weight: 1, arbitrary: anyText(6) },
          ),
          { maxLength: 4 },
        )
      : fc.oneof(
          { weight: 6, arbitrary: fc.constant<Array<XNode | Val>>([]) },
          { weight: 1, arbitrary: fc.array(randomElement, { maxLength: 1 }) },
        );
  const text = spec.text
    ? fc.option(spec.text, { freq: 6, nil: undefined })
    : fc.option(anyText(8), { freq: 12, nil: undefined });
  const arb = fc
    .tuple(name, ns, attrs, fc.option(extraAttrs, { freq: 8, nil: undefined }), children, text)
    .map(([n, namespace, a, extra, kids, txt]) => {
      const node: XNode = {
        name: n,
        attrs: { ...(namespace === undefined ? {} : { xmlns: namespace }), ...a, ...extra },
        children: txt === undefined ? kids : [txt, ...kids],
      };
      return node;
    });
  built.set(memo, arb);
  return arb;
}

/** One of several payload kinds, or a random element. */
export function payloads(keys: readonly PayloadKey[]): fc.Arbitrary<XNode> {
  return fc.oneof(...keys.map((k) => ({ weight: 8, arbitrary: payload(k) })), {
    weight: 1,
    arbitrary: randomElement,
  });
}

// ─── stanzas ─────────────────────────────────────────────────────────────────────────

const idVal: fc.Arbitrary<Val | undefined> = fc.oneof(
  { weight: 10, arbitrary: fc.nat({ max: 1_000_000 }).map((n) => `fz${n}`) },
  { weight: 2, arbitrary: ref("iqId") },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: anyText(8) },
);

function typeFor(kind: string): fc.Arbitrary<string | undefined> {
  const values =
    kind === "message"
      ? ["chat", "normal", "error", "headline", "groupchat"]
      : ["unavailable", "error", "subscribe", "probe"];
  if (kind === "iq") {
    return fc.oneof(
      { weight: 30, arbitrary: fc.constant("set") },
      { weight: 4, arbitrary: fc.constant("get") },
      { weight: 4, arbitrary: fc.constant("result") },
      { weight: 4, arbitrary: fc.constant("error") },
      { weight: 1, arbitrary: fc.constantFrom("GET", "bogus", "", "set ", undefined) },
    );
  }
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 12, arbitrary: fc.constantFrom(...values) },
    { weight: 1, arbitrary: fc.constantFrom("bogus", "") },
  );
}

export interface StanzaShape {
  /** Relative weights of iq / message / presence. */
  readonly iq?: number;
  readonly message?: number;
  readonly presence?: number;
}

/**
 * A stanza carrying `content` (usually one payload), with a random type, id and
 * addresses. IQ get/set must be answered exactly once; results and errors never.
 */
export function stanza(content: fc.Arbitrary<XNode>, shape: StanzaShape = {}): fc.Arbitrary<XNode> {
  const kind = fc.oneof(
    { weight: shape.iq ?? 10, arbitrary: fc.constant("iq") },
    { weight: shape.message ?? 1, arbitrary: fc.constant("message") },
    { weight: shape.presence ?? 1, arbitrary: fc.constant("presence") },
  );
  const children: fc.Arbitrary<XNode[]> = fc.oneof(
    { weight: 12, arbitrary: content.map((c) => [c]) },
    { weight: 1, arbitrary: fc.constant<XNode[]>([]) },
    { weight: 1, arbitrary: fc.tuple(content, fc.oneof(content, randomElement)).map(([a, b]) => [a, b]) },
  );
  return kind.chain((k) =>
    fc.tuple(typeFor(k), idVal, addressVal, addressVal, children).map(
      ([type, id, from, to, kids]): XNode => ({
        name: k,
        attrs: { type, id, from, to },
        children: kids,
      }),
    ),
  );
}

/**
 * A result or error that looks like the answer to a request a link has outstanding
 * (same id, from its recipient, to its sender): a spoofed or duplicated reply.
 */
export const spoofedReply: fc.Arbitrary<XNode> = fc
  .tuple(
    fc.nat({ max: 1_000_000 }),
    fc.constantFrom("result", "error"),
    fc.option(randomElement, { nil: undefined }),
  )
  .map(
    ([index, type, child]): XNode => ({
      name: "iq",
      attrs: {
        type,
        id: { ref: "iqId", index },
        from: { ref: "requestTo", index },
        to: { ref: "requestFrom", index },
      },
      children:
        type === "error"
          ? [
              {
                name: "error",
                attrs: { type: "cancel" },
                children: [{ name: "item-not-found", attrs: { xmlns: NS.STANZAS }, children: [] }],
              },
            ]
          : child
            ? [child]
            : [],
    }),
  );
