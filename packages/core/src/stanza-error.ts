/**
 * Stanza errors (RFC 6120 §8.3): the `<error/>` element and a typed error class that
 * carries it. Receivers dispatch on the condition, never on `type` (docs/protocol/core.md#stanza-errors).
 */
import { XtlsError } from "./errors.js";
import { NS } from "./namespaces.js";
import { type Element, xml } from "./xml.js";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** The defined conditions of RFC 6120 §8.3.3. */
export type StanzaErrorCondition =
  | "bad-request"
  | "conflict"
  | "feature-not-implemented"
  | "forbidden"
  | "gone"
  | "internal-server-error"
  | "item-not-found"
  | "jid-malformed"
  | "not-acceptable"
  | "not-allowed"
  | "not-authorized"
  | "policy-violation"
  | "recipient-unavailable"
  | "redirect"
  | "registration-required"
  | "remote-server-not-found"
  | "remote-server-timeout"
  | "resource-constraint"
  | "service-unavailable"
  | "subscription-required"
  | "undefined-condition"
  | "unexpected-request";

/** RFC 6120's recommended error type for each condition (RFC 6120 §8.3.3). */
export const DEFAULT_ERROR_TYPE: Readonly<Record<StanzaErrorCondition, StanzaErrorType>> = {
  "bad-request": "modify",
  conflict: "cancel",
  "feature-not-implemented": "cancel",
  forbidden: "auth",
  gone: "cancel",
  "internal-server-error": "cancel",
  "item-not-found": "cancel",
  "jid-malformed": "modify",
  "not-acceptable": "modify",
  "not-allowed": "cancel",
  "not-authorized": "auth",
  "policy-violation": "modify",
  "recipient-unavailable": "wait",
  redirect: "modify",
  "registration-required": "auth",
  "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait",
  "resource-constraint": "wait",
  "service-unavailable": "cancel",
  "subscription-required": "auth",
  "undefined-condition": "cancel",
  "unexpected-request": "wait",
};

const CONDITIONS = new Set(Object.keys(DEFAULT_ERROR_TYPE));
const TYPES = new Set<string>(["auth", "cancel", "continue", "modify", "wait"]);

/** An application-specific condition: `<unknown-session xmlns='urn:xmpp:jingle:errors:1'/>`. */
export interface AppCondition {
  readonly name: string;
  readonly ns: string;
}

export interface StanzaErrorOptions {
  /** Defaults to RFC 6120's recommendation for the condition. */
  type?: StanzaErrorType;
  text?: string;
  appCondition?: AppCondition;
  by?: string;
}

/**
 * An error carried by (or destined for) an `<error/>` element. Handlers throw it to
 * answer an IQ with an error; `XmppLink.request` rejects with it.
 */
export class StanzaError extends XtlsError {
  readonly condition: StanzaErrorCondition;
  readonly type: StanzaErrorType;
  readonly text: string | undefined;
  readonly appCondition: AppCondition | undefined;
  readonly by: string | undefined;

  constructor(condition: StanzaErrorCondition, options: StanzaErrorOptions = {}) {
    const type = options.type ?? DEFAULT_ERROR_TYPE[condition];
    const app = options.appCondition ? ` (${options.appCondition.name})` : "";
    super(
      `stanza-error:${condition}`,
      `${condition}${app}${options.text ? `: ${options.text}` : ""} [type=${type}]`,
    );
    this.condition = condition;
    this.type = type;
    this.text = options.text;
    this.appCondition = options.appCondition;
    this.by = options.by;
  }

  /** The `<error/>` element (never with the legacy `code` attribute: docs/protocol/core.md#stanza-errors). */
  toElement(): Element {
    const el = xml("error", { type: this.type, by: this.by }, xml(this.condition, { xmlns: NS.STANZAS }));
    if (this.text !== undefined) el.append(xml("text", { xmlns: NS.STANZAS, "xml:lang": "en" }, this.text));
    if (this.appCondition) el.append(xml(this.appCondition.name, { xmlns: this.appCondition.ns }));
    return el;
  }

  /**
   * Reads an `<error/>` element leniently: an unknown or missing condition becomes
   * `undefined-condition`, an unknown type falls back to the condition's default,
   * and the legacy `code` attribute is ignored.
   */
  static fromElement(error: Element | undefined): StanzaError {
    if (!error) return new StanzaError("undefined-condition", { text: "error reply without <error/>" });
    let condition: StanzaErrorCondition = "undefined-condition";
    let text: string | undefined;
    let appCondition: AppCondition | undefined;
    for (const child of error.getChildElements()) {
      const ns = child.getNS();
      if (ns === NS.STANZAS) {
        if (child.name === "text") text = child.text();
        else if (CONDITIONS.has(child.name)) condition = child.name as StanzaErrorCondition;
      } else if (ns && !appCondition) {
        appCondition = { name: child.getName(), ns };
      }
    }
    const rawType = error.attrs.type;
    const type = rawType && TYPES.has(rawType) ? (rawType as StanzaErrorType) : undefined;
    return new StanzaError(condition, { type, text, appCondition, by: error.attrs.by });
  }

  /** The error of an `<iq type='error'/>` (or any error stanza). */
  static fromStanza(stanza: Element): StanzaError {
    return StanzaError.fromElement(stanza.getChild("error"));
  }

  /** Whether `err` is a stanza error with the given condition (and app condition). */
  static is(err: unknown, condition: StanzaErrorCondition, appCondition?: string): err is StanzaError {
    return (
      err instanceof StanzaError &&
      err.condition === condition &&
      (appCondition === undefined || err.appCondition?.name === appCondition)
    );
  }
}
