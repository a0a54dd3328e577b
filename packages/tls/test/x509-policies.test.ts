import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  assessPeer,
  type CaPolicy,
  CertificateChangedError,
  createCertificate,
  createIdentity,
  formatFingerprint,
  type Identity,
  identityFromPem,
  MemoryTrustStore,
  PeerJidMismatchError,
  UntrustedCertificateError,
  verifyCaIssued,
} from "../src/index.js";
import { channelOf, errorOf, handshake, JULIET, julietId, ROMEO, romeoId, strangers } from "./helpers.js";

describe("TOFU (leap of faith): explicit, off by default", () => {
  it("is off by default: an unknown certificate is refused", async () => {
    const { romeo, juliet } = strangers();
    const { initiator } = await handshake(romeo, juliet);
    expect(errorOf(initiator)).toBeInstanceOf(UntrustedCertificateError);
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
  });

  it("pins the first certificate with state tofu, then trusts that one", async () => {
    const { romeo, juliet } = strangers({ romeo: { tofu: true }, juliet: { tofu: true } });
    const first = await handshake(romeo, juliet);
    expect(channelOf(first.initiator).peer.trust).toMatchObject({
      source: "tofu",
      entry: { fingerprint: julietId.fingerprint, state: "tofu", method: "tofu" },
    });
    expect(channelOf(first.responder).peer.trust).toMatchObject({ source: "tofu" });
    await channelOf(first.initiator).close();
    const second = await handshake(romeo, juliet);
    expect(channelOf(second.initiator).peer.trust).toMatchObject({
      source: "trust-store",
      entry: { state: "tofu" },
    });
    await channelOf(second.initiator).close();
  });

  it("refuses a changed certificate loudly, naming the old and the new fingerprint (like ssh)", async () => {
    const { romeo, juliet } = strangers({
      romeo: { tofu: true, sessionCache: false },
      juliet: { tofu: true },
    });
    await channelOf((await handshake(romeo, juliet)).initiator).close();
    const impostorId = createIdentity(JULIET); // right JID, different key
    const impostor = strangers({ juliet: { identity: impostorId, tofu: true } }).juliet;
    const { initiator } = await handshake(romeo, impostor);
    const error = errorOf(initiator);
    expect(error).toBeInstanceOf(CertificateChangedError);
    expect(error).toBeInstanceOf(UntrustedCertificateError);
    expect(error).toMatchObject({ previous: [julietId.fingerprint], presented: impostorId.fingerprint });
    expect(error).toMatchObject({ code: "certificate-changed" });
    expect(error.message).toContain(formatFingerprint(julietId.fingerprint));
    expect(error.message).toContain(formatFingerprint(impostorId.fingerprint));
    expect(error.message).toContain("CHANGED");
    expect((await romeo.trust.entries(JULIET)).map((e) => e.fingerprint)).toEqual([julietId.fingerprint]);
  });

  it("can be enabled per session (auth.tofu) and forecast before the handshake (assessPeer)", async () => {
    const { romeo, juliet } = strangers({ juliet: { tofu: true } });
    expect(await romeo.engine.assessPeer(JULIET, julietId.fingerprint)).toBe("unknown");
    expect(await romeo.engine.assessPeer(JULIET, julietId.fingerprint, { method: "x509", tofu: true })).toBe(
      "tofu",
    );
    const { initiator } = await handshake(romeo, juliet, { romeo: { auth: { method: "x509", tofu: true } } });
    expect(channelOf(initiator).peer.trust.source).toBe("tofu");
    await channelOf(initiator).close();
    expect(await romeo.engine.assessPeer(JULIET, julietId.fingerprint)).toBe("trusted");
    const other = createIdentity(JULIET).fingerprint;
    expect(await romeo.engine.assessPeer(JULIET, other, { method: "x509", tofu: true })).toBe("changed");
    await romeo.trust.revoke(JULIET, other);
    expect(await romeo.engine.assessPeer(JULIET, other)).toBe("revoked");
  });
});

/** A CA, and identities it issues (the helper issues with `createCertificate({ issuer })`). */
function makeCa(name = "Montague & Capulet CA") {
  const ca = createCertificate({ jid: "ca.verona.lit", commonName: name, ca: true });
  const issue = (jid: string, validity: { notBefore?: Date; notAfter?: Date } = {}): Identity => {
    const leaf = createCertificate({
      jid,
      issuer: { certificate: ca.certificate, privateKey: ca.privateKey },
      ...validity,
    });
    return identityFromPem(
      leaf.certificate.toString(),
      leaf.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    );
  };
  return { ca, issue };
}

