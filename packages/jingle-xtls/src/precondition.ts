/**
 * The XTLS security precondition for Jingle (draft-meyer-xmpp-e2e-encryption-02 §3,
 * made precise in PROTOCOLS.md §14.2): a `SecurityMethod` for @xtls/jingle.
 *
 * - session-initiate carries our fingerprint and methods;
 * - the responder (rules 1–5) answers with its own fingerprint only when it can verify
 *   ours; when it cannot (and no other method is possible) it ends the session with
 *   `security-error` rather than continuing on a leap of faith;
 * - the initiator (rules 1–2) refuses to go on when it cannot verify the responder, and
 *   tells its choice with security-info;
 * - TLS 1.3 then runs as the first bytes of the transport, initiator = TLS client, and
 *   the transport is reported open only once both peers are verified: the fingerprint
 *   advertised in the cleartext negotiation is only a hint, the certificate presented in
 *   TLS must match it *and* a trusted one. Any failure: session-terminate `security-error`.
 *
 * Threat: a man in the middle relays the signalling and answers each side with its own
 * certificates. It cannot present a certificate pinned for the peer, so TLS
 * verification fails on both sides and no application byte reaches it.
 */
import type { Duplex } from "node:stream";
import { NS, StanzaError } from "@xtls/core";
import {
  type ContentContext,
  JingleReasonError,
  type SecuredStream,
  type SecurityHandle,
  type SecurityMethod,
} from "@xtls/jingle";
import { certificateMatches, type Fingerprint, type SecureChannel, type TlsEngine } from "@xtls/tls";
import {
  parseSecurity,
  securityElement,
  type XtlsMethod,
  type XtlsSecurityInfo,
} from "./security-element.js";

/** The draft's own disco feature (§7); we emit `…:xtls:0` and accept this one. */
export const NS_XTLS_JINGLE_DRAFT = "urn:xmpp:jingle:security:xtls:1";

export interface XtlsSecurityOptions {
  /** Our identity, the trust store, session tickets. */
  readonly engine: TlsEngine;
  readonly handshakeTimeoutMs?: number;
  /**
   * Consulted when a peer announces a certificate we have not pinned: may establish trust
   * another way and pin it (e.g. `pepResolver` of @xtls/pubkey: a device certificate signed
   * by the person's verified user certificate). Resolve true when the store now trusts it.
   * The TLS handshake still checks the certificate actually presented.
   */
  readonly resolve?: (peer: string, fingerprint: Fingerprint) => Promise<boolean>;
}

/** The secure channel of an established session (a SecuredStream with TLS details). */
export type XtlsChannel = SecureChannel & SecuredStream;

function securityError(text: string, cause?: unknown): JingleReasonError {
  return new JingleReasonError("security-error", text, { cause });
}

export class XtlsSecurity implements SecurityMethod {
  readonly namespaces = [NS.XTLS_JINGLE, NS_XTLS_JINGLE_DRAFT] as const;
  readonly #options: XtlsSecurityOptions;

  constructor(options: XtlsSecurityOptions) {
    this.#options = options;
  }

