/**
 * Which certificates we trust for which peer, like ssh's known_hosts: per bare JID, a
 * list of fingerprints with a state (`verified`, `tofu`, `revoked`), the method that
 * established it, and timestamps.
 */
import { mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { bareJid, XtlsError } from "@xtls/core";
import type { AttemptRecord, AttemptRecordStore } from "./attempt-limiter.js";
import { parseFingerprint } from "./fingerprint.js";

export type TrustState = "verified" | "tofu" | "revoked";

/**
 * How a fingerprint came to be trusted: `manual` (typed or compared by a person),
 * `srp`, `sas`, `tofu`, `ca` (chains to a configured anchor), `pubkey` (vouched for
 * by a verified user certificate), `import`. Free text is allowed for extensions.
 */
export type TrustMethod = "manual" | "srp" | "sas" | "tofu" | "ca" | "pubkey" | "import" | (string & {});

export interface TrustEntry {
  /** Lowercase hex; 64 digits for SHA-256 (what we pin), 40 for SHA-1 (legacy peers). */
  readonly fingerprint: string;
  readonly state: TrustState;
  readonly method: TrustMethod;
  /** ISO 8601. */
  readonly addedAt: string;
  readonly updatedAt: string;
  readonly note?: string;
}

export interface PinOptions {
  readonly state?: TrustState;
  readonly method: TrustMethod;
  readonly note?: string;
}

export interface TrustStore {
  /** The entries for a peer's bare JID (any JID form is accepted and reduced to bare). */
  entries(jid: string): Promise<readonly TrustEntry[]>;
  /** Adds or updates the entry for `fingerprint` (default state `verified`). */
  pin(jid: string, fingerprint: string, options: PinOptions): Promise<TrustEntry>;
  /** Marks a fingerprint revoked: it will be refused even if pinned elsewhere. */
  revoke(jid: string, fingerprint: string): Promise<void>;
  /** Removes one fingerprint, or every entry of the JID. */
  forget(jid: string, fingerprint?: string): Promise<void>;
  /** Everything, by bare JID. */
  all(): Promise<ReadonlyMap<string, readonly TrustEntry[]>>;
}

/** How a peer was first verified (kept when its pins are forgotten: see {@link VerificationRecords}). */
export interface FirstVerification {
  readonly method: TrustMethod;
  /** ISO 8601. */
  readonly at: string;
}

/**
 * What a store remembers about a peer besides its pins: how it was first verified (the
 * method policy: a peer first verified by `srp` is not silently moved to `sas`) and the
 * password attempts counted against it ({@link AttemptRecordStore}). Both stores here
 * implement it; `FileTrustStore` keeps it in `trust.json` (schema version 2).
 */
export interface VerificationRecords extends AttemptRecordStore {
  /**
   * The first `verified` pin of the peer, recorded by `pin()` (never overwritten, and
   * kept by `forget()`: a new first contact after forgetting must not be weaker).
   */
  firstVerification(jid: string): Promise<FirstVerification | undefined>;
}

/** Whether `store` keeps {@link VerificationRecords}. */
export function hasVerificationRecords(store: unknown): store is VerificationRecords {
  return (
    typeof store === "object" &&
    store !== null &&
    "firstVerification" in store &&
    "loadAttempts" in store &&
    "saveAttempts" in store
  );
}

export class TrustStoreError extends XtlsError {}

const STATES = new Set<TrustState>(["verified", "tofu", "revoked"]);

function normalizeFp(fingerprint: string): string {
  return parseFingerprint(fingerprint).hex;
}

function upsert(
  list: readonly TrustEntry[],
  fingerprint: string,
  options: PinOptions,
  now: string,
): TrustEntry[] {
  const existing = list.find((e) => e.fingerprint === fingerprint);
  const entry: TrustEntry = {
    fingerprint,
    state: options.state ?? "verified",
    method: options.method,
    addedAt: existing?.addedAt ?? now,
    updatedAt: now,
    ...(options.note !== undefined
      ? { note: options.note }
      : existing?.note !== undefined
        ? { note: existing.note }
        : {}),
  };
  return [...list.filter((e) => e.fingerprint !== fingerprint), entry];
}

/** A trust store that lives as long as the process. */
export class MemoryTrustStore implements TrustStore, VerificationRecords {
  readonly #peers = new Map<string, TrustEntry[]>();
  readonly #first = new Map<string, FirstVerification>();
  readonly #attempts = new Map<string, AttemptRecord>();

  async firstVerification(jid: string): Promise<FirstVerification | undefined> {
    return this.#first.get(bareJid(jid));
  }

  async loadAttempts(jid: string): Promise<AttemptRecord | undefined> {
    return this.#attempts.get(bareJid(jid));
  }

  async saveAttempts(jid: string, record: AttemptRecord | undefined): Promise<void> {
    if (record) this.#attempts.set(bareJid(jid), record);
    else this.#attempts.delete(bareJid(jid));
  }

  async entries(jid: string): Promise<readonly TrustEntry[]> {
    return this.#peers.get(bareJid(jid)) ?? [];
  }

  async pin(jid: string, fingerprint: string, options: PinOptions): Promise<TrustEntry> {
    const key = bareJid(jid);
    const fp = normalizeFp(fingerprint);
    const now = new Date().toISOString();
    const list = upsert(this.#peers.get(key) ?? [], fp, options, now);
    this.#peers.set(key, list);
    if ((options.state ?? "verified") === "verified" && !this.#first.has(key)) {
      this.#first.set(key, { method: options.method, at: now });
    }
    return list.find((e) => e.fingerprint === fp)!;
  }

  async revoke(jid: string, fingerprint: string): Promise<void> {
    await this.pin(jid, fingerprint, { state: "revoked", method: "manual" });
  }

  async forget(jid: string, fingerprint?: string): Promise<void> {
    const key = bareJid(jid);
    if (fingerprint === undefined) {
      this.#peers.delete(key);
      return;
    }
    const fp = normalizeFp(fingerprint);
    const rest = (this.#peers.get(key) ?? []).filter((e) => e.fingerprint !== fp);
    if (rest.length) this.#peers.set(key, rest);
    else this.#peers.delete(key);
  }

  async all(): Promise<ReadonlyMap<string, readonly TrustEntry[]>> {
    return new Map(this.#peers);
  }
}

/** A stored attempt count: {@link AttemptRecord} with an ISO 8601 time. */
export interface StoredAttempts {
  readonly failures: number;
  readonly lastFailureAt: string;
}

/**
 * The JSON document a {@link FileTrustStore} writes: schema version 2 (version 1, which
 * has `peers` only, is still read, and is rewritten as version 2 on the next change).
 */
export interface TrustFile {
  readonly format: "xtls-trust-store";
  readonly version: 1 | 2;
  readonly peers: Record<string, TrustEntry[]>;
  /** Version 2: how each peer was first verified. */
  readonly firstVerified?: Record<string, FirstVerification>;
  /** Version 2: failed password attempts per peer (the attempt limiter's counts). */
  readonly attempts?: Record<string, StoredAttempts>;
}

const FORMAT = "xtls-trust-store";
const VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];

export interface FileTrustStoreOptions {
  /** How long to wait for another process's lock before failing. Default 10 s. */
  lockTimeoutMs?: number;
}

/**
 * A trust store in a JSON file, safe to share between processes: every change is a
 * read-modify-write under an exclusive lock file (`<path>.lock`), written to a
 * temporary file and renamed over the old one, so readers see either the old or the
 * new document, never half of one. A file that does not parse or validate is an error
 * ({@link TrustStoreError} `trust-store-corrupt`), never silently replaced: losing
 * pinned fingerprints would turn the next man in the middle into a "first contact".
 */
export class FileTrustStore implements TrustStore, VerificationRecords {
  readonly path: string;
  readonly #lockTimeoutMs: number;

  constructor(path: string, options: FileTrustStoreOptions = {}) {
    this.path = path;
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  }

  async entries(jid: string): Promise<readonly TrustEntry[]> {
    return (await this.#read()).peers[bareJid(jid)] ?? [];
  }

  async firstVerification(jid: string): Promise<FirstVerification | undefined> {
    return (await this.#read()).firstVerified?.[bareJid(jid)];
  }

  async loadAttempts(jid: string): Promise<AttemptRecord | undefined> {
    const stored = (await this.#read()).attempts?.[bareJid(jid)];
    return stored
      ? { failures: stored.failures, lastFailureAt: Date.parse(stored.lastFailureAt) }
      : undefined;
  }

  async saveAttempts(jid: string, record: AttemptRecord | undefined): Promise<void> {
    const key = bareJid(jid);
    await this.#update((_peers, extra) => {
      if (record) {
        extra.attempts[key] = {
          failures: record.failures,
          lastFailureAt: new Date(record.lastFailureAt).toISOString(),
        };
      } else delete extra.attempts[key];
    });
  }

  async pin(jid: string, fingerprint: string, options: PinOptions): Promise<TrustEntry> {
    const key = bareJid(jid);
    const fp = normalizeFp(fingerprint);
    let result: TrustEntry | undefined;
    await this.#update((peers, extra) => {
      const now = new Date().toISOString();
      peers[key] = upsert(peers[key] ?? [], fp, options, now);
      result = peers[key].find((e) => e.fingerprint === fp);
      if ((options.state ?? "verified") === "verified" && !extra.firstVerified[key]) {
        extra.firstVerified[key] = { method: options.method, at: now };
      }
    });
    return result!;
  }

  async revoke(jid: string, fingerprint: string): Promise<void> {
    await this.pin(jid, fingerprint, { state: "revoked", method: "manual" });
  }

  async forget(jid: string, fingerprint?: string): Promise<void> {
    const key = bareJid(jid);
    const fp = fingerprint === undefined ? undefined : normalizeFp(fingerprint);
    await this.#update((peers) => {
      if (fp === undefined) delete peers[key];
      else {
        const rest = (peers[key] ?? []).filter((e) => e.fingerprint !== fp);
        if (rest.length) peers[key] = rest;
        else delete peers[key];
      }
    });
  }

  async all(): Promise<ReadonlyMap<string, readonly TrustEntry[]>> {
    return new Map(Object.entries((await this.#read()).peers));
  }

  async #read(): Promise<TrustFile> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT")
        return { format: FORMAT, version: VERSION, peers: {} };
      throw new TrustStoreError(
        "trust-store-unreadable",
        `cannot read the trust store ${this.path}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return parseTrustFile(text, this.path);
  }

  async #update(
    change: (
      peers: Record<string, TrustEntry[]>,
      extra: { firstVerified: Record<string, FirstVerification>; attempts: Record<string, StoredAttempts> },
    ) => void,
  ): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const release = await this.#lock();
    try {
      const doc = await this.#read();
      const peers = structuredClone(doc.peers);
      const extra = {
        firstVerified: structuredClone(doc.firstVerified ?? {}),
        attempts: structuredClone(doc.attempts ?? {}),
      };
      change(peers, extra);
      const next: TrustFile = { format: FORMAT, version: VERSION, peers, ...extra };
      const tmp = `${this.path}.${process.pid}.${Date.now()}.tmp`;
      try {
        // fsync before the rename: after a crash the file is the old or the new
        // document, never an empty one (delayed allocation).
        const handle = await open(tmp, "w", 0o600);
        try {
          await handle.writeFile(`${JSON.stringify(next, null, 2)}\n`);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmp, this.path);
      } catch (error) {
        await unlink(tmp).catch(() => {});
        throw error;
      }
    } finally {
      await release();
    }
  }

  async #lock(): Promise<() => Promise<void>> {
    const lockPath = `${this.path}.lock`;
    const deadline = Date.now() + this.#lockTimeoutMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 20)) {
      try {
        const handle = await open(lockPath, "wx", 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => unlink(lockPath).catch(() => {});
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        if (await this.#staleLock(lockPath)) {
          await unlink(lockPath).catch(() => {});
          continue;
        }
        if (Date.now() > deadline) {
          throw new TrustStoreError(
            "trust-store-locked",
            `the trust store ${this.path} has been locked by another process for over ${this.#lockTimeoutMs} ms (${lockPath})`,
          );
        }
        await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
      }
    }
  }

  // A lock whose owner process is gone, or that is older than a minute, is stale.
  async #staleLock(lockPath: string): Promise<boolean> {
    try {
      const [text, info] = await Promise.all([readFile(lockPath, "utf8"), stat(lockPath)]);
      const pid = Number(text);
      if (Date.now() - info.mtimeMs > 60_000) return true;
      if (!Number.isInteger(pid) || pid <= 0) return Date.now() - info.mtimeMs > 1000;
      try {
        process.kill(pid, 0);
        return false;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code === "ESRCH";
      }
    } catch {
      return false;
    }
  }
}

