// Real certificates for test parties: one identity per bare JID, and TLS engines whose
// trust stores have the peers' certificates pinned (verified out of band).
import {
  createIdentity,
  type Identity,
  MemoryTrustStore,
  NodeTlsEngine,
  type NodeTlsEngineOptions,
} from "@xtls/tls";

const identities = new Map<string, Identity>();

/** One long-lived identity per bare JID (key generation is the slow part). */
export function identityOf(jid: string): Identity {
  const bare = jid.split("/")[0]!;
  let id = identities.get(bare);
  if (!id) {
    id = createIdentity(bare);
    identities.set(bare, id);
  }
  return id;
}

export interface EngineOptions {
  /** JIDs whose real certificates ({@link identityOf}) the trust store has pinned. */
  readonly pins?: readonly string[];
  /** Whose certificate the engine presents (default: its own JID's). */
  readonly identity?: Identity;
  /** Use this trust store (e.g. shared with a later party) instead of a fresh one. */
  readonly trust?: MemoryTrustStore;
  /** More options for the TLS engine (tofu, ca, attemptLimiter…). */
  readonly engine?: Partial<Omit<NodeTlsEngineOptions, "identity" | "trustStore">>;
}

/** The TLS engine of `jid`, and its trust store with `pins` pinned (method "manual"). */
export async function pinnedEngine(
  jid: string,
  options: EngineOptions = {},
): Promise<{ trust: MemoryTrustStore; engine: NodeTlsEngine }> {
  const trust = options.trust ?? new MemoryTrustStore();
  for (const peer of options.pins ?? [])
    await trust.pin(peer, identityOf(peer).fingerprint, { method: "manual" });
  const engine = new NodeTlsEngine({
    ...options.engine,
    identity: options.identity ?? identityOf(jid),
    trustStore: trust,
  });
  return { trust, engine };
}
