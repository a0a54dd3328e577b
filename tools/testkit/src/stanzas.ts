// Stanzas in tests: parsing the text of golden fixtures, and checks on what a test saw on
// the wire (the embedded router's transcript).
import { readFileSync } from "node:fs";
import {
  auditIqReplies,
  CLIENT_STREAM_HEADER,
  type Element,
  type RouteEvent,
  StanzaStreamParser,
} from "@xtls/core";
import { expect } from "vitest";
import { until } from "./support.js";

export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/** Parses `text` the way a received stanza is parsed: it must be exactly one stanza, well-formed. */
export function parseOne(text: string): Element {
  const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER });
  const out: Element[] = [];
  parser.on("stanza", (s) => out.push(s));
  parser.on("error", (e) => {
    throw e;
  });
  parser.write(text);
  expect(out).toHaveLength(1);
  return out[0]!;
}

/** An element as a comparable value: name, attributes and children, text trimmed and blank text dropped. */
export function canonical(el: Element): unknown {
  return {
    name: el.name,
    attrs: el.attrs,
    children: el.children
      .map((c) => (typeof c === "string" ? c.trim() : canonical(c)))
      .filter((c) => c !== ""),
  };
}

/** A fixture file's XML, without its leading comment (documentation for people). */
export function fixtureText(path: string): string {
  return readFileSync(path, "utf8").replace(/^<!--[\s\S]*?-->\s*/, "");
}

/**
 * The defined condition of an error stanza, read off the element as it was sent (not
 * through StanzaError, which maps an unknown condition to undefined-condition): the
 * first child of `<error/>` in the stanzas namespace other than `<text/>`, if any.
 */
export function conditionOf(stanza: Element): string | undefined {
  return stanza
    .getChild("error")
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== "text")?.name;
}

/**
 * Every IQ get/set on the wire got exactly one result or error, and no reply went
 * unrequested (RFC 6120 §8.2.3). Waits (up to 2 s) for requests still in flight.
 */
export async function expectOneReplyPerRequest(wire: RouteEvent[]): Promise<void> {
  const count = () => auditIqReplies(wire);
  await until(() => [...count().requests.values()].every((n) => n >= 1), 2000).catch(() => {});
  const { requests, stray } = count();
  expect(stray).toEqual([]);
  for (const [key, n] of requests) expect(n, `replies to ${key}`).toBe(1);
}

export interface TraceOptions {
  /** IBB `<open/>` and `<close/>` as `ibb-open`/`ibb-close`, a run of `<data/>` as one `ibb-data…`. */
  readonly ibb?: boolean;
  /**
   * S5B: the transport-info payload (candidate-used, activated…) or, for the actions that
   * carry a transport, its kind (`[s5b]`, `[ibb]`) after each Jingle action, and a proxy's
   * `<activate/>` as `activate`.
   */
  readonly s5b?: boolean;
}

const DETAILED_ACTIONS = [
  "session-initiate",
  "session-accept",
  "transport-replace",
  "transport-accept",
  "transport-reject",
];

/**
 * The Jingle actions (with their reason) on the wire in order, as `who:action[detail](reason)`
 * with `who` from `names` ("R" for Romeo, "J" for Juliet), and the bytestream steps
 * `options` asks for.
 */
export function trace(
  events: readonly RouteEvent[],
  names: Record<string, string>,
  options: TraceOptions = {},
): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.stanza.attrs.type !== "set") continue;
    const who = names[e.from] ?? e.from;
    const jingle = e.stanza.getChild("jingle", "urn:xmpp:jingle:1");
    if (jingle) {
      const reason = jingle.getChild("reason")?.getChildElements()[0]?.name;
      let detail: string | undefined;
      if (options.s5b) {
        const transport = jingle.getChild("content")?.getChild("transport");
        detail =
          jingle.attrs.action === "transport-info"
            ? transport?.getChildElements()[0]?.name
            : DETAILED_ACTIONS.includes(jingle.attrs.action ?? "")
              ? transport?.attrs.xmlns?.split(":").slice(-2, -1)[0]
              : undefined;
      }
      out.push(`${who}:${jingle.attrs.action}${detail ? `[${detail}]` : ""}${reason ? `(${reason})` : ""}`);
      continue;
    }
    if (options.ibb) {
      for (const name of ["open", "close"]) {
        if (e.stanza.getChild(name, "http://jabber.org/protocol/ibb")) out.push(`${who}:ibb-${name}`);
      }
      if (e.stanza.getChild("data", "http://jabber.org/protocol/ibb") && out.at(-1) !== `${who}:ibb-data…`)
        out.push(`${who}:ibb-data…`);
    }
    if (
      options.s5b &&
      e.stanza.getChild("query", "http://jabber.org/protocol/bytestreams")?.getChild("activate")
    )
      out.push(`${who}:activate`);
  }
  return out;
}
