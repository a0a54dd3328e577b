/**
 * XEP-0065 SOCKS5 Bytestreams v1.8.2, the wire format (§9, §5.3.2): the
 * `<query/>` of `http://jabber.org/protocol/bytestreams` with its `<streamhost/>`,
 * `<streamhost-used/>` and `<activate/>` children, and DST.ADDR. Builders emit exactly
 * what a sender must; parsers check what a receiver must before it acts, and say which
 * stanza error to answer with.
 */
import { createHash } from "node:crypto";
import { type Element, NS, StanzaError, tryParseJid, xml } from "@xtls/core";

/** XEP-0065 §5.3.1 schema: `port` defaults to 1080 (we always send one, docs/protocol/errata.md#xep-0065). */
export const DEFAULT_STREAMHOST_PORT = 1080;

/** Where a Target connects: the Requester itself (direct) or a proxy (mediated). */
export interface StreamHost {
  /** The Requester's full JID (direct) or the proxy's JID. */
  readonly jid: string;
  /** An IP address or a resolvable name. */
  readonly host: string;
  readonly port: number;
}

/** A parsed `<query/>`: an offer (streamhosts), an answer (used) or an activation. */
export interface QueryFields {
  readonly sid: string;
  readonly mode: "tcp" | "udp";
  /** A precomputed DST.ADDR (XEP-0065 §5.3.1, for MUC), when valid. */
  readonly dstaddr: string | undefined;
  readonly streamhosts: readonly StreamHost[];
  readonly used: string | undefined;
  readonly activate: string | undefined;
}

const SHA1_HEX = /^[0-9a-fA-F]{40}$/;
// XEP-0065 §5.3.1: the sid "MUST be less than 128 characters"; no whitespace (an NMTOKEN-ish id).
const SID = /^[^\s]{1,127}$/;

export function isValidSid(sid: string | undefined): sid is string {
  return sid !== undefined && SID.test(sid);
}

/**
 * XEP-0065 §5.3.2: DST.ADDR = lowercase hex SHA-1 of SID + Requester
 * JID + Target JID, the JIDs exactly as used in the IQ exchange, no separator. Under
 * Jingle (XEP-0260) the offerer of a candidate is the Requester and the party
 * connecting to it the Target.
 */
export function dstAddr(sid: string, requester: string, target: string): string {
  return createHash("sha1").update(`${sid}${requester}${target}`, "utf8").digest("hex");
}

/** Whether `value` looks like a DST.ADDR (40 hex digits, either case: docs/protocol/socks5.md#dstaddr). */
export function isDstAddr(value: string | undefined): value is string {
  return value !== undefined && SHA1_HEX.test(value);
}

function portAttr(port: number): string {
  return String(port);
}

/** Reads a `port` attribute: 1–65535, default 1080 when absent; `undefined` when malformed. */
export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return DEFAULT_STREAMHOST_PORT;
  if (!/^\d{1,5}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= 65535 ? n : undefined;
}

export function streamhostElement(host: StreamHost): Element {
  return xml("streamhost", { jid: host.jid, host: host.host, port: portAttr(host.port) });
}

/** The Requester's offer (XEP-0065 §5.3.1 / §6.3.1). */
export function offerElement(sid: string, streamhosts: readonly StreamHost[]): Element {
  return xml("query", { xmlns: NS.S5B, sid, mode: "tcp" }, ...streamhosts.map(streamhostElement));
}

/** The Target's answer (XEP-0065 §5.3.3: in the IQ-result, not an IQ-set, docs/protocol/errata.md#xep-0065). */
export function streamhostUsedElement(sid: string, jid: string): Element {
  return xml("query", { xmlns: NS.S5B, sid }, xml("streamhost-used", { jid }));
}

/** The Requester asks the proxy to relay (XEP-0065 §6.3.5). */
export function activateElement(sid: string, target: string): Element {
  return xml("query", { xmlns: NS.S5B, sid }, xml("activate", {}, target));
}

/** Proxy discovery's streamhost request (XEP-0065 §4): an IQ-get without sid. */
export function streamhostRequestElement(): Element {
  return xml("query", { xmlns: NS.S5B });
}

/** One `<streamhost/>`, or `undefined` when its jid, host or port is unusable. */
export function parseStreamhost(el: Element): StreamHost | undefined {
  const jid = tryParseJid(el.attrs.jid);
  const host = el.attrs.host?.trim();
  const port = parsePort(el.attrs.port);
  if (!jid || !host || port === undefined) return undefined;
  return { jid: jid.full, host, port };
}

/**
 * Validates an incoming `<query/>`. Throws the `bad-request` to answer with when the
 * sid is missing or malformed (docs/protocol/socks5.md#errors).
 */
export function parseQuery(query: Element): QueryFields {
  const { sid } = query.attrs;
  if (!isValidSid(sid)) {
    throw new StanzaError("bad-request", { text: "<query/> needs a 'sid' of 1 to 127 characters" });
  }
  const mode = query.attrs.mode ?? "tcp";
  if (mode !== "tcp" && mode !== "udp") {
    throw new StanzaError("bad-request", { text: "'mode' must be 'tcp' or 'udp'" });
  }
  const streamhosts: StreamHost[] = [];
  for (const child of query.getChildren("streamhost")) {
    const host = parseStreamhost(child);
    if (host) streamhosts.push(host);
  }
  const dstaddr = query.attrs.dstaddr;
  return {
    sid,
    mode,
    dstaddr: isDstAddr(dstaddr) ? dstaddr.toLowerCase() : undefined,
    streamhosts,
    used: query.getChild("streamhost-used")?.attrs.jid,
    activate: query.getChild("activate")?.text().trim() || undefined,
  };
}
