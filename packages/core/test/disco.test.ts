import { describe, expect, it } from "vitest";
import { capsVerification, DiscoInfo, NS } from "../src/index.js";

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
