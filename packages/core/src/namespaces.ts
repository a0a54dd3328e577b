/**
 * Every XML namespace and disco feature the XTLS packages use, in one place
 * (docs/protocol/core.md#namespace-aliases). Aliases that we accept when parsing but never emit live in
 * {@link NAMESPACE_ALIASES}, applied by {@link canonicalNamespace}.
 */
export const NS = {
  CLIENT: "jabber:client",
  STREAMS: "http://etherx.jabber.org/streams",
  STANZAS: "urn:ietf:params:xml:ns:xmpp-stanzas",
  STREAM_ERRORS: "urn:ietf:params:xml:ns:xmpp-streams",
  DISCO_INFO: "http://jabber.org/protocol/disco#info",
  DISCO_ITEMS: "http://jabber.org/protocol/disco#items",
  CAPS: "http://jabber.org/protocol/caps",
  PING: "urn:xmpp:ping",
  IBB: "http://jabber.org/protocol/ibb",
  S5B: "http://jabber.org/protocol/bytestreams",
  JINGLE: "urn:xmpp:jingle:1",
  JINGLE_ERRORS: "urn:xmpp:jingle:errors:1",
  JINGLE_IBB: "urn:xmpp:jingle:transports:ibb:1",
  JINGLE_S5B: "urn:xmpp:jingle:transports:s5b:1",
  JINGLE_XMLSTREAM: "urn:xmpp:jingle:apps:xmlstream:0",
  XTLS_JINGLE: "urn:xmpp:jingle:security:xtls:0",
  /** Mode Q: the IQ-based tunnel of the XTLS ProtoXEP 0.0.5. */
  XTLS_IQ: "urn:xmpp:tmp:xtls",
  /** XEP-0250 `<offer/>` (used inside Mode Q `<start/>`/`<proceed/>`). */
  C2CTLS: "urn:xmpp:tmp:c2ctls",
  /** XEP-0189 v0.8 `<keyinfo><name/>` inside an XEP-0250 offer. */
  PUBKEY_TMP: "urn:xmpp:tmp:pubkey",
  PUBKEY: "urn:xmpp:pubkey:0",
  CHATSTATES: "http://jabber.org/protocol/chatstates",
  JFT: "urn:xmpp:jingle:apps:file-transfer:5",
  JFT_ERRORS: "urn:xmpp:jingle:apps:file-transfer:errors:0",
  HASHES: "urn:xmpp:hashes:2",
  HASH_SHA256: "urn:xmpp:hash-function-text-names:sha-256",
  SM: "urn:xmpp:sm:3",
} as const;

export type Namespace = (typeof NS)[keyof typeof NS];

/**
 * Namespaces seen in the seeds that we accept on input and map to the one we emit
 * (docs/protocol/seed-differences.md#namespace-versions). Never used when serialising.
 */
export const NAMESPACE_ALIASES: Readonly<Record<string, Namespace>> = {
  "urn:xmpp:jingle:transports:ibb:0": NS.JINGLE_IBB,
  "urn:xmpp:jingle:apps:xmlstream:1": NS.JINGLE_XMLSTREAM,
  "urn:xmpp:jingle:security:xtls:1": NS.XTLS_JINGLE,
};

/** The namespace we treat `ns` as, after applying the input aliases. */
export function canonicalNamespace(ns: string): string {
  return NAMESPACE_ALIASES[ns] ?? ns;
}
