/**
 * Short authentication string (SAS): after a TLS 1.3 handshake with not-yet-trusted
 * certificates, both clients show the same short code — 6 decimal digits and a row of
 * 7 emoji — derived from the TLS exporter, both JIDs, both certificates and two
 * nonces; the users compare them (out of band: side by side, on the phone) and
 * confirm. Message exchange: README, "In-tunnel authentication".
 *
 * Threat: a relaying man in the middle has two TLS sessions, so the codes differ
 * unless it can make them collide. With 6 digits a search over ~10^6 of its own
 * nonces would find a collision in a moment, so the initiator first commits to its
 * nonce (SHA-256 of it), the responder then sends its nonce, and only then does the
 * initiator reveal its own. Whoever the attacker impersonates, it must fix its nonce
 * before it learns the other one: one blind guess, 1 in 10^6 for the digits, 1 in
 * 2^42 for the emoji.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { bareJid } from "@xtls/core";
import { AUTH_PROTOCOL_VERSION, MessageType } from "./auth-wire.js";
import { AuthProtocolError, SasMismatchError } from "./errors.js";
import type { ChannelRole } from "./secure-channel.js";
import { bindingDigest, type SessionBinding } from "./session-binding.js";
import type { InTunnelContext } from "./srp.js";
import type { TrustStore } from "./trust-store.js";

/** TLS exporter label for the SAS. */
export const SAS_EXPORTER_LABEL = "EXPORTER-XTLS-SAS";
/** Domain-separation label of the SAS digest. */
export const SAS_BINDING_LABEL = "XTLS-SAS-1";
const COMMIT_LABEL = Buffer.from("XTLS-SAS-COMMIT\0", "utf8");
export const SAS_NONCE_OCTETS = 32;

export interface SasEmoji {
  /** Position in {@link SAS_EMOJI} (0–63). */
  readonly index: number;
  readonly emoji: string;
  /** An English name, for screen readers and for reading aloud. */
  readonly description: string;
}

export interface ShortAuthenticationString {
  /** Six decimal digits, e.g. "042917". */
  readonly digits: string;
  /** Seven emoji (42 bits). */
  readonly emoji: readonly SasEmoji[];
}

export interface SasConfirmRequest extends ShortAuthenticationString {
  /** The peer's full JID. */
  readonly peer: string;
  readonly bareJid: string;
  readonly role: ChannelRole;
  /** The fingerprint of the (not yet trusted) certificate the peer presented. */
  readonly fingerprint: string;
  /** Aborted when the verification ends without us (peer declined, timeout, abort). */
  readonly signal: AbortSignal;
}

export interface SasAuth {
  readonly method: "sas";
  /**
   * Shows the code and asks the user whether the peer shows the same one. `true`
   * confirms (the peer is pinned as verified/sas once the peer's user confirms too);
   * `false` ends the session on both sides with SasMismatchError.
   */
  confirmSas(request: SasConfirmRequest): Promise<boolean> | boolean;
  /** Where the peer is pinned on success; default: the engine's trust store. */
  readonly trustStore?: TrustStore;
  /** The fingerprint the peer advertised in signalling: a hint, checked. */
  readonly advertised?: string;
  /** Overrides the engine's `authTimeoutMs` for this session. */
  readonly timeoutMs?: number;
}

/**
 * The 64 emoji of the Matrix SAS method (Matrix specification, "SAS method: emoji"),
 * in its order, so users of both systems see familiar pictures. Index = 6 bits.
 */
export const SAS_EMOJI: readonly (readonly [emoji: string, description: string])[] = [
  ["🐶", "Dog"],
  ["🐱", "Cat"],
  ["🦁", "Lion"],
  ["🐎", "Horse"],
  ["🦄", "Unicorn"],
  ["🐷", "Pig"],
  ["🐘", "Elephant"],
  ["🐰", "Rabbit"],
  ["🐼", "Panda"],
  ["🐓", "Rooster"],
  ["🐧", "Penguin"],
  ["🐢", "Turtle"],
  ["🐟", "Fish"],
  ["🐙", "Octopus"],
  ["🦋", "Butterfly"],
  ["🌷", "Flower"],
  ["🌳", "Tree"],
  ["🌵", "Cactus"],
  ["🍄", "Mushroom"],
  ["🌏", "Globe"],
  ["🌙", "Moon"],
  ["☁️", "Cloud"],
  ["🔥", "Fire"],
  ["🍌", "Banana"],
  ["🍎", "Apple"],
  ["🍓", "Strawberry"],
  ["🌽", "Corn"],
  ["🍕", "Pizza"],
  ["🎂", "Cake"],
  ["❤️", "Heart"],
  ["😀", "Smiley"],
  ["🤖", "Robot"],
  ["🎩", "Hat"],
  ["👓", "Glasses"],
  ["🔧", "Spanner"],
  ["🎅", "Santa"],
  ["👍", "Thumbs Up"],
  ["☂️", "Umbrella"],
  ["⌛", "Hourglass"],
  ["⏰", "Clock"],
  ["🎁", "Gift"],
  ["💡", "Light Bulb"],
  ["📕", "Book"],
  ["✏️", "Pencil"],
  ["📎", "Paperclip"],
  ["✂️", "Scissors"],
  ["🔒", "Lock"],
  ["🔑", "Key"],
  ["🔨", "Hammer"],
  ["☎️", "Telephone"],
  ["🏁", "Flag"],
  ["🚂", "Train"],
  ["🚲", "Bicycle"],
  ["✈️", "Aeroplane"],
  ["🚀", "Rocket"],
  ["🏆", "Trophy"],
  ["⚽", "Ball"],
  ["🎸", "Guitar"],
  ["🎺", "Trumpet"],
  ["🔔", "Bell"],
  ["⚓", "Anchor"],
  ["🎧", "Headphones"],
  ["📁", "Folder"],
  ["📌", "Pin"],
];

