/**
 * SRP-6a group arithmetic (RFC 5054 §2.5–2.6) with OpenSSL doing the modular
 * exponentiations.
 *
 * Why not a JavaScript big-number library: a 3072-bit modexp in pure JavaScript (jsbn,
 * as fast-srp-hap uses) costs ~50 ms, four per attempt on each side, which made a
 * first contact ~10 round trips slower than a pinned one (bench/README.md). OpenSSL's
 * takes ~1 ms. It is reached through the legacy Diffie-Hellman object: with the secret
 * exponent as the "private key", `computeSecret(base)` is base^exponent mod N, computed
 * by `BN_mod_exp_mont_consttime`. Threat it also stops: a timing side channel on the
 * secret exponents (a, b, and x, which derives from the password), which the jsbn
 * square-and-multiply leaked in principle.
 *
 * The object is created with generator 2 on purpose: RFC 5054's 3072-bit prime is RFC
 * 3526's group 15, and OpenSSL recognises (p, 2) as that named group and skips
 * `DH_check`, a primality test that costs ~1.5 s for a 3072-bit prime. The generator of
 * the object is never used: SRP's g (5) is passed as a base like any other. A group
 * OpenSSL does not recognise still works, after that one-time check.
 */
import { createDiffieHellman, createHash, type DiffieHellman } from "node:crypto";

/** An SRP group: the safe prime N, the generator g, the hash H; numbers are big-endian. */
export class SrpGroup {
  /** The length of N in octets: PAD() pads A, B, g and S to it. */
  readonly octets: number;
  /** k = H(N | PAD(g)), the SRP-6a multiplier. */
  readonly k: bigint;
  readonly #dh: DiffieHellman;

  constructor(
    readonly N: bigint,
    readonly g: bigint,
    readonly hash: string,
  ) {
    this.octets = Math.ceil(N.toString(16).length / 2);
    this.#dh = createDiffieHellman(this.pad(N), Buffer.from([2]));
    this.k = this.H(this.pad(N), this.pad(g));
  }

  /** PAD(x): x as big-endian octets, left-padded with zeros to the length of N. */
  pad(x: bigint): Buffer {
    return Buffer.from(x.toString(16).padStart(this.octets * 2, "0"), "hex");
  }

  /** H of the concatenated octets, as a number. */
  H(...parts: Buffer[]): bigint {
    const h = createHash(this.hash);
    for (const part of parts) h.update(part);
    return toBigInt(h.digest());
  }

  /** base^exponent mod N, for 0 ≤ base and 0 ≤ exponent. */
  modPow(base: bigint, exponent: bigint): bigint {
    const b = base % this.N;
    if (exponent === 0n) return 1n;
    // OpenSSL refuses the bases 0, 1 and N − 1 as public keys; their powers are trivial.
    if (b === 0n || b === 1n) return b;
    if (b === this.N - 1n) return exponent % 2n === 0n ? 1n : b;
    this.#dh.setPrivateKey(unsigned(exponent));
    return toBigInt(this.#dh.computeSecret(this.pad(b)));
  }
}

/** Octets as an unsigned big-endian number. */
export function toBigInt(octets: Uint8Array): bigint {
  return octets.length === 0 ? 0n : BigInt(`0x${Buffer.from(octets).toString("hex")}`);
}

function unsigned(x: bigint): Buffer {
  const hex = x.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, "hex");
}

/** x = H(s | H(I | ":" | P)) (RFC 5054 §2.6). */
export function srpX(group: SrpGroup, salt: Buffer, I: Buffer, P: Buffer): bigint {
  const inner = createHash(group.hash).update(I).update(":").update(P).digest();
  return group.H(salt, inner);
}

/** v = g^x mod N, the verifier (RFC 5054 §2.5.3). */
export function srpVerifier(group: SrpGroup, salt: Buffer, I: Buffer, P: Buffer): Buffer {
  return group.pad(group.modPow(group.g, srpX(group, salt, I, P)));
}

/** The SRP-6a client: A = g^a; S = (B − k·g^x)^(a + u·x). */
export class SrpClientSession {
  readonly A: Buffer;
  readonly #a: bigint;

  constructor(
    readonly group: SrpGroup,
    secret: Buffer,
  ) {
    this.#a = toBigInt(secret);
    this.A = group.pad(group.modPow(group.g, this.#a));
  }

  /**
   * The premaster secret S (padded) for the server's B. Throws a RangeError for B ≡ 0
   * (mod N) or u = 0 (RFC 5054 §2.5.4: the client MUST abort): with B ≡ 0 a malicious
   * server would make S independent of the password.
   */
  premaster(salt: Buffer, I: Buffer, P: Buffer, B: Buffer): Buffer {
    const { group } = this;
    const b = toBigInt(B) % group.N;
    if (B.length !== group.octets || b === 0n) throw new RangeError("B ≡ 0 (mod N)");
    const u = group.H(this.A, B);
    if (u === 0n) throw new RangeError("u = 0");
    const x = srpX(group, salt, I, P);
    const base = (b - ((group.k * group.modPow(group.g, x)) % group.N) + group.N) % group.N;
    return group.pad(group.modPow(base, this.#a + u * x));
  }
}

/** The SRP-6a server: B = k·v + g^b; S = (A·v^u)^b. */
export class SrpServerSession {
  readonly B: Buffer;
  readonly #b: bigint;
  readonly #v: bigint;

  constructor(
    readonly group: SrpGroup,
    verifier: Buffer,
    secret: Buffer,
  ) {
    this.#v = toBigInt(verifier);
    this.#b = toBigInt(secret);
    this.B = group.pad((group.k * this.#v + group.modPow(group.g, this.#b)) % group.N);
  }

  /**
   * The premaster secret S (padded) for the client's A. Throws a RangeError for A ≡ 0
   * (mod N) (RFC 5054 §2.5.4: the server MUST abort): a client sending 0, N, 2N… would
   * otherwise make S = 0 and authenticate without the password.
   */
  premaster(A: Buffer): Buffer {
    const { group } = this;
    const a = toBigInt(A) % group.N;
    if (A.length !== group.octets || a === 0n) throw new RangeError("A ≡ 0 (mod N)");
    const u = group.H(A, this.B);
    const base = (a * group.modPow(this.#v, u)) % group.N;
    return group.pad(group.modPow(base, this.#b));
  }
}
