/**
 * User certificates (draft §5.1, XEP-0189 "signing"): one long-lived certificate per
 * person, allowed to sign (a CA limited to its own JID), that vouches for each of the
 * person's device certificates. A friend who verified one device learns the user
 * certificate through it (inside the tunnel) and can then trust the person's other
 * devices without verifying each one.
 *
 * Threat: anyone can make a certificate that names romeo@montague.lit and claims to be
 * issued by "romeo@montague.lit (user)". What counts is the signature, checked with the
 * public key of a user certificate that is itself verified for exactly that bare JID; a
 * user certificate never vouches for another JID, and a device certificate only counts
 * when its own XmppAddr names the same bare JID.
 */
import type { X509Certificate } from "node:crypto";
import { bareJid } from "@xtls/core";
import {
  createCertificate,
  fingerprintOf,
  type Identity,
  identityFromPem,
  type TrustStore,
  verifyCaIssued,
  xmppAddrsOf,
} from "@xtls/tls";

/** A user certificate and its private key (keep it offline or on one device). */
export interface UserCertificate {
  readonly jid: string;
  readonly certificate: X509Certificate;
  readonly privateKey: import("node:crypto").KeyObject;
  readonly fingerprint: string;
}

export function createUserCertificate(jid: string, options: { validityDays?: number } = {}): UserCertificate {
  const bare = bareJid(jid);
  const created = createCertificate({
    jid: bare,
    ca: true,
    commonName: `${bare} (user)`,
    validityDays: options.validityDays,
  });
  return {
    jid: bare,
    certificate: created.certificate,
    privateKey: created.privateKey,
    fingerprint: fingerprintOf(created.der),
  };
}

/** A device identity (what TLS presents) signed by the user certificate. */
export function issueDeviceIdentity(
  user: UserCertificate,
  options: { validityDays?: number } = {},
): Identity {
  const created = createCertificate({
    jid: user.jid,
    issuer: { certificate: user.certificate, privateKey: user.privateKey },
    validityDays: options.validityDays,
  });
  return identityFromPem(
    created.certificate.toString(),
    created.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  );
}

export type VouchVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Whether `user` is a user certificate for `jid`'s bare JID that signed `device` for it. */
export function vouches(user: X509Certificate, device: X509Certificate, jid: string): VouchVerdict {
  const bare = bareJid(jid);
  if (!user.ca) return { ok: false, reason: "the signing certificate is not allowed to sign (not a CA)" };
  if (!xmppAddrsOf(user.raw).some((a) => sameBare(a, bare))) {
    return { ok: false, reason: `the user certificate does not name ${bare}` };
  }
  if (!xmppAddrsOf(device.raw).some((a) => sameBare(a, bare))) {
    return { ok: false, reason: `the device certificate does not name ${bare}` };
  }
  const verdict = verifyCaIssued(device.raw, { anchors: [user] });
  return verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason };
}

function sameBare(a: string, bare: string): boolean {
  try {
    return bareJid(a) === bare;
  } catch {
    return false;
  }
}

async function verifiedFor(store: TrustStore, jid: string, fingerprint: string): Promise<boolean> {
  const entries = await store.entries(jid);
  if (entries.some((e) => e.fingerprint === fingerprint && e.state === "revoked")) return false;
  return entries.some((e) => e.fingerprint === fingerprint && e.state === "verified");
}

/**
 * Learns `user` as `peer`'s user certificate because a device we verified presented it
 * and is signed by it: pins it as verified with method `pubkey`. Returns why not otherwise.
 */
export async function learnUserCertificate(
  store: TrustStore,
  peer: string,
  user: X509Certificate,
  viaDevice: X509Certificate,
): Promise<VouchVerdict> {
  const deviceFp = fingerprintOf(viaDevice.raw);
  if (!(await verifiedFor(store, peer, deviceFp))) {
    return { ok: false, reason: "the device that presented it is not verified" };
  }
  const verdict = vouches(user, viaDevice, peer);
  if (!verdict.ok) return verdict;
  await store.pin(peer, fingerprintOf(user.raw), { method: "pubkey", note: "user certificate (XEP-0189)" });
  return verdict;
}

/**
 * Trusts `device` for `peer` when one of `candidates` is a user certificate verified for
 * the peer that signed it: pins the device as verified with method `pubkey`.
 */
export async function trustDeviceVouchedFor(
  store: TrustStore,
  peer: string,
  device: X509Certificate,
  candidates: readonly X509Certificate[],
): Promise<VouchVerdict> {
  let reason = "no verified user certificate of this person signed it";
  for (const user of candidates) {
    if (!(await verifiedFor(store, peer, fingerprintOf(user.raw)))) continue;
    const verdict = vouches(user, device, peer);
    if (verdict.ok) {
      await store.pin(peer, fingerprintOf(device.raw), {
        method: "pubkey",
        note: "vouched for by the user certificate",
      });
      return verdict;
    }
    reason = verdict.reason;
  }
  return { ok: false, reason };
}
