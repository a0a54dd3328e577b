import { type Element, LocalRouter, type RouteEvent } from "@xtls/core";
import { pinnedEngine } from "@xtls/testkit/identities";
import type { MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { IqTunnelService, type IqTunnelServiceOptions } from "../src/index.js";

export { identityOf } from "@xtls/testkit/identities";
export { tick, until } from "@xtls/testkit/support";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/chamber";

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
    const { trust, engine } = await pinnedEngine(jid, { pins: jids.filter((other) => other !== jid) });
    const service = new IqTunnelService(router.createLink(jid), { engine, ...options });
    parties.push({ jid, service, trust, engine });
  }
  return { router, wire, parties };
}

const routers: LocalRouter[] = [];

/** `router`, to be closed by {@link closeRouters}. */
export function closeLater(router: LocalRouter): LocalRouter {
  routers.push(router);
  return router;
}

/** Closes the routers of {@link pair} and {@link closeLater} (call in afterEach). */
export function closeRouters(): void {
  for (const r of routers.splice(0)) r.close();
}

/** Romeo and Juliet on their own router ({@link setup}), closed by {@link closeRouters}. */
export async function pair(options: Partial<IqTunnelServiceOptions> = {}) {
  const s = await setup([ROMEO, JULIET], options);
  closeLater(s.router);
  const [romeo, juliet] = s.parties as [Party, Party];
  return { ...s, romeo, juliet };
}

export function stanzasOf(tunnel: { on(e: "stanza", l: (s: Element) => void): unknown }): Element[] {
  const got: Element[] = [];
  tunnel.on("stanza", (s) => got.push(s));
  return got;
}
