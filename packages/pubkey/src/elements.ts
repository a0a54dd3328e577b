/**
 * XEP-0189 0.9 shapes in `urn:xmpp:pubkey:0`, the version the XTLS draft uses (§5.1;
 * docs/protocol/pubkey.md#which-version): later versions dropped X.509.
 *
 *   <pubkeys xmlns='urn:xmpp:pubkey:0' [jid='bare JID: a third-party request']>
 *     <fingerprint algo='sha-256'>…</fingerprint>*        (request: only these keys)
 *     <keyinfo [jid='bare JID']><x509cert>Base64 DER</x509cert></keyinfo>*   (result)
 *   </pubkeys>
 *
 * A keyinfo with a `jid` is a key that signed the others (a user certificate); one
 * without is a key the sender holds the private key of (its device certificate).
 */
import { X509Certificate } from "node:crypto";
import { decodeBase64Strict, type Element, NS, xml } from "@xtls/core";
import { type Fingerprint, tryParseFingerprint } from "@xtls/tls";

export interface KeyInfo {
  readonly certificate: X509Certificate;
  /** Set on keys that vouch for others (user certificates): the owner's bare JID. */
  readonly jid?: string;
}

export class PubkeyFormatError extends Error {}

export function pubkeysRequest(
  options: { fingerprints?: readonly Fingerprint[]; jid?: string } = {},
): Element {
  return xml(
    "pubkeys",
    { xmlns: NS.PUBKEY, ...(options.jid ? { jid: options.jid } : {}) },
    ...(options.fingerprints ?? []).map((f) => xml("fingerprint", { algo: f.algo }, f.hex)),
  );
}

export function pubkeysResult(keys: readonly KeyInfo[]): Element {
  return xml("pubkeys", { xmlns: NS.PUBKEY }, ...keys.map(keyinfoElement));
}

export function keyinfoElement(key: KeyInfo): Element {
  return xml(
    "keyinfo",
    key.jid ? { jid: key.jid } : {},
    xml("x509cert", {}, key.certificate.raw.toString("base64")),
  );
}

/** The fingerprints a request asks for (none: every key). Malformed ones are dropped. */
export function requestedFingerprints(pubkeys: Element): Fingerprint[] {
  return pubkeys
    .getChildren("fingerprint")
    .map((f) => tryParseFingerprint(f.text(), f.attrs.algo))
    .filter((f): f is Fingerprint => f !== undefined);
}

/** Reads the keyinfos of a result; a certificate that is not valid Base64 DER is an error. */
export function parseKeyinfos(pubkeys: Element): KeyInfo[] {
  return pubkeys.getChildren("keyinfo").map((k) => {
    const text = k.getChildText("x509cert");
    if (text === null)
      throw new PubkeyFormatError("a <keyinfo/> without <x509cert/> (only X.509 is supported)");
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(decodeBase64Strict(text));
    } catch (error) {
      throw new PubkeyFormatError(`an <x509cert/> that is not a certificate: ${(error as Error).message}`);
    }
    return k.attrs.jid ? { certificate, jid: k.attrs.jid } : { certificate };
  });
}
