/**
 * Certificates in PEP (XEP-0163; XEP-0189 0.9 §"PEP"): node `urn:xmpp:pubkey:0`, one
 * item per certificate, item id = lowercase hex SHA-1 of the DER (so a reader can fetch
 * one key by fingerprint), payload `<keyinfo xmlns='urn:xmpp:pubkey:0'><x509cert/>`.
 * Published with access model `presence` (only contacts read it), persisted, and never
 * pushed as "last item" — a reader asks.
 *
 * PEP is a directory, not a proof: whatever a reader fetches is trusted only if it chains
 * to a user certificate the reader already verified (see user-certificate.ts).
 */
import type { X509Certificate } from "node:crypto";
import { type Element, NS, type XmppLink, xml } from "@xtls/core";
import { fingerprintOf } from "@xtls/tls";
import { type KeyInfo, keyinfoElement, parseKeyinfos } from "./elements.js";

const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_DATA = "jabber:x:data";

export interface PublishOptions {
  /** Default `presence`. */
  readonly accessModel?: "presence" | "roster" | "whitelist" | "open";
}

function publishOptions(accessModel: string): Element {
  const field = (v: string, value: string, type?: string) =>
    xml("field", { var: v, ...(type ? { type } : {}) }, xml("value", {}, value));
  return xml(
    "publish-options",
    {},
    xml(
      "x",
      { xmlns: NS_DATA, type: "submit" },
      field("FORM_TYPE", `${NS_PUBSUB}#publish-options`, "hidden"),
      field("pubsub#persist_items", "true"),
      // One item per certificate: a node that keeps only the last item (Prosody's PEP
      // default is 1) would lose all but one of the person's devices.
      field("pubsub#max_items", "max"),
      field("pubsub#access_model", accessModel),
      field("pubsub#send_last_published_item", "never"),
    ),
  );
}

/** Publishes certificates to our PEP node (user certificates with their `jid`), one item each. */
export async function publishCertificates(
  link: XmppLink,
  keys: readonly KeyInfo[],
  options: PublishOptions = {},
): Promise<void> {
  for (const key of keys) {
    const id = fingerprintOf(key.certificate.raw, "sha-1");
    const item = keyinfoElement(key);
    item.attrs.xmlns = NS.PUBKEY;
    await link.request(
      xml(
        "iq",
        { type: "set" },
        xml(
          "pubsub",
          { xmlns: NS_PUBSUB },
          xml("publish", { node: NS.PUBKEY }, xml("item", { id }, item)),
          publishOptions(options.accessModel ?? "presence"),
        ),
      ),
    );
  }
}

/** Deletes the whole node (every published certificate). */
export async function deletePublishedCertificates(link: XmppLink): Promise<void> {
  await link.request(
    xml(
      "iq",
      { type: "set" },
      xml("pubsub", { xmlns: `${NS_PUBSUB}#owner` }, xml("delete", { node: NS.PUBKEY })),
    ),
  );
}

/** Removes one published certificate. */
export async function retractCertificate(link: XmppLink, certificate: X509Certificate): Promise<void> {
  await link.request(
    xml(
      "iq",
      { type: "set" },
      xml(
        "pubsub",
        { xmlns: NS_PUBSUB },
        xml(
          "retract",
          { node: NS.PUBKEY, notify: "true" },
          xml("item", { id: fingerprintOf(certificate.raw, "sha-1") }),
        ),
      ),
    ),
  );
}

/** Reads the certificates `bareJid` published (items that do not parse are skipped). */
export async function fetchPublishedCertificates(link: XmppLink, bareJid: string): Promise<KeyInfo[]> {
  const result = await link.request(
    xml(
      "iq",
      { type: "get", to: bareJid },
      xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node: NS.PUBKEY })),
    ),
  );
  const items = result.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChildren("item") ?? [];
  const keys: KeyInfo[] = [];
  for (const item of items) {
    const keyinfo = item.getChild("keyinfo", NS.PUBKEY);
    if (!keyinfo) continue;
    try {
      keys.push(...parseKeyinfos(xml("pubkeys", { xmlns: NS.PUBKEY }, keyinfo)));
    } catch {
      // a broken item is someone else's problem, not a reason to fail the others
    }
  }
  return keys;
}
