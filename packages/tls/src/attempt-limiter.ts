/**
 * Per-peer limits on password attempts, keyed by bare JID.
 *
 * Threat: online guessing. SRP gives an attacker who does not know the password
 * exactly one guess per attempt and nothing to test offline, so the only way left is
 * to try many times; short PINs (draft §5.2) would fall quickly. After
 * `freeAttempts` consecutive failures every further attempt has to wait, doubling
 * each time up to `maxDelayMs`; a success clears the count. One attempt per peer may
 * run at a time, so parallel sessions cannot multiply the guesses.
 *
 * With a {@link AttemptRecordStore} (a `FileTrustStore` is one: the counts live in
 * `trust.json` next to the pins), the counts survive the process. Threat: an attacker
 * guessing through a client that is started afresh for every session (each `xtls chat
 * --yes` or `xtls receive` is a new process) — with counts in memory only, the limit
 * would never apply. {@link AttemptLimiter.acquire} reads the stored count first, and
 * every failure or success is written before the session's outcome is reported.
 */
import { bareJid } from "@xtls/core";
import { TooManyAttemptsError } from "./errors.js";

export interface AttemptLimiterOptions {
  /**
   * Attempts allowed without waiting: after this many consecutive failures the next
   * attempt waits `baseDelayMs`, then twice as long after each further failure.
   * Default 3 (0 behaves like 1).
   */
  readonly freeAttempts?: number;
  /** The wait after the first failure beyond the free ones. Default 30 s. */
  readonly baseDelayMs?: number;
  /** The longest wait. Default 1 h. */
  readonly maxDelayMs?: number;
  /** Failures older than this (since the last one) are forgotten. Default 24 h. */
  readonly forgetAfterMs?: number;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /** Keeps the counts across processes (e.g. the trust store). Default: memory only. */
  readonly store?: AttemptRecordStore;
}

/**
 * One running attempt. Settle it once; later calls are ignored. With a store, the
 * returned promise settles once the new count is written (await it before reporting).
 */
export interface Attempt {
  /** The peer proved knowledge of the password: the failure count is cleared. */
  succeeded(): Promise<void>;
  /** A wrong proof (or a malformed one after the password was used): counted. */
  failed(): Promise<void>;
  /** Ended before the password could be tested (peer vanished, cancelled): not counted. */
  abandoned(): Promise<void>;
}

/** The failures counted for a peer, as stored. */
export interface AttemptRecord {
  /** Consecutive failed password attempts. */
  readonly failures: number;
  /** When the last one failed (ms since the epoch). */
  readonly lastFailureAt: number;
}

/** Where an {@link AttemptLimiter} keeps its counts across processes (per bare JID). */
export interface AttemptRecordStore {
  loadAttempts(jid: string): Promise<AttemptRecord | undefined>;
  /** `undefined` clears the record (after a success). */
  saveAttempts(jid: string, record: AttemptRecord | undefined): Promise<void>;
}

interface Record {
  failures: number;
  lastFailureAt: number;
  inFlight: boolean;
}

export class AttemptLimiter {
  readonly #free: number;
  readonly #base: number;
  readonly #max: number;
  readonly #forgetAfter: number;
  readonly #now: () => number;
  readonly #peers = new Map<string, Record>();
  readonly #store: AttemptRecordStore | undefined;
  readonly #writing = new Set<Promise<void>>();

  constructor(options: AttemptLimiterOptions = {}) {
    this.#free = Math.max(0, options.freeAttempts ?? 3);
    this.#base = options.baseDelayMs ?? 30_000;
    this.#max = options.maxDelayMs ?? 3_600_000;
    this.#forgetAfter = options.forgetAfterMs ?? 86_400_000;
    this.#now = options.now ?? Date.now;
    this.#store = options.store;
  }

  /**
   * Like {@link begin}, after reading the peer's stored count (the larger of the stored
   * and the in-memory one wins); the attempt's outcome is written back. Use this one.
   */
  async acquire(jid: string): Promise<Attempt> {
    const key = bareJid(jid);
    const stored = await this.#store?.loadAttempts(key);
    if (stored && stored.failures > 0) {
      const record = this.#peers.get(key);
      if (!record) {
        this.#peers.set(key, {
          failures: stored.failures,
          lastFailureAt: stored.lastFailureAt,
          inFlight: false,
        });
      } else if (stored.failures > record.failures) {
        record.failures = stored.failures;
        record.lastFailureAt = Math.max(record.lastFailureAt, stored.lastFailureAt);
      }
    }
    return this.begin(key);
  }

  /** Resolves once every count written so far is in the store (failed writes included). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#writing]);
  }

  /** When an attempt with the peer is allowed again (now or earlier: allowed). */
  retryAt(jid: string): Date {
    return new Date(this.#now() + this.retryAfterMs(jid));
  }

  /** Consecutive failures counted for the peer's bare JID. */
  failures(jid: string): number {
    return this.#record(bareJid(jid))?.failures ?? 0;
  }

  /** Milliseconds until an attempt with the peer is allowed (0: now). */
  retryAfterMs(jid: string): number {
    const record = this.#record(bareJid(jid));
    const free = Math.max(1, this.#free);
    if (!record || record.failures < free) return 0;
    const delay = Math.min(this.#max, this.#base * 2 ** (record.failures - free));
    return Math.max(0, record.lastFailureAt + delay - this.#now());
  }

  /**
   * Starts an attempt with the peer, or throws {@link TooManyAttemptsError} when it
   * must wait (or another attempt with it is still running).
   */
  begin(jid: string): Attempt {
    const key = bareJid(jid);
    const wait = this.retryAfterMs(key);
    if (wait > 0) throw new TooManyAttemptsError(key, wait, "local", undefined, this.#now());
    const record = this.#record(key) ?? { failures: 0, lastFailureAt: 0, inFlight: false };
    if (record.inFlight) {
      throw new TooManyAttemptsError(
        key,
        0,
        "local",
        `another password attempt with ${key} is still running`,
      );
    }
    record.inFlight = true;
    this.#peers.set(key, record);
    let settled = false;
    const settle = async (change: () => void, persist: boolean) => {
      if (settled) return;
      settled = true;
      record.inFlight = false;
      change();
      if (record.failures === 0) this.#peers.delete(key);
      if (persist && this.#store) {
        // Tracked for settled(): the engine waits for it before reporting a failure, so a
        // process that exits right after (each `xtls receive` is one) cannot lose the count.
        const writing = this.#store.saveAttempts(
          key,
          record.failures > 0
            ? { failures: record.failures, lastFailureAt: record.lastFailureAt }
            : undefined,
        );
        this.#writing.add(writing);
        try {
          await writing;
        } finally {
          this.#writing.delete(writing);
        }
      }
    };
    return {
      succeeded: () =>
        settle(() => {
          record.failures = 0;
        }, true),
      failed: () =>
        settle(() => {
          record.failures += 1;
          record.lastFailureAt = this.#now();
        }, true),
      abandoned: () => settle(() => {}, false),
    };
  }

  /** Forgets the failures of one peer, or of everyone. */
  reset(jid?: string): void {
    if (jid === undefined) this.#peers.clear();
    else this.#peers.delete(bareJid(jid));
  }

  #record(key: string): Record | undefined {
    const record = this.#peers.get(key);
    if (record && !record.inFlight && this.#now() - record.lastFailureAt > this.#forgetAfter) {
      this.#peers.delete(key);
      return undefined;
    }
    return record;
  }
}
