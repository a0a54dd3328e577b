/**
 * The `srp` method (docs/protocol/tls.md#the-srp-method): TLS 1.3 with not-yet-trusted certificates, then SRP-6a
 * (RFC 5054 3072-bit group, g = 5, SHA-256) inside the tunnel, before any application
 * byte. The initiator is the SRP client, the responder the SRP server; the responder
 * makes a fresh salt and verifier from the one-time password for every attempt. The
 * SRP identity is bound to the session ({@link srpIdentity}), so a relaying man in the
 * middle fails on both sides. Message exchange: README, "In-tunnel authentication".
 *
 * The group arithmetic (A, B, S) is in ./srp-group.ts, with OpenSSL's constant-time
 * modexp. The proofs M1 and M2 are compared with `timingSafeEqual`. Threat: a timing
 * oracle on the proof comparison would let an attacker learn how much of a forged
 * proof matches; a constant-time comparison gives it nothing.
 */
import { createDiffieHellmanGroup, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { bareJid } from "@xtls/core";
import type { Attempt, AttemptLimiter } from "./attempt-limiter.js";
import { AUTH_PROTOCOL_VERSION, type AuthWire, MessageType } from "./auth-wire.js";
import {
  AuthenticationCancelledError,
  PairingDisabledError,
  PeerAuthenticationError,
  SrpAuthenticationError,
} from "./errors.js";
import type { ChannelRole } from "./secure-channel.js";
import { bindingDigest, type SessionBinding } from "./session-binding.js";
import { SrpClientSession, SrpGroup, SrpServerSession, srpVerifier, toBigInt } from "./srp-group.js";
import type { TrustStore } from "./trust-store.js";

/** TLS exporter label for the SRP session binding. */
export const SRP_EXPORTER_LABEL = "EXPORTER-XTLS-SRP";
/** Domain-separation label of the binding digest inside the SRP identity. */
export const SRP_BINDING_LABEL = "XTLS-SRP-1";
/**
 * RFC 5054 Appendix A, 3072-bit group, g = 5; hash SHA-256. Its prime is RFC 3526's
 * group 15 ("modp15"), which Node carries (the tests compare it with RFC 5054's).
 */
export const SRP_GROUP = new SrpGroup(toBigInt(createDiffieHellmanGroup("modp15").getPrime()), 5n, "sha256");
export const SRP_GROUP_OCTETS = 384;
export const SRP_SALT_OCTETS = 32;
export const SRP_PROOF_OCTETS = 32;
/** Default time for the whole in-tunnel phase, prompts included (people type passwords). */
export const DEFAULT_AUTH_TIMEOUT_MS = 120_000;

/** What a password prompt is told. */
export interface PasswordRequest {
  /** The peer's full JID. */
  readonly peer: string;
  readonly bareJid: string;
  /** Our role: the initiator is the SRP client. */
  readonly role: ChannelRole;
  /** The fingerprint of the (not yet trusted) certificate the peer presented. */
  readonly fingerprint: string;
  /** Aborted when the attempt ends without us (peer gave up, timeout, abort). */
  readonly signal: AbortSignal;
}

export interface SrpAuth {
  readonly method: "srp";
  /**
   * The one-time password agreed out of band (a PIN, a code the device shows, a
   * printed code). `null`/`undefined`/"" means "no password": the attempt is cancelled
   * on both sides. The password is never logged, stored or put in an error.
   */
  askPassword(request: PasswordRequest): Promise<string | null | undefined> | string | null | undefined;
  /** Attempt limits per peer; default: the engine's limiter. */
  readonly limiter?: AttemptLimiter;
  /**
   * Consulted before an attempt starts (draft §5.2: a device with a printed password
   * pairs only after a button press). `false`: refused with PairingDisabledError.
   */
  readonly pairingEnabled?: () => boolean | Promise<boolean>;
  /** Where the peer is pinned on success; default: the engine's trust store. */
  readonly trustStore?: TrustStore;
  /** The fingerprint the peer advertised in signalling: a hint, checked. */
  readonly advertised?: string;
  /** Overrides the engine's `authTimeoutMs` for this session. */
  readonly timeoutMs?: number;
}

/** SHA-256(H(N) xor H(g) | H(I) | s | A | B | K) (RFC 2945 §3, SRP-6a). */
export function srpClientProof(I: Buffer, salt: Buffer, A: Buffer, B: Buffer, K: Buffer): Buffer {
  const hN = createHash("sha256").update(groupN()).digest();
  const hg = createHash("sha256")
    .update(Buffer.from([5]))
    .digest();
  for (let i = 0; i < hN.length; i++) hN[i] = hN[i]! ^ hg[i]!;
  return createHash("sha256")
    .update(hN)
    .update(createHash("sha256").update(I).digest())
    .update(salt)
    .update(A)
    .update(B)
    .update(K)
    .digest();
}

/** SHA-256(A | M1 | K). */
export function srpServerProof(A: Buffer, M1: Buffer, K: Buffer): Buffer {
  return createHash("sha256").update(A).update(M1).update(K).digest();
}

let nOctets: Buffer | undefined;
function groupN(): Buffer {
  nOctets ??= SRP_GROUP.pad(SRP_GROUP.N);
  return nOctets;
}

/**
 * The SRP identity I: the initiator's bare JID (XEP-0250 §2.3's user name)
 * joined by "#" to the hex binding digest of this session. It is never sent: each side
 * computes it, and a relay's two sessions give two different identities.
 */
export function srpIdentity(binding: SessionBinding): Buffer {
  return Buffer.from(
    `${bareJid(binding.initiatorJid)}#${bindingDigest(SRP_BINDING_LABEL, binding).toString("hex")}`,
    "utf8",
  );
}

/** P: the password as UTF-8, NFC-normalised, without leading or trailing white space. */
export function srpPasswordOctets(password: string): Buffer {
  return Buffer.from(password.normalize("NFC").trim(), "utf8");
}

// 256-bit secret exponents with the top bit set (RFC 5054 §2.5.4 asks for at least 256
// random bits).
function secretExponent(): Buffer {
  const e = randomBytes(32);
  e[0] = e[0]! | 0x80;
  return e;
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The in-tunnel context the engine gives a method runner. */
export interface InTunnelContext {
  readonly wire: AuthWire;
  readonly role: ChannelRole;
  readonly peerJid: string;
  readonly peerFingerprint: string;
  readonly binding: SessionBinding;
  readonly signal: AbortSignal;
}

async function ask(auth: SrpAuth, ctx: InTunnelContext): Promise<Buffer> {
  const password = await auth.askPassword({
    peer: ctx.peerJid,
    bareJid: bareJid(ctx.peerJid),
    role: ctx.role,
    fingerprint: ctx.peerFingerprint,
    signal: ctx.signal,
  });
  const octets = typeof password === "string" ? srpPasswordOctets(password) : Buffer.alloc(0);
  if (octets.length === 0) {
    throw new AuthenticationCancelledError("srp", ctx.peerJid, "local", "no password was given");
  }
  return octets;
}

async function checkPairing(auth: SrpAuth, ctx: InTunnelContext): Promise<void> {
  if (auth.pairingEnabled && !(await auth.pairingEnabled())) {
    throw new PairingDisabledError(ctx.peerJid, "local");
  }
}

/**
 * Runs the SRP exchange for our role; resolves when the peer proved knowledge of the
 * same password over this very session, throws a {@link PeerAuthenticationError} (or
 * a channel error) otherwise. The caller sends the ABORT for local failures.
 */
export async function runSrp(auth: SrpAuth, limiter: AttemptLimiter, ctx: InTunnelContext): Promise<void> {
  const I = srpIdentity(ctx.binding);
  if (ctx.role === "initiator") await runClient(auth, limiter, ctx, I);
  else await runServer(auth, limiter, ctx, I);
}

async function runClient(auth: SrpAuth, limiter: AttemptLimiter, ctx: InTunnelContext, I: Buffer) {
  const { wire } = ctx;
  const attempt = await limiter.acquire(ctx.peerJid);
  let proofSent = false;
  try {
    await checkPairing(auth, ctx);
    await wire.send(MessageType.SRP_HELLO, Buffer.from([AUTH_PROTOCOL_VERSION]));
    // Ask while the server prepares its parameters; either may finish first.
    const password = ask(auth, ctx);
    password.catch(() => {});
    const params = await wire.receive(MessageType.SRP_SERVER_PARAMS, SRP_SALT_OCTETS + SRP_GROUP_OCTETS);
    const salt = params.subarray(0, SRP_SALT_OCTETS);
    const B = params.subarray(SRP_SALT_OCTETS);
    const P = await password;
    const client = new SrpClientSession(SRP_GROUP, secretExponent());
    let S: Buffer;
    try {
      S = client.premaster(salt, I, P, B); // rejects B ≡ 0 (mod N), RFC 5054 §2.5.4
    } catch {
      throw wire.protocolError("the server's public value B is invalid");
    } finally {
      P.fill(0);
    }
    const A = client.A;
    const K = createHash("sha256").update(S).digest();
    const M1 = srpClientProof(I, salt, A, B, K);
    await wire.send(MessageType.SRP_CLIENT_PROOF, Buffer.concat([A, M1]));
    proofSent = true;
    const M2 = await wire.receive(MessageType.SRP_SERVER_PROOF, SRP_PROOF_OCTETS);
    if (!constantTimeEqual(M2, srpServerProof(A, M1, K)))
      throw new SrpAuthenticationError(ctx.peerJid, "local");
    await attempt.succeeded();
  } catch (error) {
    settleFailure(attempt, proofSent, error);
    throw error;
  }
}

async function runServer(auth: SrpAuth, limiter: AttemptLimiter, ctx: InTunnelContext, I: Buffer) {
  const { wire } = ctx;
  const hello = await wire.receive(MessageType.SRP_HELLO);
  if (hello[0] !== AUTH_PROTOCOL_VERSION) {
    throw wire.protocolError(`unsupported version ${hello[0]} of the SRP messages`);
  }
  const attempt = await limiter.acquire(ctx.peerJid);
  let paramsSent = false;
  try {
    await checkPairing(auth, ctx);
    const P = await ask(auth, ctx);
    const salt = randomBytes(SRP_SALT_OCTETS);
    let server: SrpServerSession;
    try {
      server = new SrpServerSession(SRP_GROUP, srpVerifier(SRP_GROUP, salt, I, P), secretExponent());
    } finally {
      P.fill(0);
    }
    const B = server.B;
    await wire.send(MessageType.SRP_SERVER_PARAMS, Buffer.concat([salt, B]));
    paramsSent = true;
    const proof = await wire.receive(MessageType.SRP_CLIENT_PROOF, SRP_GROUP_OCTETS + SRP_PROOF_OCTETS);
    const A = proof.subarray(0, SRP_GROUP_OCTETS);
    const M1 = proof.subarray(SRP_GROUP_OCTETS);
    let S: Buffer;
    try {
      S = server.premaster(A); // rejects A ≡ 0 (mod N)
    } catch {
      throw wire.protocolError("the client's public value A is invalid");
    }
    const K = createHash("sha256").update(S).digest();
    const expected = srpClientProof(I, salt, A, B, K);
    // The server proves nothing before the client has: a wrong M1 gets an ABORT, never M2.
    if (!constantTimeEqual(M1, expected)) throw new SrpAuthenticationError(ctx.peerJid, "local");
    await wire.send(MessageType.SRP_SERVER_PROOF, srpServerProof(A, M1, K));
    await attempt.succeeded();
  } catch (error) {
    settleFailure(attempt, paramsSent, error);
    throw error;
  }
}

// A failure counts once the password was put to the test (server: B sent; client: M1
// sent) and the exchange did not just die with the channel.
// The count changes at once (in memory); writing it to the store is not awaited here, so
// the ABORT goes out without delay — the engine awaits `limiter.settled()` before it
// reports the failure. A count that cannot be written must not hide the error itself.
function settleFailure(attempt: Attempt, passwordUsed: boolean, error: unknown): void {
  const proofFailure =
    error instanceof PeerAuthenticationError &&
    (error.reason === "bad-proof" || error.reason === "protocol-error");
  if (passwordUsed && proofFailure) attempt.failed().catch(() => {});
  else attempt.abandoned().catch(() => {});
}
