import { duplexPair } from "@xtls/core";
import {
  createIdentity,
  type Identity,
  MemoryTrustStore,
  NodeTlsEngine,
  type SecureChannel,
} from "@xtls/tls";
import { openXmlStream, type XmlStream } from "@xtls/xmlstream";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";

/**
 * A real end-to-end XML stream between two identities: TLS 1.3 with mutual certificate
 * authentication over an in-memory pair, then XEP-0246 on top (no XMPP server needed).
 */
export async function tunnel(romeo: Identity, juliet: Identity) {
  const romeoTrust = new MemoryTrustStore();
  const julietTrust = new MemoryTrustStore();
  await romeoTrust.pin(JULIET, juliet.fingerprint, { method: "manual" });
  await julietTrust.pin(ROMEO, romeo.fingerprint, { method: "manual" });
  const [a, b] = duplexPair();
  const [ca, cb] = await Promise.all([
    new NodeTlsEngine({ identity: romeo, trustStore: romeoTrust }).secure(a, {
      role: "initiator",
      localJid: ROMEO,
      peerJid: JULIET,
    }),
    new NodeTlsEngine({ identity: juliet, trustStore: julietTrust }).secure(b, {
      role: "responder",
      localJid: JULIET,
      peerJid: ROMEO,
    }),
  ]);
  const [ours, theirs] = await Promise.all([
    openXmlStream(ca.stream, { role: "initiator", localJid: ROMEO, peerJid: JULIET }),
    openXmlStream(cb.stream, { role: "responder", localJid: JULIET, peerJid: ROMEO }),
  ]);
  return {
    romeoTrust,
    julietTrust,
    romeo: ours as XmlStream,
    juliet: theirs as XmlStream,
    channels: [ca, cb] as [SecureChannel, SecureChannel],
    async close() {
      await ours.close().catch(() => {});
    },
  };
}

export { createIdentity };
