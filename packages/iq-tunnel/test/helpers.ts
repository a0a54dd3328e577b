import { type Element, LocalRouter, type RouteEvent } from "@xtls/core";
import { createIdentity, type Identity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { IqTunnelService, type IqTunnelServiceOptions } from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/chamber";
export const identities = new Map<string, Identity>();

export function identityOf(jid: string): Identity {
  const bare = jid.split("/")[0]!;
  let id = identities.get(bare);
  if (!id) {
    id = createIdentity(bare);
    identities.set(bare, id);
  }
  return id;
}

export interface Party {
  jid: string;
  service: IqTunnelService;
  trust: MemoryTrustStore;
  engine: NodeTlsEngine;
}

/** Two (or more) parties on one router, each pinning the others' real certificates. */
export async function setup(jids: string[] = [ROMEO, JULIET], options: Partial<IqTunnelServiceOptions> = {}) {
  const router = new LocalRouter();
  const wire: RouteEvent[] = [];
  router.observe((e) => wire.push(e));
  const parties: Party[] = [];
  for (const jid of jids) {
    const trust = new MemoryTrustStore();
    for (const other of jids)
      if (other !== jid) await trust.pin(other, identityOf(other).fingerprint, { method: "manual" });
    const engine = new NodeTlsEngine({ identity: identityOf(jid), trustStore: trust });
    const service = new IqTunnelService(router.createLink(jid), { engine, ...options });
    parties.push({ jid, service, trust, engine });
  }
  return { router, wire, parties };
}

export function stanzasOf(tunnel: { on(e: "stanza", l: (s: Element) => void): unknown }): Element[] {
  const got: Element[] = [];
  tunnel.on("stanza", (s) => got.push(s));
  return got;
}

export const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await tick(2);
  }
}
