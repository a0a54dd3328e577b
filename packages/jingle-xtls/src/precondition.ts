/**
 * The XTLS security precondition for Jingle (draft-meyer-xmpp-e2e-encryption-02 §3,
 * made precise in docs/protocol/mode-j.md): a `SecurityMethod` for @xtls/jingle.
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
import {
  CertificateChangedError,
  type ChannelAuth,
  type Fingerprint,
  fingerprintMatches,
  hasVerificationRecords,
  MethodDowngradeError,
  type SasAuth,
  type SecureChannel,
  type SrpAuth,
  type TlsEngine,
  tryParseFingerprint,
} from "@xtls/tls";
import {
  parseSecurity,
  securityElement,
  type XtlsMethod,
  type XtlsSecurityInfo,
} from "./security-element.js";

/** The draft's own disco feature (§7); we emit `…:xtls:0` and accept this one. */
export const NS_XTLS_JINGLE_DRAFT = "urn:xmpp:jingle:security:xtls:1";

export interface XtlsSecurityOptions {
  /** Our identity, the trust store, session tickets, attempt limits. */
  readonly engine: TlsEngine;
  readonly handshakeTimeoutMs?: number;
  /**
   * Consulted when a peer announces a certificate we have not pinned: may establish trust
   * another way and pin it (e.g. `pepResolver` of @xtls/pubkey: a device certificate signed
   * by the person's verified user certificate). Resolve true when the store now trusts it.
   * The TLS handshake still checks the certificate actually presented.
   */
  readonly resolve?: (peer: string, fingerprint: Fingerprint) => Promise<boolean>;
  /**
   * Enables the `srp` method for first contact: a one-time password agreed out of band,
   * asked when a session with an unverified peer needs it (never logged). Answer
   * `null` to refuse. On success both sides pin each other as verified.
   */
  readonly askPassword?: SrpAuth["askPassword"];
  /** Attempt limits, pairing gate etc. of the `srp` method (see @xtls/tls `SrpAuth`). */
  readonly srp?: Omit<SrpAuth, "method" | "askPassword" | "advertised">;
  /**
   * Enables the `sas` method: both users compare a short code (6 digits, emoji) and
   * confirm. On success both sides pin each other as verified.
   */
  readonly confirmSas?: SasAuth["confirmSas"];
  /** How long the responder waits for the initiator's security-info. Default 10 s. */
  readonly choiceTimeoutMs?: number;
  /**
   * A fingerprint (SHA-256, hex, colons allowed) the user compared out of band and
   * accepts as the new certificate of a pinned peer whose certificate changed. When a
   * pinned peer announces exactly this one, it replaces the old pins (method `manual`)
   * and x509 verifies it in TLS; any other new certificate still raises the alarm
   * ({@link CertificateChangedError}).
   */
  readonly acceptNewKey?: string;
  /**
   * The user holds a one-time password for this session: a first contact must be `srp`.
   * When the peer's offer or answer lacks it (stripped on the way), the session fails
   * with {@link MethodDowngradeError} instead of falling back to `sas`. (Independently,
   * a peer first verified by `srp` — the trust store remembers — is never moved to `sas`.)
   */
  readonly passwordInHand?: boolean;
}

/** The secure channel of an established session (a SecuredStream with TLS details). */
export type XtlsChannel = SecureChannel & SecuredStream;

function securityError(text: string, cause?: unknown): JingleReasonError {
  return new JingleReasonError("security-error", text, { cause });
}

