import { duplexPair } from "@xtls/core";
import {
  createIdentity,
  type Identity,
  MemoryTrustStore,
  NodeTlsEngine,
  type SecureChannel,
  type SecureOptions,
  type TrustStore,
} from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";

// Identities are cheap (~1 ms) but reusing them keeps the tests about TLS.
export const romeoId: Identity = createIdentity(ROMEO);
export const julietId: Identity = createIdentity(JULIET);

export interface Side {
  engine: NodeTlsEngine;
  trust: TrustStore;
}

export async function sides(options: { pin?: boolean } = {}): Promise<{ romeo: Side; juliet: Side }> {
  const romeoTrust = new MemoryTrustStore();
  const julietTrust = new MemoryTrustStore();
  if (options.pin !== false) {
    await romeoTrust.pin(JULIET, julietId.fingerprint, { method: "manual" });
    await julietTrust.pin(ROMEO, romeoId.fingerprint, { method: "manual" });
  }
  return {
    romeo: { engine: new NodeTlsEngine({ identity: romeoId, trustStore: romeoTrust }), trust: romeoTrust },
    juliet: {
      engine: new NodeTlsEngine({ identity: julietId, trustStore: julietTrust }),
      trust: julietTrust,
    },
  };
}

type Settled = { ok: true; channel: SecureChannel } | { ok: false; error: Error };

const settle = (p: Promise<SecureChannel>): Promise<Settled> =>
  p.then(
    (channel) => ({ ok: true as const, channel }),
    (error: Error) => ({ ok: false as const, error }),
  );

/** Runs both ends of a handshake over an in-memory carrier pair. */
export async function handshake(
  romeo: Side,
  juliet: Side,
  extra: { romeo?: Partial<SecureOptions>; juliet?: Partial<SecureOptions> } = {},
) {
  const [a, b] = duplexPair();
  const [initiator, responder] = await Promise.all([
    settle(romeo.engine.secure(a, { role: "initiator", localJid: ROMEO, peerJid: JULIET, ...extra.romeo })),
    settle(juliet.engine.secure(b, { role: "responder", localJid: JULIET, peerJid: ROMEO, ...extra.juliet })),
  ]);
  return { initiator, responder, carriers: [a, b] as const };
}

export function collect(stream: NodeJS.ReadableStream): { data: () => Buffer; done: Promise<"end" | Error> } {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<"end" | Error>((resolve) => {
    stream.once("end", () => resolve("end"));
    stream.once("error", (e: Error) => resolve(e));
  });
  return { data: () => Buffer.concat(chunks), done };
}
