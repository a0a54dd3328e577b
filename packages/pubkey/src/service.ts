/**
 * `<pubkeys/>` inside the tunnel (draft §5.1): a peer asks, over the end-to-end XML
 * stream, for the certificates we hold the keys of, and the user certificate that signed
 * them. Never over the server-relayed connection (the draft's MUST NOT): the handler is
 * installed on the XML stream only, so the same query through the server gets the
 * `service-unavailable` every unhandled IQ gets.
 */
import type { X509Certificate } from "node:crypto";
import { NS, StanzaError, type Unsubscribe, type XmppLink, xml } from "@xtls/core";
import { certificateMatches, fingerprintOf, type Identity } from "@xtls/tls";
import {
  type KeyInfo,
  parseKeyinfos,
  pubkeysRequest,
  pubkeysResult,
  requestedFingerprints,
} from "./elements.js";
import type { UserCertificate } from "./user-certificate.js";

/** What an end-to-end XML stream is (structurally: @xtls/xmlstream's XmlStream). */
export interface EndToEndStream extends XmppLink {
  /** The peer's full JID, as authenticated by TLS underneath. */
  readonly peerJid: string;
  readonly localJid: string;
}

export interface ServePubkeysOptions {
  /** Our device identity (the certificate TLS presents). */
  readonly identity: Identity;
  /** The user certificate that signed it, if any (its private key is not needed). */
  readonly userCertificate?: Pick<UserCertificate, "certificate" | "jid"> | X509Certificate;
}

/** Answers `<pubkeys/>` on an end-to-end XML stream. */
export function servePubkeys(stream: EndToEndStream, options: ServePubkeysOptions): Unsubscribe {
  if (!("peerJid" in stream)) {
    throw new TypeError(
      "servePubkeys() serves only an end-to-end XML stream, never the server-relayed connection",
    );
  }
  const user =
    options.userCertificate === undefined
      ? undefined
      : "certificate" in options.userCertificate
        ? options.userCertificate
        : { certificate: options.userCertificate, jid: options.identity.jid };
  return stream.handle("get", NS.PUBKEY, "pubkeys", (iq) => {
    if (iq.payload.attrs.jid !== undefined) {
      // A third-party request: we publish no one else's keys.
      throw new StanzaError("item-not-found", { text: "keys of other entities are not served here" });
    }
    const keys: KeyInfo[] = [{ certificate: options.identity.certificate }];
    if (user) keys.push({ certificate: user.certificate, jid: user.jid });
    const wanted = requestedFingerprints(iq.payload);
    const chosen = wanted.length
      ? keys.filter((k) => wanted.some((f) => certificateMatches(k.certificate.raw, f)))
      : keys;
    return pubkeysResult(chosen);
  });
}

export interface PeerKeys {
  /** The peer's device certificates (keys it holds). */
  readonly devices: readonly X509Certificate[];
  /** Certificates that signed them (user certificates), with the bare JID they claim. */
  readonly users: readonly { readonly certificate: X509Certificate; readonly jid: string }[];
}

export class PubkeyMismatchError extends Error {}

/**
 * Asks the peer at the other end of `stream` for its keys. `presented` is the
 * fingerprint of the certificate the peer presented in TLS: the answer must contain it,
 * or the peer is claiming keys it did not prove it holds.
 */
export async function requestPubkeys(stream: EndToEndStream, presented: string): Promise<PeerKeys> {
  const result = await stream.request(xml("iq", { type: "get" }, pubkeysRequest()));
  const payload = result.getChild("pubkeys", NS.PUBKEY);
  if (!payload) throw new PubkeyMismatchError("the answer to <pubkeys/> carries no <pubkeys/>");
  const keys = parseKeyinfos(payload);
  const devices = keys.filter((k) => k.jid === undefined).map((k) => k.certificate);
  const users = keys
    .filter((k) => k.jid !== undefined)
    .map((k) => ({ certificate: k.certificate, jid: k.jid! }));
  if (!devices.some((d) => fingerprintOf(d.raw) === presented)) {
    throw new PubkeyMismatchError("the peer's keys do not include the certificate it presented in TLS");
  }
  return { devices, users };
}