/** Bootstrap methods in our order of preference (a password beats comparing codes). */
const BOOTSTRAP: readonly XtlsMethod[] = ["srp", "sas"];

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

  /** The methods we can run: x509 always, srp and sas when their callbacks are set. */
  get methods(): XtlsMethod[] {
    return [
      "x509",
      ...(this.#options.askPassword ? (["srp"] as const) : []),
      ...(this.#options.confirmSas ? (["sas"] as const) : []),
    ];
  }

  offer(ctx: ContentContext): SecurityHandle {
    let peerFingerprint: Fingerprint | undefined;
    let chosen: XtlsMethod = "x509";
    let infoSent: Promise<void> = Promise.resolve();
    const ours = this.methods;
    return {
      element: () => securityElement({ fingerprint: this.fingerprint, methods: ours }),
      accepted: async (answer) => {
        const theirs = parseSecurity(answer);
        const common = ours.filter((m) => theirs.methods.includes(m));
        // The responder announced no certificate (it cannot verify ours): the user's
        // acceptNewKey, if any, is for the peer we chose to contact.
        if (!theirs.fingerprint) await this.#acceptNewKey(ctx.peer, undefined);
        // Initiator rule 2: certificates when the responder answered with x509 (it can
        // verify ours) and we can verify it — by its announced fingerprint, or, when it
        // announced none (the fingerprint is only a hint), by the pin TLS will check the
        // presented certificate against; otherwise a bootstrap both support.
        if (
          common.includes("x509") &&
          (theirs.fingerprint
            ? await this.#verifiableOrAlarm(ctx.peer, theirs.fingerprint)
            : await this.#verifiable(ctx.peer, undefined))
        ) {
          chosen = "x509";
        } else {
          const required = await this.#requiredBootstrap(ctx.peer);
          if (required && !common.includes("srp")) {
            const downgrade = new MethodDowngradeError(ctx.peer, "srp", theirs.methods, required);
            throw securityError(downgrade.message, downgrade);
          }
          const bootstrap = BOOTSTRAP.find((m) => common.includes(m));
          if (!bootstrap) {
            throw securityError(
              theirs.fingerprint
                ? `the certificate ${ctx.peer} announced (${theirs.fingerprint.hex}) is not one we trust, and no password or code comparison is possible; verify it out of band before pinning it`
                : `${ctx.peer} cannot verify our certificate (it answered without a fingerprint) and no other method is available (it offers ${theirs.methods.join(", ") || "none"})`,
            );
          }
          chosen = bootstrap;
        }
        peerFingerprint = theirs.fingerprint;
        // The initiator's choice, sent ahead of the transport's first move (stanzas keep
        // their order, so it arrives before the ClientHello). Its ack is not waited for
        // here — that would cost a round trip before the transport opens — but before the
        // channel is handed out: a refused choice still ends the session (security-error)
        // before any application byte.
        infoSent = ctx.sendInfo("security-info", securityElement({ methods: [chosen] }));
        infoSent.catch(() => {});
      },
      secure: async (stream) => {
        const channel = await this.#secure(ctx, stream, chosen, peerFingerprint);
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
    const peerFingerprint = theirs.fingerprint;
    // Responder rules 3–5: answer with our fingerprint (and x509) only if we can verify
    // theirs; otherwise offer only a bootstrap both sides support, without a fingerprint
    // (so the initiator cannot choose x509); with neither, end the session here — a leap
    // of faith is never taken implicitly.
    // The offer's fingerprint is only a hint (draft-meyer-xmpp-e2e-encryption-02 §3): when
    // it is absent, a peer we pinned (or the engine's CA/TOFU policy) is still verifiable —
    // TLS checks the certificate presented against the pin. A hint that contradicts the
    // pin is the key-change alarm.
    const canVerify =
      theirs.methods.includes("x509") &&
      (peerFingerprint !== undefined
        ? await this.#verifiableOrAlarm(ctx.peer, peerFingerprint)
        : await this.#verifiable(ctx.peer, undefined));
    let bootstraps = BOOTSTRAP.filter((m) => theirs.methods.includes(m) && this.methods.includes(m));
    // An offer without a fingerprint from a peer whose key is pinned: no password or code
    // is offered for it either (TLS would raise the key-change alarm anyway; this way not
    // even the offer goes out).
    if (peerFingerprint === undefined && (await this.#pinnedKeys(ctx.peer)).length > 0) bootstraps = [];
    // Method policy: with a password in hand, or for a peer first verified by srp, a
    // first contact is srp or nothing — never a silent fall-back to comparing codes.
    // Threat: a server stripping srp from the offer so that a hurried user confirms a code.
    const required = canVerify ? undefined : await this.#requiredBootstrap(ctx.peer);
    if (required) {
      if (!bootstraps.includes("srp")) {
        const downgrade = new MethodDowngradeError(ctx.peer, "srp", theirs.methods, required);
        throw securityError(downgrade.message, downgrade);
      }
      bootstraps = ["srp"];
    }
    if (!canVerify && bootstraps.length === 0) {
      throw securityError(
        peerFingerprint
          ? `we cannot verify ${ctx.peer}'s certificate (${peerFingerprint.hex}): it is not pinned and no password was agreed`
          : `${ctx.peer} offered no certificate we could verify`,
      );
    }
    const answered: XtlsMethod[] = canVerify ? ["x509", ...bootstraps] : bootstraps;
    let refused: JingleReasonError | undefined;
    let resolveChoice!: (m: XtlsMethod) => void;
    const choice = new Promise<XtlsMethod>((resolve) => {
      resolveChoice = resolve;
    });
    return {
      element: () =>
        securityElement(
          canVerify ? { fingerprint: this.fingerprint, methods: answered } : { methods: answered },
        ),
      info: (payload) => {
        const picked = parseSecurity(payload).methods[0];
        if (!picked || !answered.includes(picked)) {
          // Remembered, so the session fails here too even if TLS completes meanwhile.
          refused = securityError(
            `${ctx.peer} chose the method '${picked ?? "none"}', which we did not offer`,
          );
          resolveChoice("x509");
          throw new StanzaError("not-acceptable", { text: refused.message });
        }
        resolveChoice(picked);
      },
      secure: async (stream) => {
        // The choice travels before the transport's first bytes; wait for it when more
        // than one method was possible.
        const method =
          answered.length === 1
            ? answered[0]!
            : await withTimeout(choice, this.#options.choiceTimeoutMs ?? 10_000, () =>
                securityError(`${ctx.peer} never said which method it chose (no security-info)`),
              );
        if (refused) throw refused;
        const channel = await this.#secure(ctx, stream, method, peerFingerprint);
        if (refused) {
          channel.destroy();
          throw refused;
        }
        return channel;
      },
    };
  }

  /**
   * {@link #verifiable}, or the key-change alarm: a peer with pinned certificates that
   * announces another one (and no resolver vouches for it) ends the session here with
   * {@link CertificateChangedError} as the cause — no srp or sas is offered or chosen for
   * it. Threat: a man in the middle with his own certificate for a JID we verified,
   * hoping for a first contact (a password prompt: one more guess, or a reused password).
   * The user re-verifies deliberately (forget the pins, or `acceptNewKey`).
   */
  async #verifiableOrAlarm(peer: string, fingerprint: Fingerprint): Promise<boolean> {
    if (await this.#verifiable(peer, fingerprint)) return true;
    const store = this.#options.engine.trustStore;
    if (!store || fingerprint.algo !== "sha-256") return false;
    const pinned = (await store.entries(peer)).filter((e) => e.state !== "revoked");
    if (pinned.length === 0 || pinned.some((e) => e.fingerprint === fingerprint.hex)) return false;
    if (await this.#acceptNewKey(peer, fingerprint.hex)) return true;
    const changed = new CertificateChangedError(
      peer,
      fingerprint.hex,
      pinned.map((e) => e.fingerprint),
    );
    throw securityError(changed.message, changed);
  }

  /** The peer's pinned, not revoked, certificates. */
  async #pinnedKeys(peer: string): Promise<readonly string[]> {
    const store = this.#options.engine.trustStore;
    if (!store) return [];
    return (await store.entries(peer)).filter((e) => e.state !== "revoked").map((e) => e.fingerprint);
  }

  /** Why a first contact with `peer` must be srp, if it must. */
  async #requiredBootstrap(peer: string): Promise<"password-in-hand" | "first-verified-by-srp" | undefined> {
    if (this.#options.passwordInHand) return "password-in-hand";
    const store = this.#options.engine.trustStore;
    if (hasVerificationRecords(store) && (await store.firstVerification(peer))?.method === "srp") {
      return "first-verified-by-srp";
    }
    return undefined;
  }

  /**
   * The user's `acceptNewKey`, for a pinned peer: when it is `hex` (or `hex` is not
   * known: the peer announced nothing), it replaces the old pins (method `manual`). The
   * TLS handshake still checks that the certificate presented is that one.
   */
  async #acceptNewKey(peer: string, hex: string | undefined): Promise<boolean> {
    const given = this.#options.acceptNewKey;
    const accepted = given ? tryParseFingerprint(given, "sha-256") : undefined;
    const store = this.#options.engine.trustStore;
    if (!accepted || !store || (hex !== undefined && hex !== accepted.hex)) return false;
    const pinned = (await store.entries(peer)).filter((e) => e.state !== "revoked");
    if (pinned.length === 0 || pinned.some((e) => e.fingerprint === accepted.hex)) return false;
    await store.pin(peer, accepted.hex, { method: "manual", note: "accepted as a new key" });
    for (const old of pinned) await store.forget(peer, old.fingerprint);
    return true;
  }

  // Whether x509 can be expected to verify the peer: its announced certificate is pinned
  // (never a revoked one), or the engine's policy (CA anchors, TOFU) will take it, or the
  // resolver establishes trust another way. Only a forecast: TLS checks for real.
  // With no fingerprint announced: whether the peer has a pin (or the policy takes any
  // certificate) — the handshake then checks the certificate for real.
  async #verifiable(peer: string, fingerprint: Fingerprint | undefined): Promise<boolean> {
    const engine = this.#options.engine;
    if (engine.assessPeer) {
      const assessment = await engine.assessPeer(peer, fingerprint);
      if (assessment === "trusted" || assessment === "ca" || assessment === "tofu") return true;
      if (assessment === "revoked") return false;
      // "changed" (another certificate than the pinned ones) may still be a device that a
      // verified user certificate vouches for: the resolver decides; if it does not, the
      // caller raises the key-change alarm.
    } else if (
      fingerprint ? await this.#pinned(peer, fingerprint) : (await this.#pinnedKeys(peer)).length > 0
    ) {
      return true;
    }
    if (!fingerprint) return false;
    return (await this.#options.resolve?.(peer, fingerprint).catch(() => false)) ?? false;
  }

  // For engines without assessPeer: a SHA-256 fingerprint is looked up in the trust store;
  // a SHA-1 one (the draft's own example) only says a pinned certificate exists.
  async #pinned(peer: string, fingerprint: Fingerprint): Promise<boolean> {
    const store = this.#options.engine.trustStore;
    if (!store) return false;
    const entries = await store.entries(peer);
    if (fingerprint.algo !== "sha-256") return entries.some((e) => e.state !== "revoked");
    if (entries.some((e) => e.state === "revoked" && e.fingerprint === fingerprint.hex)) return false;
    return entries.some((e) => e.state !== "revoked" && e.fingerprint === fingerprint.hex);
  }

  async #secure(
    ctx: ContentContext,
    stream: Duplex,
    method: XtlsMethod,
    advertised: Fingerprint | undefined,
  ): Promise<XtlsChannel> {
    const hint = advertised?.hex;
    const auth: ChannelAuth =
      method === "srp"
        ? { ...this.#options.srp, method: "srp", askPassword: this.#options.askPassword!, advertised: hint }
        : method === "sas"
          ? { method: "sas", confirmSas: this.#options.confirmSas!, advertised: hint }
          : { method: "x509", advertised: hint };
    try {
      const channel = await this.#options.engine.secure(stream, {
        role: ctx.role,
        localJid: ctx.local,
        peerJid: ctx.peer,
        auth,
        signal: ctx.signal,
        handshakeTimeoutMs: this.#options.handshakeTimeoutMs,
      });
      if (
        advertised &&
        !fingerprintMatches(channel.peer.certificateDer, channel.peer.fingerprint, advertised)
      ) {
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

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref?.();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * Whether a peer's disco#info features say it can take a Jingle session with the XTLS
 * precondition. We advertise `…:xtls:0` and also read the draft's `…:xtls:1` (§7). The
 * draft's own disco example lists no `urn:xmpp:jingle:1`, so Jingle support is implied.
 */
export function supportsXtls(features: readonly string[]): boolean {
  return features.includes(NS.XTLS_JINGLE) || features.includes(NS_XTLS_JINGLE_DRAFT);
}
