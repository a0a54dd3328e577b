import { describe, expect, it } from "vitest";
import {
  CAPS_NODE,
  capsVerification,
  DiscoInfo,
  type Element,
  LocalRouter,
  NS,
  PeerDiscoCache,
  xml,
} from "../src/index.js";

// Our own vector: docs/protocol/test-vectors.md#entity-capabilities.
describe("XEP-0115 verification strings", () => {
  it("reproduces the XEP's simple example", () => {
    expect(
      capsVerification(
        [{ category: "client", type: "pc", name: "Exodus 0.9.1" }],
        [
          "http://jabber.org/protocol/disco#info",
          "http://jabber.org/protocol/disco#items",
          "http://jabber.org/protocol/muc",
          "http://jabber.org/protocol/caps",
        ],
      ),
    ).toBe("QgayPKawpkPSDYmwT/WM94uAlu0=");
  });

  it("reproduces our own caps vector", () => {
    const disco = new DiscoInfo({ category: "client", type: "pc", name: "xtls-ts 0.1" });
    for (const f of [
      NS.IBB,
      NS.S5B,
      NS.JINGLE,
      NS.JINGLE_IBB,
      NS.JINGLE_S5B,
      NS.JINGLE_XMLSTREAM,
      NS.XTLS_JINGLE,
      NS.JFT,
      NS.HASHES,
      NS.HASH_SHA256,
      NS.XTLS_IQ,
    ]) {
      disco.addFeature(f);
    }
    expect(disco.capsVer()).toBe("itYG3Ukfvqu5dEQF8g3uBlYxvHw=");
  });
});

describe("PeerDiscoCache: a peer's features asked once (issue #14)", () => {
  it("caches per full JID, and by a verified XEP-0115 ver for every JID announcing it; a forged ver is not cached, unavailable presence forgets", async () => {
    const router = new LocalRouter();
    const a = router.createLink("romeo@montague.lit/orchard");
    const b = router.createLink("juliet@capulet.lit/balcony");
    const c = router.createLink("juliet@capulet.lit/tower");
    b.disco.addFeature("urn:example:b");
    c.disco.addFeature("urn:example:b"); // the same software: the same ver
    let queries = 0;
    router.observe((e) => {
      if (e.stanza.attrs.type === "get" && e.stanza.getChild("query", NS.DISCO_INFO)) queries++;
    });
    const cache = new PeerDiscoCache(a);
    const presence = (from: typeof b, attrs: Record<string, string>, ver?: string) =>
      new Promise<void>((resolve) => {
        const off = a.onStanza((s: Element) => {
          if (s.name !== "presence" || s.attrs.from !== from.jid) return;
          off();
          // After the cache's own listener (registered first) saw it.
          resolve();
        });
        void from.send(
          xml(
            "presence",
            { to: a.jid, ...attrs },
            ver ? xml("c", { xmlns: NS.CAPS, hash: "sha-1", node: CAPS_NODE, ver }) : null,
          ),
        );
      });
    expect(await cache.features(b.jid)).toContain("urn:example:b");
    expect(await cache.features(b.jid)).toContain("urn:example:b");
    expect(queries).toBe(1);
    const ver = (b.disco as DiscoInfo).capsVer();
    await presence(b, {}, ver);
    await presence(c, {}, ver);
    await cache.features(b.jid); // new caps for b: asked once more, and the ver checked
    expect(queries).toBe(2);
    expect(await cache.features(c.jid)).toContain("urn:example:b"); // served by the verified ver
    expect(queries).toBe(2);
    // A forged ver: the peer does not know that node (item-not-found), asked plainly; the
    // answer does not match the ver, so it is cached for that JID only, never under the ver.
    await presence(c, {}, "forged=");
    expect(await cache.features(c.jid)).toContain("urn:example:b");
    expect(queries).toBe(4);
    await cache.features(c.jid);
    expect(queries).toBe(4);
    await presence(b, { type: "unavailable" });
    await cache.features(b.jid);
    expect(queries).toBe(5);
    cache.close();
    router.close();
  });
});
