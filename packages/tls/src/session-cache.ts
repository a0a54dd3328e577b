/**
 * TLS session tickets we received as the TLS client, for resumption. A resumed client
 * sees no peer certificate (the server does not send one), so each ticket is stored
 * with the certificate that was verified in the full handshake; a resumed session is
 * then checked against the same trust rules as a new one, and still reports who the
 * peer is. Tickets are keyed by our own certificate and the peer's full JID, so a
 * ticket is never offered to anyone else.
 */
import { normalizeJid } from "@xtls/core";

export interface CachedSession {
  readonly session: Buffer;
  readonly peerCertificateDer: Buffer;
  readonly storedAt: number;
}

export interface SessionCacheOptions {
  /** Default 256; the oldest entries go first. */
  maxEntries?: number;
  /** Default 7200 s, the lifetime our servers give their tickets. */
  ttlSeconds?: number;
}

export class SessionCache {
  readonly #entries = new Map<string, CachedSession>();
  readonly #max: number;
  readonly #ttlMs: number;

  constructor(options: SessionCacheOptions = {}) {
    this.#max = options.maxEntries ?? 256;
    this.#ttlMs = (options.ttlSeconds ?? 7200) * 1000;
  }

  static key(localFingerprint: string, peerJid: string): string {
    return `${localFingerprint} ${normalizeJid(peerJid)}`;
  }

  get(key: string): CachedSession | undefined {
    const entry = this.#entries.get(key);
    if (entry && Date.now() - entry.storedAt > this.#ttlMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, session: Buffer, peerCertificateDer: Buffer): void {
    this.#entries.delete(key);
    this.#entries.set(key, { session, peerCertificateDer, storedAt: Date.now() });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
