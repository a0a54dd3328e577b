/**
 * The `<jingle/>` element of XEP-0166 (urn:xmpp:jingle:1) as data, and back.
 * XEP-0166 §7 (formal definition), §10 (errors); docs/protocol/jingle.md.
 */
import { canonicalNamespace, type Element, NS, StanzaError, xml } from "@xtls/core";

/** XEP-0166 §7.2. */
export const JINGLE_ACTIONS = [
  "content-accept",
  "content-add",
  "content-modify",
  "content-reject",
  "content-remove",
  "description-info",
  "security-info",
  "session-accept",
  "session-info",
  "session-initiate",
  "session-terminate",
  "transport-accept",
  "transport-info",
  "transport-reject",
  "transport-replace",
] as const;
export type JingleAction = (typeof JINGLE_ACTIONS)[number];

export type Creator = "initiator" | "responder";
export type Senders = "both" | "initiator" | "responder" | "none";

/** XEP-0166 §7.4 reason conditions. */
export const REASON_CONDITIONS = [
  "alternative-session",
  "busy",
  "cancel",
  "connectivity-error",
  "decline",
  "expired",
  "failed-application",
  "failed-transport",
  "general-error",
  "gone",
  "incompatible-parameters",
  "media-error",
  "security-error",
  "success",
  "timeout",
  "unsupported-applications",
  "unsupported-transports",
] as const;
export type ReasonCondition = (typeof REASON_CONDITIONS)[number];

export interface Reason {
  readonly condition: ReasonCondition;
  readonly text?: string;
  /** At most one element in another namespace (e.g. a file-transfer error). */
  readonly extra?: Element;
}

export interface Content {
  readonly creator: Creator;
  readonly name: string;
  readonly senders?: Senders;
  readonly disposition?: string;
  readonly description?: Element;
  readonly transport?: Element;
  readonly security?: Element;
}

export interface Jingle {
  readonly action: JingleAction;
  readonly sid: string;
  readonly initiator?: string;
  readonly responder?: string;
  readonly contents: readonly Content[];
  readonly reason?: Reason;
  /** The payload of a session-info (or description-info) that is not a content. */
  readonly info?: Element;
}

const ACTIONS = new Set<string>(JINGLE_ACTIONS);
const REASONS = new Set<string>(REASON_CONDITIONS);
const CREATORS = new Set<string>(["initiator", "responder"]);
const SENDERS = new Set<string>(["both", "initiator", "responder", "none"]);

/** Jingle's own error conditions (urn:xmpp:jingle:errors:1, XEP-0166 §10). */
export type JingleErrorCondition =
  | "out-of-order"
  | "tie-break"
  | "unknown-session"
  | "unsupported-info"
  | "security-required";

const JINGLE_ERROR_STANZA_CONDITION = {
  "out-of-order": "unexpected-request",
  "tie-break": "conflict",
  "unknown-session": "item-not-found",
  "unsupported-info": "feature-not-implemented",
  "security-required": "not-acceptable",
} as const;

/** The stanza error XEP-0166 §10 pairs with a Jingle error condition. */
export function jingleError(condition: JingleErrorCondition, text?: string): StanzaError {
  return new StanzaError(JINGLE_ERROR_STANZA_CONDITION[condition], {
    // XEP-0166's examples: out-of-order and unsupported-info are type modify (RFC 6120 differs; receivers look at the condition)
    type: condition === "out-of-order" || condition === "unsupported-info" ? "modify" : "cancel",
    text,
    appCondition: { name: condition, ns: NS.JINGLE_ERRORS },
  });
}

const bad = (text: string) => new StanzaError("bad-request", { text });

/**
 * Reads a `<jingle/>` element. Malformed input (unknown action, no sid, a content
 * without creator or name, bad senders) throws `bad-request` (XEP-0166 §6.3).
 */
export function parseJingle(el: Element): Jingle {
  const action = el.attrs.action;
  if (!action || !ACTIONS.has(action)) throw bad(`unknown Jingle action ${JSON.stringify(action)}`);
  const sid = el.attrs.sid;
  if (!sid) throw bad("a Jingle action needs a sid");
  const contents: Content[] = [];
  let reason: Reason | undefined;
  let info: Element | undefined;
  for (const child of el.getChildElements()) {
    const ns = child.getNS();
    if (child.name === "content" && ns === NS.JINGLE) contents.push(parseContent(child));
    else if (child.name === "reason" && ns === NS.JINGLE) reason = parseReason(child);
    else if (ns !== NS.JINGLE) info ??= child;
  }
  const names = new Set<string>();
  for (const c of contents) {
    const key = `${c.creator}\n${c.name}`;
    if (names.has(key)) throw bad(`content ${c.name} (${c.creator}) appears twice`);
    names.add(key);
  }
  return {
    action: action as JingleAction,
    sid,
    initiator: el.attrs.initiator,
    responder: el.attrs.responder,
    contents,
    reason,
    info,
  };
}

function parseContent(el: Element): Content {
  const { creator, name, senders, disposition } = el.attrs;
  if (!creator || !CREATORS.has(creator)) throw bad("a content needs creator='initiator' or 'responder'");
  if (!name) throw bad("a content needs a name");
  if (senders !== undefined && !SENDERS.has(senders)) throw bad(`senders='${senders}' is not allowed`);
  const pick = (local: string) =>
    el.getChildElements().find((c) => c.getName() === local && c.getNS() !== NS.JINGLE);
  return {
    creator: creator as Creator,
    name,
    senders: senders as Senders | undefined,
    disposition,
    description: pick("description"),
    transport: pick("transport"),
    security: pick("security"),
  };
}

function parseReason(el: Element): Reason {
  let condition: ReasonCondition = "general-error";
  let text: string | undefined;
  let extra: Element | undefined;
  for (const child of el.getChildElements()) {
    const ns = child.getNS();
    if (ns === NS.JINGLE && child.name === "text") text = child.text();
    else if (ns === NS.JINGLE && REASONS.has(child.name)) condition = child.name as ReasonCondition;
    else if (ns !== NS.JINGLE) extra ??= child;
  }
  return { condition, text, extra };
}

/** The namespace a plug-in is looked up by (aliases applied: `ibb:0` → `ibb:1`, …). */
export function namespaceOf(el: Element | undefined): string | undefined {
  const ns = el?.getNS();
  return ns === undefined ? undefined : canonicalNamespace(ns);
}

export function buildReason(reason: Reason): Element {
  return xml(
    "reason",
    {},
    xml(reason.condition),
    reason.text !== undefined ? xml("text", {}, reason.text) : null,
    reason.extra ?? null,
  );
}

/**
 * The `<jingle/>` element for an action. `initiator`/`responder` are emitted only on
 * session-initiate / session-accept (XEP-0166 §7.1; docs/protocol/jingle.md#initiator-and-responder-attributes).
 */
export function buildJingle(j: Jingle): Element {
  const el = xml("jingle", {
    xmlns: NS.JINGLE,
    action: j.action,
    sid: j.sid,
    initiator: j.action === "session-initiate" ? j.initiator : undefined,
    responder: j.action === "session-accept" ? j.responder : undefined,
  });
  for (const c of j.contents) {
    el.append(
      xml(
        "content",
        { creator: c.creator, name: c.name, senders: c.senders, disposition: c.disposition },
        c.description ?? null,
        c.transport ?? null,
        c.security ?? null,
      ),
    );
  }
  if (j.reason) el.append(buildReason(j.reason));
  if (j.info) el.append(j.info);
  return el;
}