  /** Our fingerprint, as offered. */
  get fingerprint(): Fingerprint {
    return { algo: "sha-256", hex: this.#options.engine.identity.fingerprint };
  }

  offer(ctx: ContentContext): SecurityHandle {
    let peerFingerprint: Fingerprint | undefined;
    let infoSent: Promise<void> = Promise.resolve();
    const methods: XtlsMethod[] = ["x509"];
    return {
      element: () => securityElement({ fingerprint: this.fingerprint, methods }),
      accepted: async (answer) => {
        const theirs = parseSecurity(answer);
        // Initiator rule 2 (and responder rule 4 seen from here): without the
        // responder's fingerprint, certificate authentication is impossible.
        if (!theirs.fingerprint) {
          throw securityError(
            `${ctx.peer} cannot verify our certificate (it answered without a fingerprint) and no other method is available`,
          );
        }
        if (!theirs.methods.includes("x509")) {
          throw securityError(
            `${ctx.peer} offers no method we can use (${theirs.methods.join(", ") || "none"})`,
          );
        }
        if (!(await this.#trusted(ctx.peer, theirs.fingerprint))) {
          throw securityError(
            `the certificate ${ctx.peer} announced (${theirs.fingerprint.hex}) is not one we trust; verify it out of band before pinning it`,
          );
        }
        peerFingerprint = theirs.fingerprint;
        // The initiator's choice, sent ahead of the transport's first move (stanzas keep
        // their order, so it arrives before the ClientHello). Its ack is not waited for
        // here — that would cost a round trip before the transport opens — but before the
        // channel is handed out: a refused choice still ends the session (security-error)
        // before any application byte.
        infoSent = ctx.sendInfo("security-info", securityElement({ methods: ["x509"] }));
        infoSent.catch(() => {});
      },
      secure: async (stream) => {
        const channel = await this.#secure(ctx, stream, peerFingerprint);
        try {
          await infoSent;
        } catch (error) {
          channel.destroy();
          throw securityError(`${ctx.peer} refused our choice of method: ${(error as Error).message}`, error);
        }
        return channel;
      },
    };
  }

  async accept(ctx: ContentContext, offer: Parameters<SecurityMethod["accept"]>[1]): Promise<SecurityHandle> {
    const theirs: XtlsSecurityInfo = parseSecurity(offer);
    // Responder rules 3–5: answer with our fingerprint only if we can verify theirs. We
    // have no password method yet, so an unverifiable initiator ends the session here
    // (rule 5 allows it; a leap of faith is never taken implicitly).
    if (!theirs.fingerprint || !theirs.methods.includes("x509")) {
      throw securityError(`${ctx.peer} offered no certificate we could verify`);
    }
    if (!(await this.#trusted(ctx.peer, theirs.fingerprint))) {
      throw securityError(
        `we cannot verify ${ctx.peer}'s certificate (${theirs.fingerprint.hex}): it is not pinned and no password was agreed`,
      );
    }
    const peerFingerprint = theirs.fingerprint;
    let chosen: XtlsMethod = "x509";
    let refused: JingleReasonError | undefined;
    return {
      element: () => securityElement({ fingerprint: this.fingerprint, methods: ["x509"] }),
      info: (payload) => {
        const choice = parseSecurity(payload).methods[0];
        if (choice && choice !== "x509") {
          // Remembered, so the session fails here too even if TLS completes meanwhile.
          refused = securityError(`${ctx.peer} chose the method '${choice}', which we did not offer`);
          throw new StanzaError("not-acceptable", { text: refused.message });
        }
        chosen = choice ?? chosen;
      },
      secure: async (stream) => {
        const channel = await this.#secure(ctx, stream, peerFingerprint);
        if (refused) {
          channel.destroy();
          throw refused;
        }
        return channel;
      },
    };
  }

  // Whether we can verify the certificate the peer announced: a SHA-256 fingerprint is
  // looked up in the trust store (never a revoked one). The store keeps SHA-256 only, so
  // a SHA-1 fingerprint (the draft's own example) cannot be looked up; it is accepted
  // as "verifiable" when we have a certificate pinned for the peer at all. That is not
  // a weaker check: the announcement is only a hint either way, and the certificate
  // presented in TLS must match it *and* a pinned SHA-256 fingerprint (#secure).
  async #trusted(peer: string, fingerprint: Fingerprint): Promise<boolean> {
    const store = this.#options.engine.trustStore;
    if (!store) return false;
    const entries = await store.entries(peer);
    if (fingerprint.algo !== "sha-256") return entries.some((e) => e.state !== "revoked");
    if (entries.some((e) => e.state === "revoked" && e.fingerprint === fingerprint.hex)) return false;
    if (entries.some((e) => e.state !== "revoked" && e.fingerprint === fingerprint.hex)) return true;
    return (await this.#options.resolve?.(peer, fingerprint).catch(() => false)) ?? false;
  }

  async #secure(
    ctx: ContentContext,
    stream: Duplex,
    advertised: Fingerprint | undefined,
  ): Promise<XtlsChannel> {
    try {
      const channel = await this.#options.engine.secure(stream, {
        role: ctx.role,
        localJid: ctx.local,
        peerJid: ctx.peer,
        auth: { method: "x509", advertised: advertised?.hex },
        signal: ctx.signal,
        handshakeTimeoutMs: this.#options.handshakeTimeoutMs,
      });
      if (advertised && !certificateMatches(channel.peer.certificateDer, advertised)) {
        channel.destroy();
        throw securityError("the peer's certificate is not the one it announced");
      }
      return channel as XtlsChannel;
    } catch (error) {
      if (error instanceof JingleReasonError) throw error;
      throw securityError((error as Error).message, error);
    }
  }
}

/**
 * Whether a peer's disco#info features say it can take a Jingle session with the XTLS
 * precondition. We advertise `…:xtls:0` and also read the draft's `…:xtls:1` (§7). The
 * draft's own disco example lists no `urn:xmpp:jingle:1`, so Jingle support is implied.
 */
export function supportsXtls(features: readonly string[]): boolean {
  return features.includes(NS.XTLS_JINGLE) || features.includes(NS_XTLS_JINGLE_DRAFT);
}
