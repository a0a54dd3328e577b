/**
 * XEP-0260 Jingle SOCKS5 Bytestreams Transport Method v1.0.3, the wire format
 * (XEP-0260 §2.2): `<transport xmlns='urn:xmpp:jingle:transports:s5b:1'>` with
 * `<candidate/>`s in session-initiate / session-accept, and the transport-info payloads
 * `<candidate-used cid/>`, `<candidate-error/>`, `<activated cid/>`, `<proxy-error/>`.
 */
import { type Element, NS, StanzaError, tryParseJid, xml } from "@xtls/core";
import { isDstAddr, isValidSid, parsePort, type StreamHost } from "./elements.js";

/** XEP-0260 §2.2 type preferences: priority = 2^16 × type preference + local preference. */
export const TYPE_PREFERENCE = { direct: 126, assisted: 120, tunnel: 110, proxy: 10 } as const;

export type CandidateType = keyof typeof TYPE_PREFERENCE;

/** One streamhost offered under Jingle. */
export interface Candidate extends StreamHost {
  /** Unique within the session (XEP-0260 §2.2). */
  readonly cid: string;
  readonly priority: number;
  readonly type: CandidateType;
}

/** What a `<transport/>` says. */
export interface TransportFields {
  readonly sid: string;
  readonly dstaddr: string | undefined;
  readonly mode: "tcp" | "udp";
  readonly candidates: readonly Candidate[];
  /** `<candidate-used cid/>`: the sender connected to our candidate `cid`. */
  readonly used: string | undefined;
  /** `<candidate-error/>`: the sender could connect to none of our candidates. */
  readonly error: boolean;
  /** `<activated cid/>`: the sender activated its proxy candidate `cid`. */
  readonly activated: string | undefined;
  /** `<proxy-error/>`: the sender could not use the nominated proxy. */
  readonly proxyError: boolean;
}

/** XEP-0260 §2.2: 2^16 × type preference + local preference (0–65535). */
export function candidatePriority(type: CandidateType, localPreference: number): number {
  const local = Math.max(0, Math.min(65535, Math.floor(localPreference)));
  return TYPE_PREFERENCE[type] * 65536 + local;
}

function isCandidateType(type: string): type is CandidateType {
  return Object.hasOwn(TYPE_PREFERENCE, type);
}

export function candidateElement(c: Candidate): Element {
  return xml("candidate", {
    cid: c.cid,
    host: c.host,
    jid: c.jid,
    port: String(c.port),
    priority: String(c.priority),
    type: c.type,
  });
}

/** The `<transport/>` of an offer or an answer (mode only from the initiator: XEP-0260 §2.2). */
export function transportElement(fields: {
  sid: string;
  dstaddr?: string;
  mode?: "tcp";
  candidates: readonly Candidate[];
}): Element {
  return xml(
    "transport",
    { xmlns: NS.JINGLE_S5B, sid: fields.sid, dstaddr: fields.dstaddr, mode: fields.mode },
    ...fields.candidates.map(candidateElement),
  );
}

/** A transport-info payload: `<transport sid><child/></transport>`. */
export function infoElement(sid: string, child: Element): Element {
  return xml("transport", { xmlns: NS.JINGLE_S5B, sid }, child);
}

export const candidateUsed = (sid: string, cid: string): Element =>
  infoElement(sid, xml("candidate-used", { cid }));
export const candidateError = (sid: string): Element => infoElement(sid, xml("candidate-error"));
export const activated = (sid: string, cid: string): Element => infoElement(sid, xml("activated", { cid }));
export const proxyError = (sid: string): Element => infoElement(sid, xml("proxy-error"));

/** One `<candidate/>`, or `undefined` when it cannot be used (no cid, host, JID, port or priority). */
export function parseCandidate(el: Element): Candidate | undefined {
  const { cid, host } = el.attrs;
  const jid = tryParseJid(el.attrs.jid);
  const port = parsePort(el.attrs.port);
  const priority = /^\d{1,10}$/.test(el.attrs.priority ?? "") ? Number(el.attrs.priority) : undefined;
  const type = el.attrs.type ?? "direct";
  if (!cid || !host?.trim() || !jid || port === undefined || priority === undefined) return undefined;
  if (!isCandidateType(type)) return undefined;
  return { cid, host: host.trim(), jid: jid.full, port, priority, type };
}

/**
 * Reads a `<transport/>`; throws the `bad-request` to answer with when its sid is
 * missing. Unusable candidates are skipped, not fatal (another one may work).
 */
export function parseTransport(el: Element): TransportFields {
  const { sid } = el.attrs;
  if (!isValidSid(sid)) throw new StanzaError("bad-request", { text: "the S5B <transport/> needs a 'sid'" });
  const mode = el.attrs.mode ?? "tcp";
  const candidates: Candidate[] = [];
  for (const child of el.getChildren("candidate")) {
    const candidate = parseCandidate(child);
    if (candidate && !candidates.some((c) => c.cid === candidate.cid)) candidates.push(candidate);
  }
  const dstaddr = el.attrs.dstaddr;
  return {
    sid,
    dstaddr: isDstAddr(dstaddr) ? dstaddr.toLowerCase() : undefined,
    mode: mode === "udp" ? "udp" : "tcp",
    candidates,
    used: el.getChild("candidate-used")?.attrs.cid,
    error: el.getChild("candidate-error") !== undefined,
    activated: el.getChild("activated")?.attrs.cid,
    proxyError: el.getChild("proxy-error") !== undefined,
  };
}

/** Candidates by descending priority, document order among equals (XEP-0260 §2.3). */
export function byPriority(a: Candidate, b: Candidate): number {
  return b.priority - a.priority;
}
