/**
 * The XTLS `<security/>` element of draft-meyer-xmpp-e2e-encryption-02 §3 (schema
 * "in a later version", so made precise in docs/protocol/mode-j.md#the-security-element):
 *
 *   <security xmlns='urn:xmpp:jingle:security:xtls:0'>
 *     <fingerprint algo='sha-256'>HEX</fingerprint>   0..1: the certificate I will present
 *     <method name='x509'/>                           0..n: methods I support / can use now
 *   </security>
 *
 * In security-info it carries the initiator's choice: one method, no fingerprint.
 * We emit `algo='sha-256'` and lowercase hex; we accept `sha1`/`sha-1`/`sha-256`, hex
 * with or without colons, any case. Unknown methods are ignored.
 */
import { type Element, NS, xml } from "@xtls/core";
import { type Fingerprint, tryParseFingerprint } from "@xtls/tls";

export type XtlsMethod = "x509" | "srp" | "sas" | "openpgp";
// `sas` is ours (a short authentication string); peers that do not know it ignore it.
const METHODS = new Set<string>(["x509", "srp", "sas", "openpgp"]);

export interface XtlsSecurityInfo {
  /** Absent when the sender cannot (or will not) do certificate authentication. */
  readonly fingerprint?: Fingerprint;
  readonly methods: readonly XtlsMethod[];
}

export function securityElement(info: XtlsSecurityInfo): Element {
  return xml(
    "security",
    { xmlns: NS.XTLS_JINGLE },
    info.fingerprint ? xml("fingerprint", { algo: info.fingerprint.algo }, info.fingerprint.hex) : null,
    ...info.methods.map((name) => xml("method", { name })),
  );
}

/** Reads a `<security/>` (either namespace version); a malformed fingerprint is dropped. */
export function parseSecurity(el: Element): XtlsSecurityInfo {
  const fpEl = el.getChild("fingerprint");
  const fingerprint = fpEl ? tryParseFingerprint(fpEl.text(), fpEl.attrs.algo) : undefined;
  const methods = el
    .getChildren("method")
    .map((m) => m.attrs.name)
    .filter((n): n is XtlsMethod => n !== undefined && METHODS.has(n));
  return { fingerprint, methods };
}