/** Parses and validates a trust file; throws `trust-store-corrupt` with the reason. */
export function parseTrustFile(text: string, path = "trust store"): TrustFile {
  const corrupt = (why: string) =>
    new TrustStoreError(
      "trust-store-corrupt",
      `${path} is corrupt (${why}). It was left untouched: repair or move it away deliberately; ` +
        "an empty trust store would accept the next certificate as a first contact.",
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw corrupt(`not JSON: ${(error as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null) throw corrupt("not an object");
  const d = doc as Record<string, unknown>;
  if (d.format !== FORMAT) throw corrupt(`format is ${JSON.stringify(d.format)}, expected "${FORMAT}"`);
  if (!READABLE_VERSIONS.includes(d.version as number))
    throw corrupt(
      `schema version ${JSON.stringify(d.version)} is not supported (this version reads ${READABLE_VERSIONS.join(" and ")})`,
    );
  for (const section of ["firstVerified", "attempts"] as const) {
    const value = d[section];
    if (value !== undefined && (typeof value !== "object" || value === null || Array.isArray(value)))
      throw corrupt(`'${section}' is not an object`);
  }
  for (const [jid, a] of Object.entries((d.attempts ?? {}) as Record<string, Record<string, unknown>>)) {
    if (
      !Number.isInteger(a?.failures) ||
      typeof a?.lastFailureAt !== "string" ||
      Number.isNaN(Date.parse(a.lastFailureAt))
    )
      throw corrupt(`the attempt count of ${jid} is malformed`);
  }
  if (typeof d.peers !== "object" || d.peers === null || Array.isArray(d.peers))
    throw corrupt("'peers' is not an object");
  for (const [jid, list] of Object.entries(d.peers as Record<string, unknown>)) {
    if (!Array.isArray(list)) throw corrupt(`entries of ${jid} are not a list`);
    for (const e of list as Array<Record<string, unknown>>) {
      if (typeof e?.fingerprint !== "string" || !/^([0-9a-f]{64}|[0-9a-f]{40})$/.test(e.fingerprint)) {
        throw corrupt(`a fingerprint of ${jid} is malformed`);
      }
      if (!STATES.has(e.state as TrustState))
        throw corrupt(`state ${JSON.stringify(e.state)} of ${jid} is unknown`);
      if (typeof e.method !== "string" || typeof e.addedAt !== "string" || typeof e.updatedAt !== "string") {
        throw corrupt(`an entry of ${jid} lacks method or timestamps`);
      }
    }
  }
  return doc as TrustFile;
}
