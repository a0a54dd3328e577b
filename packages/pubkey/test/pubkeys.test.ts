// XEP-0189 inside the tunnel, and user certificates that vouch for devices.
import { LocalRouter, NS, StanzaError, xml } from "@xtls/core";
import { createCertificate, fingerprintOf, MemoryTrustStore } from "@xtls/tls";
import { describe, expect, it } from "vitest";
import {
  createUserCertificate,
  issueDeviceIdentity,
  learnFromPeer,
  parseKeyinfos,
  pubkeysRequest,
  requestPubkeys,
  servePubkeys,
  trustDeviceVouchedFor,
  vouches,
} from "../src/index.js";
import { createIdentity, JULIET, ROMEO, tunnel } from "./helpers.js";

describe("<pubkeys/> inside the end-to-end XML stream", () => {
  it("returns the device certificate and the user certificate that signed it (with its jid)", async () => {
    const user = createUserCertificate("juliet@capulet.lit");
    const device = issueDeviceIdentity(user);
    const t = await tunnel(createIdentity("romeo@montague.lit"), device);
    servePubkeys(t.juliet, { identity: device, userCertificate: user });
    const keys = await requestPubkeys(t.romeo, device.fingerprint);
    expect(keys.devices.map((d) => fingerprintOf(d.raw))).toEqual([device.fingerprint]);
    expect(keys.users.map((u) => [u.jid, fingerprintOf(u.certificate.raw)])).toEqual([
      ["juliet@capulet.lit", user.fingerprint],
    ]);
    // Only the keys asked for, when the request names fingerprints.
    const only = await t.romeo.request(
      xml(
        "iq",
        { type: "get" },
        pubkeysRequest({ fingerprints: [{ algo: "sha-256", hex: user.fingerprint }] }),
      ),
    );
    expect(parseKeyinfos(only.getChild("pubkeys", NS.PUBKEY)!).map((k) => k.jid)).toEqual([
      "juliet@capulet.lit",
    ]);
    await t.close();
  });

  it("a third-party request (jid='…') is refused with item-not-found", async () => {
    const device = createIdentity("juliet@capulet.lit");
    const t = await tunnel(createIdentity("romeo@montague.lit"), device);
    servePubkeys(t.juliet, { identity: device });
    const error = await t.romeo
      .request(xml("iq", { type: "get" }, pubkeysRequest({ jid: "nurse@capulet.lit" })))
      .catch((e: unknown) => e);
    expect(StanzaError.is(error, "item-not-found")).toBe(true);
    await t.close();
  });

  it("asked over the server-relayed connection instead: service-unavailable, no key leaves", async () => {
    const router = new LocalRouter();
    const romeo = router.createLink(ROMEO);
    const juliet = router.createLink(JULIET);
    const device = createIdentity("juliet@capulet.lit");
    // The service cannot even be installed on a plain connection…
    expect(() => servePubkeys(juliet as never, { identity: device })).toThrow(
      /only an end-to-end XML stream/,
    );
    // …so the query through the server gets what any unhandled IQ gets.
    const wire: string[] = [];
    router.observe((e) => wire.push(e.wire));
    const error = await romeo
      .request(xml("iq", { type: "get", to: JULIET }, pubkeysRequest()))
      .catch((e: unknown) => e);
    expect(StanzaError.is(error, "service-unavailable")).toBe(true);
    expect(wire.some((w) => w.includes("x509cert"))).toBe(false);
    router.close();
  });

  it("a peer whose answer lacks the certificate it presented in TLS is caught", async () => {
    const device = createIdentity("juliet@capulet.lit");
    const other = createIdentity("juliet@capulet.lit");
    const t = await tunnel(createIdentity("romeo@montague.lit"), device);
    servePubkeys(t.juliet, { identity: other });
    await expect(requestPubkeys(t.romeo, device.fingerprint)).rejects.toThrow(
      /do not include the certificate it presented/,
    );
    await t.close();
  });
});

describe("user certificates vouch for a person's devices", () => {
  it("Romeo verified Juliet's phone; he learns her user certificate through it and then trusts her laptop", async () => {
    const user = createUserCertificate("juliet@capulet.lit");
    const phone = issueDeviceIdentity(user);
    const laptop = issueDeviceIdentity(user);
    const t = await tunnel(createIdentity("romeo@montague.lit"), phone);
    servePubkeys(t.juliet, { identity: phone, userCertificate: user });
    const learnt = await learnFromPeer(t.romeo, t.romeoTrust, phone.fingerprint);
    expect(learnt).toEqual([user.fingerprint]);
    const entry = (await t.romeoTrust.entries(JULIET)).find((e) => e.fingerprint === user.fingerprint);
    expect(entry).toMatchObject({ state: "verified", method: "pubkey" });

    const verdict = await trustDeviceVouchedFor(t.romeoTrust, JULIET, laptop.certificate, [user.certificate]);
    expect(verdict).toEqual({ ok: true });
    expect((await t.romeoTrust.entries(JULIET)).map((e) => e.fingerprint)).toContain(laptop.fingerprint);
    await t.close();
  });

  it("a user certificate presented by a device it did not sign is not learnt", async () => {
    const user = createUserCertificate("juliet@capulet.lit");
    const selfSigned = createIdentity("juliet@capulet.lit");
    const t = await tunnel(createIdentity("romeo@montague.lit"), selfSigned);
    servePubkeys(t.juliet, { identity: selfSigned, userCertificate: user });
    expect(await learnFromPeer(t.romeo, t.romeoTrust, selfSigned.fingerprint)).toEqual([]);
    expect((await t.romeoTrust.entries(JULIET)).map((e) => e.fingerprint)).not.toContain(user.fingerprint);
    await t.close();
  });

  it("a forged signature (issuer name copied, signed with another key) is not trusted", async () => {
    const user = createUserCertificate("juliet@capulet.lit");
    const store = new MemoryTrustStore();
    await store.pin(JULIET, user.fingerprint, { method: "manual" });
    const mallory = createUserCertificate("juliet@capulet.lit");
    const forged = createCertificate({
      jid: "juliet@capulet.lit",
      // The real user certificate's name as issuer, Mallory's key as signer.
      issuer: { certificate: user.certificate, privateKey: mallory.privateKey },
    });
    const verdict = await trustDeviceVouchedFor(store, JULIET, forged.certificate, [user.certificate]);
    expect(verdict.ok).toBe(false);
    // Mallory's own "user certificate" for Juliet is not verified, so it vouches for nothing.
    const hers = issueDeviceIdentity(mallory);
    expect((await trustDeviceVouchedFor(store, JULIET, hers.certificate, [mallory.certificate])).ok).toBe(
      false,
    );
    expect((await store.entries(JULIET)).map((e) => e.fingerprint)).toEqual([user.fingerprint]);
  });

  it("a user certificate never vouches for another person's JID, nor does a non-CA certificate sign", () => {
    const romeoUser = createUserCertificate("romeo@montague.lit");
    const device = createCertificate({
      jid: "juliet@capulet.lit",
      issuer: { certificate: romeoUser.certificate, privateKey: romeoUser.privateKey },
    });
    expect(vouches(romeoUser.certificate, device.certificate, JULIET)).toMatchObject({ ok: false });
    const plain = createIdentity("juliet@capulet.lit");
    const signedByPlain = createCertificate({
      jid: "juliet@capulet.lit",
      issuer: { certificate: plain.certificate, privateKey: plain.privateKey },
    });
    expect(vouches(plain.certificate, signedByPlain.certificate, JULIET)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/not allowed to sign/),
    });
  });
});
