/**
 * Putting it together: learn a contact's user certificate through a verified device
 * (inside the tunnel), and later trust that contact's other devices, found in PEP, when
 * the user certificate signed them.
 */
import type { XmppLink } from "@xtls/core";
import { bareJid } from "@xtls/core";
import { certificateMatches, type Fingerprint, fingerprintOf, type TrustStore } from "@xtls/tls";
import { fetchPublishedCertificates } from "./pep.js";
import { type EndToEndStream, requestPubkeys } from "./service.js";
import { learnUserCertificate, trustDeviceVouchedFor } from "./user-certificate.js";

/**
 * After a session with a verified device: asks it (inside the stream) for its keys, and
 * pins the user certificate it returns if that certificate signed the device. Returns the
 * fingerprints of the user certificates learnt.
 */
export async function learnFromPeer(
  stream: EndToEndStream,
  store: TrustStore,
  presentedFingerprint: string,
): Promise<string[]> {
  const keys = await requestPubkeys(stream, presentedFingerprint);
  const device = keys.devices.find((d) => certificateMatches(d.raw, presentedFingerprint));
  const learnt: string[] = [];
  if (!device) return learnt;
  for (const user of keys.users) {
    if (bareJid(user.jid) !== bareJid(stream.peerJid)) continue; // never for another JID
    const verdict = await learnUserCertificate(store, stream.peerJid, user.certificate, device);
    if (verdict.ok) learnt.push(fingerprintOf(user.certificate.raw));
  }
  return learnt;
}

/**
 * A resolver for `XtlsSecurity`'s `resolve` option: when a peer announces a certificate
 * we have not pinned, look for it in the peer's PEP node and trust it if a user
 * certificate we verified for that person signed it.
 */
export function pepResolver(link: XmppLink, store: TrustStore) {
  return async (peer: string, fingerprint: Fingerprint): Promise<boolean> => {
    let keys: Awaited<ReturnType<typeof fetchPublishedCertificates>>;
    try {
      keys = await fetchPublishedCertificates(link, bareJid(peer));
    } catch {
      return false; // no PEP node, or not allowed to read it
    }
    const device = keys.find(
      (k) => k.jid === undefined && certificateMatches(k.certificate.raw, fingerprint),
    );
    if (!device) return false;
    const users = keys
      .filter((k) => k.jid !== undefined && bareJid(k.jid) === bareJid(peer))
      .map((k) => k.certificate);
    return (await trustDeviceVouchedFor(store, peer, device.certificate, users)).ok;
  };
}