describe("CA-issued certificates (trust anchors)", () => {
  const { ca, issue } = makeCa();
  const julietCaId = issue(JULIET);
  const romeoCaId = issue(ROMEO);
  const accept: CaPolicy = { anchors: [ca.certificate.toString()], accept: "accept" };

  it("accepts certificates issued by an anchor that name the peer, without a password, and pins them with method ca", async () => {
    const { romeo, juliet } = strangers({
      romeo: { identity: romeoCaId, ca: accept },
      juliet: { identity: julietCaId, ca: { anchors: [ca.der], accept: "accept" } },
    });
    const { initiator, responder } = await handshake(romeo, juliet);
    expect(channelOf(initiator).peer.trust).toMatchObject({
      source: "ca",
      entry: { fingerprint: julietCaId.fingerprint, state: "verified", method: "ca" },
    });
    expect(channelOf(responder).peer.trust).toMatchObject({
      source: "ca",
      entry: { fingerprint: romeoCaId.fingerprint, method: "ca" },
    });
    expect(await romeo.trust.entries(JULIET)).toMatchObject([{ method: "ca", state: "verified" }]);
    await channelOf(initiator).close();
  });

  it("asks the user under the 'ask' policy, and refuses when the user declines", async () => {
    const asked: string[] = [];
    const ask = (answer: boolean): CaPolicy => ({
      anchors: [ca.certificate],
      accept: (request) => {
        asked.push(`${request.peer} ${request.subject} by ${request.issuer}`);
        expect(request.anchorFingerprint).toBe(
          new X509Certificate(ca.der).fingerprint256.replace(/:/g, "").toLowerCase(),
        );
        return answer;
      },
    });
    const no = strangers({ romeo: { ca: ask(false) }, juliet: { identity: julietCaId } });
    const refused = await handshake(no.romeo, no.juliet);
    expect(errorOf(refused.initiator)).toBeInstanceOf(UntrustedCertificateError);
    expect(errorOf(refused.initiator).message).toContain("did not accept");
    expect(await no.romeo.trust.entries(JULIET)).toEqual([]);
    const yes = strangers({ romeo: { ca: ask(true) }, juliet: { identity: julietCaId } });
    await yes.juliet.trust.pin(ROMEO, romeoId.fingerprint, { method: "manual" });
    const accepted = await handshake(yes.romeo, yes.juliet);
    expect(channelOf(accepted.initiator).peer.trust.source).toBe("ca");
    expect(asked).toEqual([
      `${JULIET} CN=juliet@capulet.lit by CN=Montague & Capulet CA`,
      `${JULIET} CN=juliet@capulet.lit by CN=Montague & Capulet CA`,
    ]);
    await channelOf(accepted.initiator).close();
  });

  it("refuses a self-signed impostor, even one that copies the CA's name as its issuer", async () => {
    const selfSigned = strangers({ romeo: { ca: accept } });
    expect(errorOf((await handshake(selfSigned.romeo, selfSigned.juliet)).initiator)).toBeInstanceOf(
      UntrustedCertificateError,
    );
    // Same issuer name, but signed by another key.
    const forger = makeCa("Montague & Capulet CA");
    const forged = strangers({ romeo: { ca: accept }, juliet: { identity: forger.issue(JULIET) } });
    const error = errorOf((await handshake(forged.romeo, forged.juliet)).initiator);
    expect(error).toBeInstanceOf(UntrustedCertificateError);
    expect(error.message).toContain("not issued by a configured trust anchor");
  });

  it("refuses an expired (or not yet valid) CA-issued certificate", async () => {
    const day = 86_400_000;
    const expired = issue(JULIET, {
      notBefore: new Date(Date.now() - 30 * day),
      notAfter: new Date(Date.now() - day),
    });
    const early = issue(JULIET, { notBefore: new Date(Date.now() + day) });
    for (const identity of [expired, early]) {
      const s = strangers({ romeo: { ca: accept }, juliet: { identity } });
      const error = errorOf((await handshake(s.romeo, s.juliet)).initiator);
      expect(error).toBeInstanceOf(UntrustedCertificateError);
      expect(error.message).toContain("expired or not yet valid");
    }
  });

  it("refuses a CA-issued certificate for another JID", async () => {
    const s = strangers({ romeo: { ca: accept }, juliet: { identity: issue("tybalt@capulet.lit") } });
    const error = errorOf((await handshake(s.romeo, s.juliet)).initiator);
    expect(error).toBeInstanceOf(PeerJidMismatchError);
    expect(error.message).toContain("tybalt@capulet.lit");
  });

  it("verifyCaIssued: an issuer that is not a CA does not count; validity is checked against the clock", () => {
    const notCa = createCertificate({ jid: "ca.verona.lit" });
    const leaf = createCertificate({
      jid: JULIET,
      issuer: { certificate: notCa.certificate, privateKey: notCa.privateKey },
    });
    // OpenSSL's issuer check already wants keyCertSign; cA=false is checked as well.
    expect(verifyCaIssued(leaf.der, { anchors: [notCa.certificate] }).ok).toBe(false);
    const fine = createCertificate({
      jid: JULIET,
      issuer: { certificate: ca.certificate, privateKey: ca.privateKey },
    });
    expect(verifyCaIssued(fine.der, { anchors: [ca.certificate] }).ok).toBe(true);
    expect(
      verifyCaIssued(fine.der, {
        anchors: [ca.certificate],
        now: () => new Date(Date.now() + 20 * 365 * 86_400_000),
      }),
    ).toMatchObject({ ok: false });
  });

  it("assessPeer says 'ca' when anchors are configured and nothing is pinned", async () => {
    expect(
      await assessPeer({
        peerJid: JULIET,
        advertised: julietCaId.fingerprint,
        trustStore: new MemoryTrustStore(),
        ca: true,
      }),
    ).toBe("ca");
  });
});
