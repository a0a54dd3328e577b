/**
 * Valid XML text for the parser properties, written by hand rather than by ltx so that
 * every legal spelling turns up: either quote for attributes, predefined entities,
 * decimal and hexadecimal character references, CDATA sections, multi-byte UTF-8 and
 * astral characters. A document is kept as a list of tokens ("parts"), so properties can
 * cut or insert at any markup boundary, inside tags too.
 */
import type { Element } from "@xtls/core";
import * as fc from "fast-check";

export interface PNode {
  readonly name: string;
  readonly attrs: ReadonlyArray<readonly [string, string]>;
  readonly children: ReadonlyArray<PNode | string>;
}

export interface Doc {
  /** The stanzas meant. */
  readonly nodes: readonly PNode[];
  /** Their text, token by token. */
  readonly parts: readonly string[];
  /** Where each stanza starts and ends, in octets of the UTF-8 text. */
  readonly spans: ReadonlyArray<readonly [number, number]>;
  /** Token indexes at which an insertion lands outside any tag (between tags, text, CDATA). */
  readonly outsideTags: readonly number[];
}

// Characters XML 1.0 allows, weighted to the ones that need escaping or many bytes. No
// raw CR, TAB or LF in attribute values and no raw CR in text: a conforming parser
// normalises those, which is not what these properties are about.
const textChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(..."abcxyz019 -.") },
  { weight: 4, arbitrary: fc.constantFrom("<", ">", "&", "'", '"', "]", "]]>", "\n", "\t") },
  { weight: 2, arbitrary: fc.constantFrom("é", "€", "😀", "Ａ", "\u00a0", "\u2028", "\ufffd", "\u0085") },
  { weight: 1, arbitrary: fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => String.fromCodePoint(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)) },
);
const attrChar = textChar.filter((c) => !/[\t\n\r]/.test(c));

const text = fc.string({ unit: textChar, minLength: 1, maxLength: 12 });
const attrValue = fc.string({ unit: attrChar, maxLength: 10 });
const name = fc.constantFrom(
  "message",
  "iq",
  "presence",
  "body",
  "data",
  "x",
  "a-b",
  "c.d",
  "_e",
  "query",
  "é",
);
const attrName = fc.constantFrom("id", "type", "to", "from", "sid", "seq", "xml:lang", "a-b", "é");

const node: fc.Arbitrary<PNode> = fc.letrec<{ node: PNode }>((tie) => ({
  node: fc
    .tuple(
      name,
      fc.uniqueArray(fc.tuple(attrName, attrValue), { maxLength: 3, selector: ([k]) => k }),
      fc.array(fc.oneof({ weight: 2, arbitrary: text }, { weight: 1, arbitrary: tie("node") }), {
        maxLength: 3,
        depthIdentifier: "xml-text",
      }),
    )
    .map(([n, attrs, children]) => ({ name: n, attrs, children: mergeText(children) })),
})).node;

function mergeText(children: ReadonlyArray<PNode | string>): Array<PNode | string> {
  const out: Array<PNode | string> = [];
  for (const c of children) {
    const last = out[out.length - 1];
    if (typeof c === "string" && typeof last === "string") out[out.length - 1] = last + c;
    else if (c !== "") out.push(c);
  }
  return out;
}

const stanzaNode: fc.Arbitrary<PNode> = fc
  .tuple(
    fc.constantFrom("message", "iq", "presence"),
    fc.option(fc.constantFrom("jabber:client", "urn:example"), { nil: undefined }),
    node,
  )
  .map(([n, ns, inner]) => ({
    name: n,
    attrs: [...(ns ? ([["xmlns", ns]] as const) : []), ...inner.attrs.filter(([k]) => k !== "xmlns")],
    children: inner.children,
  }));

