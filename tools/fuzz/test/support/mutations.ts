/**
 * Mutations of golden fixtures: drop or duplicate a child, change or remove an attribute,
 * swap a namespace, rename an element, truncate or replace text, insert a random child,
 * move a subtree, readdress or retype the stanza, and "relive" it (point its sids at the
 * live sessions of the world, so the mutation lands inside a session, not next to it).
 * Each mutation picks its target by index modulo the tree's size, so any list of
 * mutations applies to any tree and fast-check can shrink the list.
 */
import { NS } from "@xtls/core";
import * as fc from "fast-check";
import {
  addressVal,
  anyText,
  base64ish,
  fingerprintVal,
  jidVal,
  NAMESPACES,
  numberish,
  randomElement,
  ref,
  sidVal,
  xmlName,
} from "./arbitraries.js";
import { cloneNode, elementsOf, isNode, type Val, type XNode } from "./xml-model.js";

export type Mutation =
  | { readonly op: "drop"; readonly at: number; readonly child: number }
  | { readonly op: "duplicate"; readonly at: number; readonly child: number }
  | { readonly op: "set-attr"; readonly at: number; readonly name: string; readonly value: Val }
  | { readonly op: "remove-attr"; readonly at: number; readonly which: number }
  | { readonly op: "namespace"; readonly at: number; readonly ns: string | undefined }
  | { readonly op: "rename"; readonly at: number; readonly name: string }
  | { readonly op: "text"; readonly at: number; readonly text: Val }
  | { readonly op: "truncate"; readonly at: number; readonly keep: number }
  | { readonly op: "insert"; readonly at: number; readonly child: XNode; readonly position: number }
  | { readonly op: "move"; readonly from: number; readonly to: number }
  | { readonly op: "address"; readonly attr: "from" | "to"; readonly value: Val | undefined }
  | { readonly op: "type"; readonly value: string | undefined }
  | { readonly op: "id"; readonly value: Val | undefined }
  | { readonly op: "relive" };

const ATTR_NAMES = [
  "sid",
  "seq",
  "block-size",
  "stanza",
  "action",
  "initiator",
  "responder",
  "creator",
  "name",
  "senders",
  "disposition",
  "mode",
  "dstaddr",
  "jid",
  "host",
  "port",
  "method",
  "algo",
  "node",
  "type",
  "cid",
  "priority",
  "xml:lang",
];

const attrValue: fc.Arbitrary<Val> = fc.oneof(
  sidVal("sid"),
  numberish([0, 1, 4096, 65535, 65536]),
  jidVal,
  anyText(8),
  fingerprintVal,
  fc.constantFrom(
    "sha-256",
    "sha1",
    "session-initiate",
    "session-accept",
    "session-terminate",
    "transport-info",
    "security-info",
    "transport-replace",
    "iq",
    "message",
    "tcp",
    "udp",
    "x509",
    "srp",
    "initiator",
    "responder",
  ),
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("drop" as const), at: fc.nat(), child: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), child: fc.nat() }),
  fc.record({
    op: fc.constant("set-attr" as const),
    at: fc.nat(),
    name: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...ATTR_NAMES) },
      { weight: 1, arbitrary: xmlName },
    ),
    value: attrValue,
  }),
  fc.record({ op: fc.constant("remove-attr" as const), at: fc.nat(), which: fc.nat() }),
  fc.record({
    op: fc.constant("namespace" as const),
    at: fc.nat(),
    ns: fc.option(fc.oneof(fc.constantFrom(...NAMESPACES), anyText(10)), { nil: undefined }),
  }),
  fc.record({ op: fc.constant("rename" as const), at: fc.nat(), name: xmlName }),
  fc.record({
    op: fc.constant("text" as const),
    at: fc.nat(),
    text: fc.oneof(base64ish, anyText(16), jidVal, fingerprintVal),
  }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat(), keep: fc.nat() }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), child: randomElement, position: fc.nat() }),
  fc.record({ op: fc.constant("move" as const), from: fc.nat(), to: fc.nat() }),
  fc.record({
    op: fc.constant("address" as const),
    attr: fc.constantFrom("from" as const, "to" as const),
    value: addressVal,
  }),
  fc.record({
    op: fc.constant("type" as const),
    value: fc.option(fc.constantFrom("get", "set", "result", "error", "chat", "unavailable", "bogus"), {
      nil: undefined,
    }),
  }),
  fc.record({
    op: fc.constant("id" as const),
    value: fc.option(
      fc.oneof(
        ref("iqId"),
        fc.nat().map((n) => `fz${n}`),
        anyText(6),
      ),
      { nil: undefined },
    ),
  }),
  fc.constant({ op: "relive" as const }),
);

