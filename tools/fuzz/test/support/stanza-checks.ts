/**
 * What a well-formed reply looks like (RFC 6120 §8.3.2): an error
 * stanza carries exactly one `<error/>` in the stanza's namespace, with a `type` of
 * auth/cancel/continue/modify/wait, exactly one defined condition in
 * `urn:ietf:params:xml:ns:xmpp-stanzas`, at most one `<text/>` per `xml:lang`, at most one
 * application-specific condition, and no legacy `code`. An IQ result carries at most one
 * payload (RFC 6120 §8.2.3). The stanzas checked here were re-parsed from the wire.
 */
import { DEFAULT_ERROR_TYPE, type Element, NS } from "@xtls/core";

const TYPES = new Set(["auth", "cancel", "continue", "modify", "wait"]);
const CONDITIONS = new Set(Object.keys(DEFAULT_ERROR_TYPE));

/** What is wrong with an error stanza, or `undefined`. */
export function checkErrorStanza(stanza: Element): string | undefined {
  const errors = stanza.getChildElements().filter((c) => c.name === "error" && c.getNS() === NS.CLIENT);
  if (errors.length !== 1) return `an error stanza with ${errors.length} <error/> elements`;
  if (stanza.name === "iq" && stanza.getChildElements().length > 2) {
    return "an IQ error with more than the original payload besides <error/>";
  }
  const error = errors[0]!;
  const type = error.attrs.type;
  if (type === undefined || !TYPES.has(type)) return `an <error/> with type=${JSON.stringify(type)}`;
  if (error.attrs.code !== undefined) return "an <error/> with the legacy code attribute";
  const children = error.getChildElements();
  const defined = children.filter((c) => c.getNS() === NS.STANZAS && c.name !== "text");
  if (defined.length !== 1) return `an <error/> with ${defined.length} defined conditions`;
  if (!CONDITIONS.has(defined[0]!.name))
    return `an <error/> with the undefined condition <${defined[0]!.name}/>`;
  if (
    defined[0]!.getChildElements().length > 0 &&
    defined[0]!.name !== "gone" &&
    defined[0]!.name !== "redirect"
  ) {
    return `a condition <${defined[0]!.name}/> with children`;
  }
  const langs = new Set<string>();
  for (const text of children.filter((c) => c.getNS() === NS.STANZAS && c.name === "text")) {
    const lang = text.attrs["xml:lang"] ?? "";
    if (langs.has(lang)) return `an <error/> with two <text/> for xml:lang=${JSON.stringify(lang)}`;
    langs.add(lang);
  }
  const app = children.filter((c) => c.getNS() !== NS.STANZAS);
  if (app.length > 1) return `an <error/> with ${app.length} application-specific conditions`;
  if (error.children.some((c) => typeof c === "string" && c.trim() !== ""))
    return "an <error/> with text content";
  return undefined;
}

/** What is wrong with an IQ result, or `undefined`. */
export function checkResultStanza(stanza: Element): string | undefined {
  const payloads = stanza.getChildElements();
  return payloads.length > 1 ? `an IQ result with ${payloads.length} payloads` : undefined;
}
