/**
 * An XTLS identity: our certificate and private key. Self-signed ECDSA P-256, naming
 * our bare JID as an XmppAddr; the SHA-256 fingerprint is what peers pin.
 */

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { bareJid, XtlsError } from "@xtls/core";
import { createCertificate, xmppAddrsOf } from "./certificate.js";
import { fingerprintOf } from "./fingerprint.js";

export interface Identity {
  /** The bare JID the certificate names. */
  readonly jid: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly certificateDer: Buffer;
  readonly certificate: X509Certificate;
  readonly privateKey: KeyObject;
  /** SHA-256 of the DER certificate, lowercase hex. */
  readonly fingerprint: string;
  /** A certificate that vouches for this one (a user certificate), when configured. */
  readonly issuerCertificatePem?: string;
}

export class IdentityError extends XtlsError {}

export interface CreateIdentityOptions {
  validityDays?: number;
}

function fromParts(certificateDer: Buffer, privateKey: KeyObject, jid?: string): Identity {
  const certificate = new X509Certificate(certificateDer);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new IdentityError("identity-key-mismatch", "the private key does not belong to the certificate");
  }
  const names = xmppAddrsOf(certificateDer);
  const owner = jid ?? names[0];
  if (!owner) throw new IdentityError("identity-no-jid", "the certificate names no XMPP address (XmppAddr)");
  return {
    jid: bareJid(owner),
    certificatePem: certificate.toString(),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    certificateDer,
    certificate,
    privateKey,
    fingerprint: fingerprintOf(certificateDer),
  };
}

/** A new self-signed identity for `jid` (its bare JID goes into the certificate). */
export function createIdentity(jid: string, options: CreateIdentityOptions = {}): Identity {
  const created = createCertificate({ jid, validityDays: options.validityDays });
  return fromParts(created.der, created.privateKey, jid);
}

/** An identity from PEM text (certificate, PKCS#8 or SEC1 key). */
export function identityFromPem(certificatePem: string, privateKeyPem: string): Identity {
  let certificate: X509Certificate;
  let key: KeyObject;
  try {
    certificate = new X509Certificate(certificatePem);
    key = createPrivateKey(privateKeyPem);
  } catch (cause) {
    throw new IdentityError(
      "identity-unreadable",
      `cannot read the certificate or key: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return fromParts(Buffer.from(certificate.raw), key);
}

const CERT_FILE = "cert.pem";
const KEY_FILE = "key.pem";

/**
 * Writes `cert.pem` and `key.pem` (mode 0600) into `dir`, each atomically (write to
 * a temporary file, then rename), so a crash never leaves half a key behind.
 */
export async function saveIdentity(identity: Identity, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const write = async (name: string, text: string, mode: number) => {
    const path = join(dir, name);
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, text, { mode });
    await chmod(tmp, mode);
    await rename(tmp, path);
  };
  await write(KEY_FILE, identity.privateKeyPem, 0o600);
  await write(CERT_FILE, identity.certificatePem, 0o644);
}

/** Reads an identity saved by {@link saveIdentity}. */
export async function loadIdentity(dir: string): Promise<Identity> {
  const [cert, key] = await Promise.all([
    readFile(join(dir, CERT_FILE), "utf8"),
    readFile(join(dir, KEY_FILE), "utf8"),
  ]);
  return identityFromPem(cert, key);
}

/** Loads the identity in `dir`, or creates and saves one for `jid`. */
export async function loadOrCreateIdentity(dir: string, jid: string): Promise<Identity> {
  try {
    const identity = await loadIdentity(dir);
    if (identity.jid !== bareJid(jid)) {
      throw new IdentityError(
        "identity-jid-mismatch",
        `the identity in ${dir} belongs to ${identity.jid}, not ${bareJid(jid)}`,
      );
    }
    return identity;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    const identity = createIdentity(jid);
    await mkdir(dirname(join(dir, CERT_FILE)), { recursive: true });
    await saveIdentity(identity, dir);
    return identity;
  }
}