/** Stanzas, and their text with every legal spelling chosen at random. */
export const docStream: fc.Arbitrary<Doc> = fc
  .tuple(
    fc.array(stanzaNode, { minLength: 1, maxLength: 3 }),
    fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    fc.array(fc.constantFrom("", "", "", " ", "\n", "\r\n", "\t "), { minLength: 4, maxLength: 4 }),
  )
  .map(([nodes, choices, gaps]) => {
    let cursor = 0;
    const pick = (n: number) => choices[cursor++ % choices.length]! % n;
    const parts: string[] = [];
    const spans: Array<[number, number]> = [];
    let offset = 0;
    nodes.forEach((n, i) => {
      const own = serialise(n, pick);
      const length = Buffer.byteLength(own.join(""));
      spans.push([offset, offset + length]);
      parts.push(...own);
      offset += length;
      const gap = gaps[i % gaps.length]!;
      if (gap) {
        parts.push(gap);
        offset += Buffer.byteLength(gap);
      }
    });
    // Inside a tag means right after "<name" or after an attribute token.
    const insideTag = (token: string | undefined) =>
      token !== undefined && ((/^<[^/!]/.test(token) && !token.endsWith(">")) || /^ [^=]+=/.test(token));
    const outsideTags = parts.map((_, i) => i + 1).filter((i) => !insideTag(parts[i - 1]));
    return { nodes, parts, spans, outsideTags: [0, ...outsideTags] };
  });

function escapeChar(c: string, inAttr: string | undefined, pick: (n: number) => number): string {
  const code = c.codePointAt(0)!;
  const ref = () => (pick(2) === 0 ? `&#${code};` : `&#x${code.toString(16)};`);
  switch (c) {
    case "<":
      return [() => "&lt;", ref][pick(2)]!();
    case "&":
      return [() => "&amp;", ref][pick(2)]!();
    case ">":
      return [() => "&gt;", ref, () => (inAttr === undefined ? "&gt;" : ">")][pick(3)]!();
    case '"':
      return inAttr === '"' ? [() => "&quot;", ref][pick(2)]!() : [() => c, () => "&quot;"][pick(2)]!();
    case "'":
      return inAttr === "'" ? [() => "&apos;", ref][pick(2)]!() : [() => c, () => "&apos;"][pick(2)]!();
    default:
      return pick(8) === 0 ? ref() : c;
  }
}

function escapeString(s: string, inAttr: string | undefined, pick: (n: number) => number): string {
  // `]]>` may not appear raw in text.
  return [...s]
    .map((c) => escapeChar(c, inAttr, pick))
    .join("")
    .replaceAll("]]>", "]]&gt;");
}

/** The tokens of one element. */
export function serialise(n: PNode, pick: (n: number) => number): string[] {
  const parts = [`<${n.name}`];
  for (const [k, v] of n.attrs) {
    const q = pick(2) === 0 ? "'" : '"';
    parts.push(` ${k}=${q}${escapeString(v, q, pick)}${q}`);
  }
  if (n.children.length === 0 && pick(2) === 0) {
    parts.push("/>");
    return parts;
  }
  parts.push(">");
  for (const c of n.children) {
    if (typeof c !== "string") parts.push(...serialise(c, pick));
    else if (pick(4) === 0 && !c.includes("]]>")) parts.push(`<![CDATA[${c}]]>`);
    else parts.push(escapeString(c, undefined, pick));
  }
  parts.push(`</${n.name}>`);
  return parts;
}

/** A comparable form of an element or a model node: name, attributes, merged text. */
export function structureOf(el: Element | PNode): unknown {
  const attrs = Array.isArray(el.attrs)
    ? Object.fromEntries(el.attrs as ReadonlyArray<readonly [string, string]>)
    : Object.fromEntries(
        Object.entries(el.attrs as Record<string, string | undefined>).filter(([, v]) => v !== undefined),
      );
  const children: unknown[] = [];
  for (const c of el.children as ReadonlyArray<Element | PNode | string>) {
    if (typeof c === "string") {
      if (c === "") continue;
      const last = children[children.length - 1];
      if (typeof last === "string") children[children.length - 1] = last + c;
      else children.push(c);
    } else children.push(structureOf(c));
  }
  return { name: el.name, attrs, children };
}

/** `bytes` cut at the given offsets (taken modulo its length), in order. */
export function splitBytes(bytes: Buffer, at: readonly number[]): Buffer[] {
  const cuts = [...new Set(at.map((a) => (bytes.length === 0 ? 0 : a % bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    out.push(bytes.subarray(from, cut));
    from = cut;
  }
  out.push(bytes.subarray(from));
  return out;
}
