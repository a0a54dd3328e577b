/**
 * Pairing with bots and devices (draft §5.2), on top of `srp`:
 *
 * - a PIN typed on both sides: nothing special, `askPassword` returns what was typed;
 * - a device with a display shows a random code ({@link generatePairingCode}) that the
 *   user types into the client;
 * - a device with a fixed printed password pairs only in pairing mode, which a button
 *   press enables for a short window ({@link PairingMode}).
 *
 * Threat: a fixed password never changes, and whoever read the label (or guessed a
 * short one) could pair at any time. "For security reasons the device SHOULD NOT use
 * password-based authentication without any user input" (§5.2): outside the window
 * every attempt is refused before the password is even used, and each button press
 * allows only a few attempts.
 */
import { randomInt } from "node:crypto";
import type { PasswordRequest, SrpAuth } from "./srp.js";

export interface PairingCodeOptions {
  /** Number of characters. Default 8 (digits: ~26.6 bits; base32: 40 bits). */
  readonly length?: number;
  /** `digits` (default; easy on a remote control) or Crockford `base32` (no I, L, O, U). */
  readonly alphabet?: "digits" | "base32";
}

const ALPHABETS = { digits: "0123456789", base32: "0123456789ABCDEFGHJKMNPQRSTVWXYZ" } as const;

/** A uniformly random one-time code for a device to display (CSPRNG, no modulo bias). */
export function generatePairingCode(options: PairingCodeOptions = {}): string {
  const alphabet = ALPHABETS[options.alphabet ?? "digits"];
  const length = options.length ?? 8;
  if (!Number.isInteger(length) || length < 4 || length > 64) {
    throw new RangeError("a pairing code has 4 to 64 characters");
  }
  let code = "";
  for (let i = 0; i < length; i++) code += alphabet[randomInt(alphabet.length)];
  return code;
}

export interface PairingModeOptions {
  /**
   * The fixed (printed) password. Without it every {@link PairingMode.enable} makes a
   * fresh random code for the device to display.
   */
  readonly password?: string;
  /** How the random codes look. */
  readonly code?: PairingCodeOptions;
  /** How long pairing stays enabled after a button press. Default 120 s. */
  readonly windowMs?: number;
  /** Password attempts allowed per button press. Default 1. */
  readonly attemptsPerWindow?: number;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The device side of pairing: `enable()` on a button press (or when the user asks to
 * show a code), then hand {@link PairingMode.auth} to `engine.secure`.
 */
export class PairingMode {
  readonly #fixed: string | undefined;
  readonly #codeOptions: PairingCodeOptions | undefined;
  readonly #windowMs: number;
  readonly #attempts: number;
  readonly #now: () => number;
  #code: string | undefined;
  #until = 0;
  #left = 0;

  constructor(options: PairingModeOptions = {}) {
    this.#fixed = options.password;
    this.#codeOptions = options.code;
    this.#windowMs = options.windowMs ?? 120_000;
    this.#attempts = options.attemptsPerWindow ?? 1;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Enables pairing for the window and returns the password to use: the fixed one, or
   * a new random code to display (the previous code stops working).
   */
  enable(): string {
    this.#code = this.#fixed ?? generatePairingCode(this.#codeOptions);
    this.#until = this.#now() + this.#windowMs;
    this.#left = this.#attempts;
    return this.#code;
  }

  disable(): void {
    this.#until = 0;
    this.#left = 0;
    if (this.#fixed === undefined) this.#code = undefined;
  }

  /** Whether an attempt would be accepted now (does not use one up). */
  get enabled(): boolean {
    return this.#code !== undefined && this.#left > 0 && this.#now() < this.#until;
  }

  /** The code currently valid, for display (undefined outside a window). */
  get code(): string | undefined {
    return this.enabled ? this.#code : undefined;
  }

  /** Consulted by `srp` before each attempt: uses up one attempt of the window. */
  readonly pairingEnabled = (): boolean => {
    if (!this.enabled) return false;
    this.#left -= 1;
    return true;
  };

  /** The password for an attempt that {@link pairingEnabled} let through. */
  readonly askPassword = (_request: PasswordRequest): string | undefined => this.#code;

  /** An `srp` auth for `engine.secure`, with this pairing mode's gate and password. */
  auth(extra: Omit<SrpAuth, "method" | "askPassword" | "pairingEnabled"> = {}): SrpAuth {
    return { ...extra, method: "srp", askPassword: this.askPassword, pairingEnabled: this.pairingEnabled };
  }
}
