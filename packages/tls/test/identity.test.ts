import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  certificateMatches,
  createCertificate,
  createIdentity,
  fingerprintMatches,
  fingerprintOf,
  formatFingerprint,
  identityFromPem,
  loadIdentity,
  loadOrCreateIdentity,
  parseFingerprint,
  saveIdentity,
  xmppAddrsOf,
} from "../src/index.js";

describe("identities", () => {
  it("creates a self-signed ECDSA P-256 certificate naming the bare JID as XmppAddr", () => {
    const id = createIdentity("Romeo@Montague.lit/orchard");
    expect(id.jid).toBe("romeo@montague.lit");
    expect(xmppAddrsOf(id.certificateDer)).toEqual(["romeo@montague.lit"]);
    const cert = new X509Certificate(id.certificatePem);
    expect(cert.subjectAltName).toBe("othername:XmppAddr:romeo@montague.lit");
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(id.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(id.fingerprint).toBe(fingerprintOf(Buffer.from(cert.raw)));
  });

  it("always produces DER that OpenSSL parses (positive, minimally encoded serial numbers)", () => {
    for (let i = 0; i < 600; i++) {
      const { der } = createCertificate({ jid: "romeo@montague.lit" });
      expect(() => new X509Certificate(der)).not.toThrow();
      // serial: tag 0x02, length 16, first content byte 0x01..0x7f
      const serialAt = der.indexOf(Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x10])) + 7;
      expect(der[serialAt]).toBeGreaterThan(0);
      expect(der[serialAt]).toBeLessThan(0x80);
    }
  });

  it("saves (key mode 0600) and loads an identity, and creates one only when missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xtls-id-"));
    const id = createIdentity("juliet@capulet.lit");
    await saveIdentity(id, dir);
    expect((await stat(join(dir, "key.pem"))).mode & 0o777).toBe(0o600);
    const loaded = await loadIdentity(dir);
    expect(loaded.fingerprint).toBe(id.fingerprint);
    expect(loaded.jid).toBe("juliet@capulet.lit");
    const dir2 = await mkdtemp(join(tmpdir(), "xtls-id-"));
    const created = await loadOrCreateIdentity(dir2, "nurse@capulet.lit/kitchen");
    expect((await loadOrCreateIdentity(dir2, "nurse@capulet.lit")).fingerprint).toBe(created.fingerprint);
    await expect(loadOrCreateIdentity(dir2, "tybalt@capulet.lit")).rejects.toThrow(
      "belongs to nurse@capulet.lit",
    );
  });

  it("refuses a key that does not belong to the certificate", async () => {
    const a = createIdentity("a@example.org");
    const b = createIdentity("b@example.org");
    expect(() => identityFromPem(a.certificatePem, b.privateKeyPem)).toThrow("does not belong");
    const dir = await mkdtemp(join(tmpdir(), "xtls-id-"));
    await saveIdentity(a, dir);
    await writeFile(join(dir, "key.pem"), b.privateKeyPem);
    await expect(loadIdentity(dir)).rejects.toThrow("does not belong");
  });

  it("issues certificates signed by another (a user certificate vouching for a device)", () => {
    const user = createCertificate({ jid: "romeo@montague.lit", ca: true });
    const device = createCertificate({ jid: "romeo@montague.lit", issuer: user });
    expect(device.certificate.verify(user.certificate.publicKey)).toBe(true);
    expect(device.certificate.checkIssued(user.certificate)).toBe(true);
    expect(user.certificate.ca).toBe(true);
  });
});

describe("fingerprints", () => {
  const id = createIdentity("romeo@montague.lit");
  it("parses hex with or without colons, any case; picks the algorithm by length or name", () => {
    const colons = formatFingerprint(id.fingerprint);
    expect(colons).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(parseFingerprint(colons)).toEqual({ algo: "sha-256", hex: id.fingerprint });
    const sha1 = fingerprintOf(id.certificateDer, "sha-1");
    expect(parseFingerprint(sha1.toUpperCase(), "sha1")).toEqual({ algo: "sha-1", hex: sha1 });
    expect(certificateMatches(id.certificateDer, sha1)).toBe(true);
    expect(certificateMatches(id.certificateDer, id.fingerprint)).toBe(true);
    expect(certificateMatches(id.certificateDer, "00".repeat(32))).toBe(false);
  });

  it.each([["xyz"], ["abcd"], ["00".repeat(33)]])("rejects %j", (input) => {
    expect(() => parseFingerprint(input)).toThrow("not a certificate fingerprint");
  });

  it("rejects an algorithm/length mismatch and unknown algorithms", () => {
    expect(() => parseFingerprint(id.fingerprint, "sha-1")).toThrow("needs 40 hex digits");
    expect(() => parseFingerprint(id.fingerprint, "md5")).toThrow("unsupported algorithm");
  });

  it("keeps the certificate as written: reading it back gives the same DER", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xtls-id-"));
    await saveIdentity(id, dir);
    const pem = await readFile(join(dir, "cert.pem"), "utf8");
    expect(fingerprintOf(Buffer.from(new X509Certificate(pem).raw))).toBe(id.fingerprint);
  });
});

describe("fingerprintMatches (the handshake's SHA-256 computed once)", () => {
  const romeo = createIdentity("romeo@montague.lit");
  const juliet = createIdentity("juliet@capulet.lit");
  const der = romeo.certificateDer;
  const sha256 = fingerprintOf(der);

  it("agrees with certificateMatches for SHA-256 and SHA-1 pins, in any notation", () => {
    for (const pin of [
      romeo.fingerprint,
      formatFingerprint(romeo.fingerprint),
      fingerprintOf(der, "sha-1"),
      parseFingerprint(fingerprintOf(der, "sha-1")),
      juliet.fingerprint,
      fingerprintOf(juliet.certificateDer, "sha-1"),
      "not a fingerprint",
    ]) {
      expect(fingerprintMatches(der, sha256, pin)).toBe(certificateMatches(der, pin));
    }
  });

  it("a SHA-1 pin is checked against the DER itself, not the SHA-256 it was given", () => {
    expect(fingerprintMatches(der, sha256, fingerprintOf(der, "sha-1"))).toBe(true);
    expect(fingerprintMatches(juliet.certificateDer, sha256, fingerprintOf(der, "sha-1"))).toBe(false);
  });
});