function pick<T>(items: readonly T[], index: number): T | undefined {
  return items.length === 0 ? undefined : items[index % items.length];
}

/** Sids point at the live sessions: the element's kind says which sid it is. */
function relive(root: XNode): void {
  for (const { node } of elementsOf(root)) {
    const ns = typeof node.attrs.xmlns === "string" ? node.attrs.xmlns : undefined;
    const kind =
      node.name === "jingle"
        ? "jingleSid"
        : node.name === "transport"
          ? "transportSid"
          : ns === NS.IBB
            ? "ibbSid"
            : ns === NS.S5B
              ? "s5bSid"
              : undefined;
    if (kind && node.attrs.sid !== undefined) node.attrs.sid = { ref: kind, index: 0 };
    if (ns === NS.IBB && node.name === "data") node.attrs.seq = { ref: "seq", index: 0 };
  }
}

export function applyMutations(fixture: XNode, mutations: readonly Mutation[]): XNode {
  const root = cloneNode(fixture);
  for (const m of mutations) {
    const all = elementsOf(root);
    switch (m.op) {
      case "relive":
        relive(root);
        break;
      case "address":
        root.attrs[m.attr] = m.value;
        break;
      case "type":
        root.attrs.type = m.value;
        break;
      case "id":
        root.attrs.id = m.value;
        break;
      case "move": {
        const nonRoot = all.filter((e) => e.parent !== undefined);
        const moving = pick(nonRoot, m.from);
        if (!moving) break;
        const targets = all.filter((e) => !elementsOf(moving.node).some((d) => d.node === e.node));
        const target = pick(targets, m.to);
        if (!target) break;
        moving.parent!.children = moving.parent!.children.filter((c) => c !== moving.node);
        target.node.children.push(moving.node);
        break;
      }
      default: {
        const { node } = pick(all, m.at)!;
        switch (m.op) {
          case "drop": {
            if (node.children.length > 0) node.children.splice(m.child % node.children.length, 1);
            break;
          }
          case "duplicate": {
            const child = pick(node.children, m.child);
            if (child !== undefined) {
              const copy = isNode(child) ? cloneNode(child) : child;
              node.children.splice(m.child % node.children.length, 0, copy);
            }
            break;
          }
          case "set-attr":
            node.attrs[m.name] = m.value;
            break;
          case "remove-attr": {
            const names = Object.keys(node.attrs).filter((k) => node.attrs[k] !== undefined);
            const name = pick(names, m.which);
            if (name !== undefined) delete node.attrs[name];
            break;
          }
          case "namespace":
            node.attrs.xmlns = m.ns;
            break;
          case "rename":
            node.name = m.name;
            break;
          case "text":
            node.children = [m.text, ...node.children.filter(isNode)];
            break;
          case "truncate":
            node.children = node.children.map((c) =>
              typeof c === "string" && c.length > 0 ? c.slice(0, m.keep % c.length) : c,
            );
            break;
          case "insert":
            node.children.splice(m.position % (node.children.length + 1), 0, cloneNode(m.child));
            break;
        }
      }
    }
  }
  return root;
}

/** A fixture, mutated 0–4 times (often relived first). */
export function mutatedFixture(
  fixtures: readonly XNode[],
  options: { relive?: number } = {},
): fc.Arbitrary<XNode> {
  return fc
    .tuple(
      fc.nat({ max: fixtures.length - 1 }),
      fc.oneof(
        { weight: options.relive ?? 1, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      fc.array(mutation, { maxLength: 4 }),
    )
    .map(([i, live, muts]) =>
      applyMutations(fixtures[i]!, live ? [{ op: "relive" as const }, ...muts] : muts),
    );
}
