/**
 * X.509 certificates for XMPP entities: self-signed ECDSA P-256 certificates that name
 * their owner's bare JID as an XmppAddr in subjectAltName (RFC 6120 §13.7.1.4; the
 * draft requires certificates to follow XMPP core's guidelines), and reading the
 * XmppAddrs of a peer's certificate.
 *
 * Built directly from the ASN.1 structures of @peculiar/asn1-x509 and signed with
 * node:crypto. (@peculiar/x509 would need the global `reflect-metadata` polyfill loaded
 * before it, which a library should not impose on its users.)
 */
import {
  createHash,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyUsage,
  KeyUsageFlags,
  Name,
  OtherName,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";
import { bareJid } from "@xtls/core";

/** id-on-xmppAddr (RFC 6120 §13.7.1.4). */
export const OID_XMPP_ADDR = "1.3.6.1.5.5.7.8.5";
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_COMMON_NAME = "2.5.4.3";

export interface CertificateOptions {
  /** The bare JID the certificate names (XmppAddr and CN). */
  jid: string;
  /** Default 3650 days: pinned keys, like ssh host keys, are trusted by key, not by date. */
  validityDays?: number;
  /** Start of validity. Default: one hour ago (slack for peers whose clocks run behind). */
  notBefore?: Date;
  /** End of validity; overrides `validityDays`. */
  notAfter?: Date;
  /** The subject's common name. Default: the bare JID (e.g. a CA's name instead). */
  commonName?: string;
  /** Sign with this issuer instead of self-signing (e.g. a user certificate signing a device). */
  issuer?: { readonly certificate: X509Certificate; readonly privateKey: KeyObject };
  /** Whether the new certificate may sign others (user certificates). */
  ca?: boolean;
  /** Use this key pair instead of generating one. */
  keyPair?: { readonly privateKey: KeyObject; readonly publicKey: KeyObject };
}

export interface CreatedCertificate {
  readonly der: Buffer;
  readonly certificate: X509Certificate;
  readonly privateKey: KeyObject;
}

function der(value: unknown): ArrayBuffer {
  return AsnConvert.serialize(value);
}

function utf8StringDer(s: string): ArrayBuffer {
  const bytes = Buffer.from(s, "utf8");
  if (bytes.length > 0xffff) throw new RangeError("XmppAddr too long");
  const len =
    bytes.length < 0x80
      ? [bytes.length]
      : bytes.length < 0x100
        ? [0x81, bytes.length]
        : [0x82, bytes.length >> 8, bytes.length & 0xff];
  return new Uint8Array(Buffer.concat([Buffer.from([0x0c, ...len]), bytes])).buffer;
}

function readUtf8StringDer(buf: ArrayBuffer): string | undefined {
  const b = Buffer.from(buf);
  if (b[0] !== 0x0c || b.length < 2) return undefined;
  let len = b[1]!;
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n < 1 || n > 2 || b.length < 2 + n) return undefined;
    len = n === 1 ? b[2]! : (b[2]! << 8) | b[3]!;
    off = 2 + n;
  }
  if (off + len !== b.length) return undefined;
  return b.subarray(off).toString("utf8");
}

function commonName(value: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new AttributeValue({ utf8String: value }) }),
    ]),
  ]);
}

function extension(id: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID: id, critical, extnValue: new OctetString(der(value)) });
}

/** Creates an ECDSA P-256 certificate naming `jid` (self-signed unless `issuer` is given). */
export function createCertificate(options: CertificateOptions): CreatedCertificate {
  const jid = bareJid(options.jid);
  const { privateKey, publicKey } = options.keyPair ?? generateKeyPairSync("ec", { namedCurve: "P-256" });
  const now = Date.now();
  const serial = randomBytes(16);
  // DER INTEGER: positive (top bit clear) and minimally encoded (no leading zero byte).
  // A leading 0x00 made about 1 certificate in 128 unparseable by OpenSSL.
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const signature = new AlgorithmIdentifier({ algorithm: OID_ECDSA_SHA256 });
  const subject = commonName(options.commonName ?? jid);
  const issuerName = options.issuer
    ? AsnConvert.parse(options.issuer.certificate.raw, Certificate).tbsCertificate.subject
    : subject;
  const keyUsage = options.ca
    ? KeyUsageFlags.digitalSignature | KeyUsageFlags.keyCertSign
    : KeyUsageFlags.digitalSignature;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature,
    issuer: issuerName,
    subject,
    // One hour of slack for peers whose clocks run behind.
    validity: new Validity({
      notBefore: options.notBefore ?? new Date(now - 3600_000),
      notAfter: options.notAfter ?? new Date(now + (options.validityDays ?? 3650) * 86_400_000),
    }),
    subjectPublicKeyInfo: AsnConvert.parse(
      publicKey.export({ type: "spki", format: "der" }),
      SubjectPublicKeyInfo,
    ),
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: options.ca === true })),
      extension(id_ce_keyUsage, true, new KeyUsage(keyUsage)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth, id_kp_serverAuth])),
      extension(
        id_ce_subjectAltName,
        false,
        new SubjectAlternativeName([
          new GeneralName({ otherName: new OtherName({ typeId: OID_XMPP_ADDR, value: utf8StringDer(jid) }) }),
        ]),
      ),
    ]),
  });
  const signer = options.issuer?.privateKey ?? privateKey;
  const signatureValue = sign("sha256", Buffer.from(der(tbs)), signer);
  const certDer = Buffer.from(
    der(
      new Certificate({
        tbsCertificate: tbs,
        signatureAlgorithm: signature,
        signatureValue: new Uint8Array(signatureValue).buffer,
      }),
    ),
  );
  return { der: certDer, certificate: new X509Certificate(certDer), privateKey };
}

/**
 * The XmppAddr values in a certificate's subjectAltName (RFC 6120 §13.7.1.4), as
 * written. Malformed extensions yield no addresses rather than an exception.
 */
export function xmppAddrsOf(certDer: Uint8Array): string[] {
  // Parsed once per certificate: the same peers come back session after session, and
  // the ASN.1 parse was ~9% of a full setup's CPU in the scale benchmark.
  const key = createHash("sha256").update(certDer).digest("base64");
  const cached = ADDRS_CACHE.get(key);
  if (cached) return [...cached];
  const addrs = parseXmppAddrs(certDer);
  if (ADDRS_CACHE.size >= ADDRS_CACHE_MAX) ADDRS_CACHE.delete(ADDRS_CACHE.keys().next().value as string);
  ADDRS_CACHE.set(key, addrs);
  return [...addrs];
}

const ADDRS_CACHE = new Map<string, readonly string[]>();
const ADDRS_CACHE_MAX = 1024;

function parseXmppAddrs(certDer: Uint8Array): string[] {
  let cert: Certificate;
  try {
    cert = AsnConvert.parse(certDer, Certificate);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const ext of cert.tbsCertificate.extensions ?? []) {
    if (ext.extnID !== id_ce_subjectAltName) continue;
    let names: SubjectAlternativeName;
    try {
      names = AsnConvert.parse(ext.extnValue.buffer, SubjectAlternativeName);
    } catch {
      return [];
    }
    for (const name of names) {
      if (name.otherName?.typeId !== OID_XMPP_ADDR) continue;
      const value = readUtf8StringDer(name.otherName.value);
      if (value !== undefined) out.push(value);
    }
  }
  return out;
}
