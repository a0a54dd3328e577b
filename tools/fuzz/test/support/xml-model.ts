/**
 * The fuzzer's stanza model: a plain tree whose attribute values and text may be
 * symbolic references to live values of the world under test (a sid of an open
 * bytestream, the id of a pending request, a peer's JID), resolved only when the stanza
 * is injected. fast-check generates and shrinks these trees; `materialise` turns one
 * into an `Element`.
 */
import { type Element, xml } from "@xtls/core";

/** What a reference can name; see `World.refs`. */
export type RefKind =
  | "jid"
  | "jidVariant"
  | "sid"
  | "ibbSid"
  | "jingleSid"
  | "transportSid"
  | "s5bSid"
  | "seq"
  | "iqId"
  | "requestTo"
  | "requestFrom"
  | "fingerprint"
  | "dstaddr"
  | "port";

export interface Ref {
  readonly ref: RefKind;
  readonly index: number;
}

export type Val = string | Ref;

export interface XNode {
  name: string;
  attrs: Record<string, Val | undefined>;
  children: Array<XNode | Val>;
}

export type Resolver = (ref: Ref) => string | undefined;

export function isNode(child: XNode | Val): child is XNode {
  return typeof child === "object" && "children" in child;
}

export function resolveVal(value: Val, resolve: Resolver): string | undefined {
  return typeof value === "string" ? value : resolve(value);
}

/** The `Element` for a tree, references resolved (an unresolvable one drops its attribute). */
export function materialise(node: XNode, resolve: Resolver): Element {
  const attrs: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(node.attrs)) {
    attrs[name] = value === undefined ? undefined : resolveVal(value, resolve);
  }
  const el = xml(node.name, attrs);
  for (const child of node.children) {
    if (isNode(child)) el.append(materialise(child, resolve));
    else {
      const text = resolveVal(child, resolve);
      if (text) el.append(text);
    }
  }
  return el;
}

/** The tree of an element (for the golden fixtures). */
export function fromElement(el: Element): XNode {
  const attrs: Record<string, Val | undefined> = {};
  for (const [name, value] of Object.entries(el.attrs)) if (value !== undefined) attrs[name] = value;
  return {
    name: el.name,
    attrs,
    children: el.children.map((c) => (typeof c === "string" ? c : fromElement(c))),
  };
}

export function cloneNode(node: XNode): XNode {
  return {
    name: node.name,
    attrs: { ...node.attrs },
    children: node.children.map((c) => (isNode(c) ? cloneNode(c) : c)),
  };
}

/** Every element of the tree in document order, with its parent (`undefined` for the root). */
export function elementsOf(root: XNode): Array<{ node: XNode; parent: XNode | undefined }> {
  const out: Array<{ node: XNode; parent: XNode | undefined }> = [];
  const walk = (node: XNode, parent: XNode | undefined) => {
    out.push({ node, parent });
    for (const c of node.children) if (isNode(c)) walk(c, node);
  };
  walk(root, undefined);
  return out;
}

/** A short human-readable form of a tree, references shown as `{kind#i}`. */
export function showNode(node: XNode): string {
  const show = (v: Val) => (typeof v === "string" ? JSON.stringify(v) : `{${v.ref}#${v.index}}`);
  const attrs = Object.entries(node.attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${show(v!)}`)
    .join("");
  const children = node.children.map((c) => (isNode(c) ? showNode(c) : show(c))).join("");
  return `<${node.name}${attrs}>${children}</${node.name}>`;
}
