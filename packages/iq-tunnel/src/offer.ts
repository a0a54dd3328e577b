/**
 * XEP-0250 offers as the XTLS ProtoXEP carries them inside `<start/>` and `<proceed/>`
 * (ProtoXEP 0.0.5 §"Offer Details", XEP-0250 §3; docs/protocol/mode-q.md#offers):
 *
 *   <offer xmlns='urn:xmpp:tmp:c2ctls'>
 *     <keyinfo xmlns='urn:xmpp:tmp:pubkey'><name>FINGERPRINT</name></keyinfo>
 *     <srp/>
 *   </offer>
 *
 * A keyinfo names the X.509 certificate its sender will present. We emit SHA-256 hex
 * names; XEP-0189 v0.8 used SHA-1 hex, which we accept (the length tells them apart).
 */
import { type Element, NS, xml } from "@xtls/core";
import { tryParseFingerprint } from "@xtls/tls";

export interface AuthOffer {
  /** Fingerprints (normalised lowercase hex) of the certificates the sender will present. */
  readonly fingerprints: readonly string[];
  /** The sender can do the `srp` method with a shared password. */
  readonly srp: boolean;
  /** The sender accepts an unverifiable certificate now and verifies it later (leap of faith). */
  readonly insecure: boolean;
}

export function offerElement(offer: AuthOffer): Element {
  return xml(
    "offer",
    { xmlns: NS.C2CTLS },
    ...offer.fingerprints.map((fp) => xml("keyinfo", { xmlns: NS.PUBKEY_TMP }, xml("name", {}, fp))),
    offer.srp ? xml("srp") : null,
    offer.insecure ? xml("insecure") : null,
  );
}

/**
 * Reads the optional `<offer/>` child of a `<start/>` or `<proceed/>` (the ProtoXEP's
 * schema says they are empty, its text allows an offer: parse permissively, docs/protocol/mode-q.md#elements). Unknown children are ignored (XEP-0250 MUST); malformed key names are dropped.
 */
export function parseOffer(parent: Element | undefined): AuthOffer | undefined {
  const offer = parent?.getChild("offer", NS.C2CTLS);
  if (!offer) return undefined;
  const fingerprints: string[] = [];
  for (const keyinfo of offer.getChildren("keyinfo", NS.PUBKEY_TMP)) {
    const name = keyinfo.getChildText("name");
    const fp = name ? tryParseFingerprint(name) : undefined;
    if (fp) fingerprints.push(fp.hex);
  }
  return {
    fingerprints,
    srp: offer.getChild("srp") !== undefined,
    insecure: offer.getChild("insecure") !== undefined,
  };
}
