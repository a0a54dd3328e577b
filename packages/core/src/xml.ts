/**
 * A typed facade over `@xmpp/xml` (ltx), the element model xmpp.js uses, so stanzas
 * pass between xmpp.js and the XTLS packages without conversion. `@xmpp/xml` ships no
 * type declarations; the shapes below are the parts of its API we rely on.
 */
// @ts-expect-error -- @xmpp/xml ships no type declarations; it is typed by the interfaces below.
import * as raw from "@xmpp/xml";

export type XmlAttrs = Record<string, string | undefined>;

export interface Element {
  name: string;
  attrs: XmlAttrs;
  children: Array<Element | string>;
  parent: Element | null;
  is(name: string, xmlns?: string): boolean;
  getName(): string;
  getNS(): string | undefined;
  getAttr(name: string): string | undefined;
  getChild(name: string, xmlns?: string): Element | undefined;
  getChildren(name: string, xmlns?: string): Element[];
  getChildElements(): Element[];
  getChildText(name: string, xmlns?: string): string | null;
  getText(): string;
  text(): string;
  append(...nodes: Array<Element | string>): Element;
  cnode(child: Element | string): Element;
  c(name: string, attrs?: XmlAttrs): Element;
  t(text: string): Element;
  up(): Element;
  remove(el: Element | string, xmlns?: string): Element;
  root(): Element;
  toString(): string;
}

export interface ElementConstructor {
  new (name: string, attrs?: XmlAttrs | string): Element;
  readonly prototype: Element;
}

export type XmlChild = Element | string | undefined | null | false | readonly XmlChild[];
export type XmlAttrsInput = Record<string, string | number | undefined | null>;

interface RawParser {
  write(data: string): void;
  on(event: "start", listener: (el: Element) => void): void;
  on(event: "element", listener: (el: Element) => void): void;
  on(event: "end", listener: (el: Element) => void): void;
  on(event: "error", listener: (err: Error) => void): void;
}

// biome-ignore lint/suspicious/noExplicitAny: the untyped module boundary, typed right here.
const untyped = raw as any;

/** The element class shared with xmpp.js (`instanceof` works across both). */
export const Element: ElementConstructor = untyped.Element;

/** Builds an element: `xml("iq", { type: "set", to }, xml("start", { xmlns: NS.XTLS_IQ }))`. */
export const xml: (name: string, attrs?: XmlAttrsInput | string | null, ...children: XmlChild[]) => Element =
  untyped.xml;

/** The streaming parser of `@xmpp/xml`; use {@link StanzaStreamParser} for peer input. */
export const RawXmlParser: new () => RawParser = untyped.Parser;

export const escapeXml: (s: string) => string = untyped.escapeXML;

/** True when `value` is an element (from any of our packages or from xmpp.js). */
export function isElement(value: unknown): value is Element {
  return value instanceof Element;
}

/** A deep copy, detached from any parent. */
export function cloneElement(el: Element): Element {
  const copy = new Element(el.name, { ...el.attrs });
  for (const child of el.children) copy.cnode(typeof child === "string" ? child : cloneElement(child));
  return copy;
}

/**
 * The single child element of an IQ get/set, or `undefined` when there is not exactly
 * one (RFC 6120 §8.2.3: a get or set carries exactly one payload).
 */
export function iqPayload(iq: Element): Element | undefined {
  const children = iq.getChildElements();
  return children.length === 1 ? children[0] : undefined;
}
