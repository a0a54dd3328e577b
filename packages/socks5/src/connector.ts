/**
 * The Target's side of a streamhost (XEP-0065 §5.3.2, §6.3.2): a TCP connection and a
 * SOCKS5 CONNECT with DST.ADDR, done by the `socks` client, which waits for each server
 * reply before it sends the next message — proxy65 needs the greeting and the request in
 * separate reads (docs/peers.md#prosody), so they must never be coalesced. And a staggered race over
 * several streamhosts: the first that answers wins, the others are called off.
 */
import { connect as netConnect, type Socket } from "node:net";
import { AbortError, TimeoutError } from "@xtls/core";
import { SocksClient } from "socks";
import { S5bStreamhostError } from "./errors.js";
import { PendingConnection } from "./stream.js";

export interface StreamhostAddress {
  readonly host: string;
  readonly port: number;
  readonly jid?: string;
}

export interface ConnectStreamhostOptions {
  /** TCP connect plus SOCKS5 handshake must finish within this. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * Connects to a streamhost and completes SOCKS5 CONNECT to `dstAddr` (port 0). The
 * result is a {@link PendingConnection} in `"discard"` mode: whatever the streamhost
 * sends before the caller opens it is dropped. Rejects with {@link S5bStreamhostError}
 * (its `cause` says why: ECONNREFUSED, a SOCKS5 reply code, a timeout) or `AbortError`.
 */
export function connectStreamhost(
  streamhost: StreamhostAddress,
  dstAddr: string,
  options: ConnectStreamhostOptions,
): Promise<PendingConnection> {
  const { signal } = options;
  const what = `connecting to the SOCKS5 streamhost ${streamhost.host}:${streamhost.port}`;
  if (signal?.aborted) return Promise.reject(new AbortError(what, signal.reason));
  return new Promise<PendingConnection>((resolve, reject) => {
    let settled = false;
    let socket: Socket | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket?.off("error", fail);
    };
    const fail = (cause: unknown) => {
      if (settled) return;
      settled = true;
      cleanup();
      socket?.destroy();
      reject(cause instanceof AbortError ? cause : new S5bStreamhostError(streamhost, cause));
    };
    const onAbort = () => fail(new AbortError(what, signal?.reason));
    const timer = setTimeout(() => fail(new TimeoutError(what, options.timeoutMs)), options.timeoutMs);
    timer.unref();
    signal?.addEventListener("abort", onAbort, { once: true });
    socket = netConnect({ host: streamhost.host, port: streamhost.port, allowHalfOpen: true, noDelay: true });
    socket.on("error", fail);
    socket.once("connect", () => {
      if (settled || !socket) return;
      const client = new SocksClient({
        proxy: { host: streamhost.host, port: streamhost.port, type: 5 },
        command: "connect",
        // XEP-0065 §5.3.2: ATYP 3 (a 40-character hex string is a "host name"), DST.PORT 0.
        destination: { host: dstAddr, port: 0 },
        existing_socket: socket,
        timeout: options.timeoutMs,
      });
      client.once("error", (error) => fail(error));
      client.once("established", ({ socket: established }) => {
        if (settled) {
          established.destroy();
          return;
        }
        // Attached in this tick, so the bytes `socks` re-emits (those that came with its
        // final reply) are dropped too: it re-emits them in a setImmediate queued before ours.
        const pending = new PendingConnection(established, "discard");
        setImmediate(() => {
          if (settled) {
            pending.destroy();
            return;
          }
          settled = true;
          cleanup();
          client.removeAllListeners();
          client.on("error", () => {});
          resolve(pending);
        });
      });
      client.connect(socket);
    });
  });
}

/** One winner of a {@link ConnectionRace}. */
export interface RaceWinner<T> {
  readonly candidate: T;
  readonly connection: PendingConnection;
}

/**
 * Tries candidates in the order given, starting the next one after `staggerMs` (or at
 * once when everything started so far has failed); the first connection wins and every
 * other attempt is aborted. `result` resolves with the winner, or `undefined` when every
 * candidate failed or was cancelled (`failures` says why).
 */
export class ConnectionRace<T extends StreamhostAddress> {
  readonly result: Promise<RaceWinner<T> | undefined>;
  /** Why each failed candidate failed (aborted attempts are not listed). */
  readonly failures: Error[] = [];
  readonly #queue: T[];
  readonly #running = new Map<T, AbortController>();
  readonly #connect: (candidate: T, signal: AbortSignal) => Promise<PendingConnection>;
  readonly #staggerMs: number;
  #timer: NodeJS.Timeout | undefined;
  #done = false;
  #resolve!: (winner: RaceWinner<T> | undefined) => void;

  constructor(
    candidates: readonly T[],
    connect: (candidate: T, signal: AbortSignal) => Promise<PendingConnection>,
    staggerMs: number,
  ) {
    this.#queue = [...candidates];
    this.#connect = connect;
    this.#staggerMs = staggerMs;
    this.result = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.#startNext();
  }

  get done(): boolean {
    return this.#done;
  }

  /** Candidates not tried yet or still being tried. */
  get remaining(): T[] {
    return [...this.#running.keys(), ...this.#queue];
  }

  /** Adds a candidate (e.g. one the peer sent late), placed by `compare` when given. */
  add(candidate: T, compare?: (a: T, b: T) => number): void {
    if (this.#done) return;
    this.#queue.push(candidate);
    if (compare) this.#queue.sort(compare);
    if (this.#running.size === 0) this.#startNext();
  }

  /** Calls off the candidates `which` selects (all by default), tried or not. */
  cancel(which: (candidate: T) => boolean = () => true): void {
    if (this.#done) return;
    for (let i = this.#queue.length - 1; i >= 0; i--) if (which(this.#queue[i]!)) this.#queue.splice(i, 1);
    for (const [candidate, abort] of [...this.#running]) {
      if (!which(candidate)) continue;
      this.#running.delete(candidate);
      abort.abort();
    }
    this.#settleIfExhausted();
  }

  #startNext(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const candidate = this.#queue.shift();
    if (!candidate) {
      this.#settleIfExhausted();
      return;
    }
    const abort = new AbortController();
    this.#running.set(candidate, abort);
    this.#connect(candidate, abort.signal).then(
      (connection) => {
        if (this.#done || this.#running.get(candidate) !== abort) {
          connection.destroy();
          return;
        }
        this.#running.delete(candidate);
        this.#finish({ candidate, connection });
      },
      (error: Error) => {
        if (this.#running.get(candidate) !== abort) return; // cancelled
        this.#running.delete(candidate);
        if (!(error instanceof AbortError)) this.failures.push(error);
        if (this.#done) return;
        if (this.#running.size === 0) this.#startNext();
      },
    );
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => this.#startNext(), this.#staggerMs);
      this.#timer.unref();
    }
  }

  #settleIfExhausted(): void {
    if (!this.#done && this.#running.size === 0 && this.#queue.length === 0) this.#finish(undefined);
  }

  #finish(winner: RaceWinner<T> | undefined): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    for (const abort of this.#running.values()) abort.abort();
    this.#running.clear();
    this.#resolve(winner);
  }
}