/** SHA-256("XTLS-SAS-COMMIT" | 0x00 | nonce). */
export function sasCommitment(nonce: Buffer): Buffer {
  return createHash("sha256").update(COMMIT_LABEL).update(nonce).digest();
}

/**
 * The code: h = SHA-256(binding digest | n_i | n_r); digits = first 8 octets of h as
 * an unsigned big-endian integer mod 10^6, zero-padded; emoji = octets 8..13 of h
 * read as seven 6-bit indices, most significant bits first.
 */
export function deriveSas(
  binding: SessionBinding,
  initiatorNonce: Buffer,
  responderNonce: Buffer,
): ShortAuthenticationString {
  const h = createHash("sha256")
    .update(bindingDigest(SAS_BINDING_LABEL, binding))
    .update(initiatorNonce)
    .update(responderNonce)
    .digest();
  const digits = (h.readBigUInt64BE(0) % 1_000_000n).toString().padStart(6, "0");
  const bits = h.readUIntBE(8, 6); // 48 bits, exact in a double
  const emoji: SasEmoji[] = [];
  for (let i = 0; i < 7; i++) {
    const index = Math.floor(bits / 2 ** (42 - 6 * i)) % 64;
    const [e, description] = SAS_EMOJI[index]!;
    emoji.push({ index, emoji: e, description });
  }
  return { digits, emoji };
}

/**
 * Runs the SAS exchange for our role and asks our user; resolves once both users
 * confirmed, throws {@link SasMismatchError} when either declined. The caller sends
 * the ABORT for local failures.
 */
export async function runSas(auth: SasAuth, ctx: InTunnelContext): Promise<void> {
  const { wire } = ctx;
  let initiatorNonce: Buffer;
  let responderNonce: Buffer;
  if (ctx.role === "initiator") {
    initiatorNonce = randomBytes(SAS_NONCE_OCTETS);
    await wire.send(
      MessageType.SAS_COMMIT,
      Buffer.concat([Buffer.from([AUTH_PROTOCOL_VERSION]), sasCommitment(initiatorNonce)]),
    );
    responderNonce = await wire.receive(MessageType.SAS_NONCE, SAS_NONCE_OCTETS);
    await wire.send(MessageType.SAS_REVEAL, initiatorNonce);
  } else {
    const commit = await wire.receive(MessageType.SAS_COMMIT, 1 + 32);
    if (commit[0] !== AUTH_PROTOCOL_VERSION) {
      throw wire.protocolError(`unsupported version ${commit[0]} of the SAS messages`);
    }
    responderNonce = randomBytes(SAS_NONCE_OCTETS);
    await wire.send(MessageType.SAS_NONCE, responderNonce);
    initiatorNonce = await wire.receive(MessageType.SAS_REVEAL, SAS_NONCE_OCTETS);
    // A nonce that does not open the commitment was chosen after seeing ours.
    if (!timingSafeEqual(sasCommitment(initiatorNonce), commit.subarray(1))) {
      throw new AuthProtocolError(
        "sas",
        ctx.peerJid,
        "local",
        "commitment-mismatch",
        "the peer's nonce does not match its commitment (possible man-in-the-middle)",
      );
    }
  }
  const sas = deriveSas(ctx.binding, initiatorNonce, responderNonce);

  // Our user's answer and the peer's CONFIRM (or ABORT) may come in either order.
  const peerConfirmed = wire.receive(MessageType.SAS_CONFIRM, 0);
  peerConfirmed.catch(() => {});
  const local = new AbortController();
  const onOuterAbort = () => local.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onOuterAbort, { once: true });
  try {
    const confirmed = Promise.resolve(
      auth.confirmSas({
        ...sas,
        peer: ctx.peerJid,
        bareJid: bareJid(ctx.peerJid),
        role: ctx.role,
        fingerprint: ctx.peerFingerprint,
        signal: local.signal,
      }),
    );
    confirmed.catch(() => {});
    // The peer declining first ends our prompt as well.
    const first = await Promise.race([
      confirmed.then((ok) => ({ kind: "local" as const, ok })),
      peerConfirmed.then(
        () => ({ kind: "peer" as const }),
        (error: unknown) => {
          local.abort(error);
          throw error;
        },
      ),
    ]);
    const ok = first.kind === "local" ? first.ok : await confirmed;
    if (ok !== true) throw new SasMismatchError(ctx.peerJid, "local");
    await wire.send(MessageType.SAS_CONFIRM);
    await peerConfirmed;
  } finally {
    ctx.signal.removeEventListener("abort", onOuterAbort);
  }
}
