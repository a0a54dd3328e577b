/**
 * The TLS of the connection to the XMPP server (STARTTLS, RFC 6120 §5): which certificate
 * authorities the server's certificate may chain to, and what the user hears when it does not.
 *
 * Node verifies the server's certificate (its chain and that it names the domain) against its
 * own roots plus `NODE_EXTRA_CA_CERTS`. `--ca FILE` (or `XTLS_CA`) adds a private CA, e.g. a
 * company's or a test server's. @xmpp/client 0.14 upgrades the socket with only
 * `{ socket, host: domain }` and takes no TLS options, so {@link trustServerCas} hands ours to
 * the one TLS socket of this client's STARTTLS, keyed by the plain socket it upgrades.
 */
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { rootCertificates } from "node:tls";
// @ts-expect-error -- @xmpp/tls ships no type declarations; the shape used is XmppTlsSocket below.
import XmppTlsSocket from "@xmpp/tls/lib/Socket.js";
import { UsageError } from "./account.js";

interface XmppTlsSocketClass {
  prototype: { connect(options: Record<string, unknown>): void };
}

/** The extra trust anchors of each plain socket about to be upgraded. */
const anchors = new WeakMap<object, readonly string[]>();
let installed = false;

/** Wraps @xmpp/tls's socket once: a connect over a socket of ours gets our `ca`. */
function install(): void {
  if (installed) return;
  installed = true;
  const proto = (XmppTlsSocket as XmppTlsSocketClass).prototype;
  const connect = proto.connect;
  proto.connect = function (this: unknown, options: Record<string, unknown>) {
    const ca = options && typeof options === "object" ? anchors.get(options.socket as object) : undefined;
    return connect.call(this, ca ? { ...options, ca } : options);
  };
}

/** The PEM certificates in `text` (a bundle may hold several). */
const pemBlocks = (text: string): string[] =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/**
 * The CA certificates `--ca FILE` names, with Node's roots and `NODE_EXTRA_CA_CERTS` (an
 * explicit `ca` replaces Node's default store, so they are listed again). Undefined without
 * `--ca`: Node's default (which already holds `NODE_EXTRA_CA_CERTS`) applies.
 */
export function serverCas(file: string | undefined, env: NodeJS.ProcessEnv): readonly string[] | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`--ca: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
  const given = pemBlocks(text);
  if (given.length === 0) throw new UsageError(`--ca: ${file} holds no PEM certificate`);
  let extra: string[] = [];
  if (env.NODE_EXTRA_CA_CERTS) {
    try {
      extra = pemBlocks(readFileSync(env.NODE_EXTRA_CA_CERTS, "utf8"));
    } catch {
      // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start-up.
    }
  }
  return [...rootCertificates, ...extra, ...given];
}

interface Emitter {
  on(event: string, listener: (...args: never[]) => void): unknown;
  socket?: unknown;
}

/** Makes the STARTTLS of `client` (an @xmpp/client) trust `cas` (see {@link serverCas}). */
export function trustServerCas(client: Emitter, cas: readonly string[]): void {
  install();
  // "connect": the plain TCP socket is up, before the stream header and its STARTTLS.
  client.on("connect", () => {
    if (client.socket && typeof client.socket === "object") anchors.set(client.socket as Socket, cas);
  });
}

/** OpenSSL's and Node's codes for a server certificate that could not be verified. */
const UNVERIFIED = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Whether `error` says the server's TLS certificate could not be verified. */
export function isUnverifiedCertificate(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && UNVERIFIED.has(code);
}
