/**
 * Our own direct streamhost: a minimal SOCKS5 server (RFC 1928, CONNECT without
 * authentication, as XEP-0065 §5.3.2 profiles it) that accepts only the DST.ADDR
 * hashes it was told to expect and closes every other connection.
 *
 *   client → us   05 NMETHODS METHODS…            (we need 00, "no authentication")
 *   us → client   05 00                            (or 05 FF and close)
 *   client → us   05 01 00 03 28 <40 hex> 00 00    (CONNECT, DOMAINNAME = DST.ADDR)
 *   us → client   05 00 00 03 28 <40 hex> 00 00    (BND = DST echoed, XEP-0065 §5.3.2)
 *                 05 02 …                          (not expected / taken: refused, closed)
 *
 * The parser works on whatever the client's writes look like: greeting and request in
 * one segment, or one byte at a time. Bytes after the request go to the waiting
 * {@link PendingConnection}, which never delivers them before the connection becomes
 * the bytestream. A wrong hash never disturbs an expected one: each connection is
 * judged on its own, and a hash is held by at most one live connection.
 */
import { EventEmitter } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { isDstAddr } from "./elements.js";
import { S5bClosedError } from "./errors.js";
import { PendingConnection, type PendingMode } from "./stream.js";

export interface StreamhostListenerOptions {
  /** Address to bind. Default `127.0.0.1` (loopback: nothing is exposed unless you say so). */
  readonly host?: string;
  /** Port to bind; 0 picks a free one. Default 0. */
  readonly port?: number;
  /**
   * The addresses to offer to peers, e.g. a public address forwarded to this listener.
   * A missing port means the bound one. Default: the bound address and port.
   */
  readonly advertise?: ReadonlyArray<{ readonly host: string; readonly port?: number }>;
  /** A connection must complete its SOCKS5 handshake within this. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

/** Why a connection to the listener was turned away. */
export type RefusalReason =
  | "bad-greeting"
  | "no-acceptable-method"
  | "bad-request"
  | "unsupported-command"
  | "unsupported-address-type"
  | "unexpected-dstaddr"
  | "dstaddr-taken"
  | "timeout";

export interface StreamhostListenerEvents {
  /** A connection was refused and closed (for logs and tests). */
  refused: [info: { readonly reason: RefusalReason; readonly dstAddr?: string; readonly remote: string }];
}

/**
 * A DST.ADDR we wait for. The first connection that completes the handshake with it is
 * held (as a {@link PendingConnection}) until {@link Expectation.claim} or
 * {@link Expectation.release}; while it is alive, others with the same hash are refused.
 */
export class Expectation {
  readonly dstAddr: string;
  readonly mode: PendingMode;
  #connection: PendingConnection | undefined;
  #waiters: Array<(connection: PendingConnection) => void> = [];
  #released = false;
  readonly #onRelease: () => void;

  /** @internal created by {@link StreamhostListener.expect} */
  constructor(dstAddr: string, mode: PendingMode, onRelease: () => void) {
    this.dstAddr = dstAddr;
    this.mode = mode;
    this.#onRelease = onRelease;
  }

  /** The connection held for this hash, if one is alive. */
  get connection(): PendingConnection | undefined {
    return this.#connection?.alive ? this.#connection : undefined;
  }

  get released(): boolean {
    return this.#released;
  }

  /** Resolves with the held connection, now or when one arrives. */
  next(): Promise<PendingConnection> {
    const held = this.connection;
    if (held) return Promise.resolve(held);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Takes the held connection (it is no longer the listener's to close) and stops expecting. */
  claim(): PendingConnection | undefined {
    const held = this.connection;
    this.#connection = undefined;
    this.release();
    return held;
  }

  /** Stops expecting this hash; an unclaimed held connection is closed. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#waiters = [];
    this.#connection?.destroy();
    this.#connection = undefined;
    this.#onRelease();
  }

  /** @internal whether a new connection may take the hash */
  get free(): boolean {
    return !this.#released && !this.connection;
  }

  /** @internal */
  hold(connection: PendingConnection): void {
    this.#connection = connection;
    for (const wake of this.#waiters.splice(0)) wake(connection);
  }
}

const VERSION = 0x05;
const NO_AUTH = 0x00;
const NO_ACCEPTABLE_METHOD = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_DOMAIN = 0x03;
// RFC 1928 §6 replies
const REP_SUCCEEDED = 0x00;
const REP_NOT_ALLOWED = 0x02;
const REP_COMMAND_NOT_SUPPORTED = 0x07;
const REP_ADDRESS_TYPE_NOT_SUPPORTED = 0x08;
// Longest handshake: greeting 2 + 255, request 5 + 255 + 2.
const MAX_HANDSHAKE_BYTES = 2 + 255 + 5 + 255 + 2;

export class StreamhostListener extends EventEmitter<StreamhostListenerEvents> {
  readonly #options: Required<Omit<StreamhostListenerOptions, "advertise">> &
    Pick<StreamhostListenerOptions, "advertise">;
  readonly #expected = new Map<string, Expectation>();
  readonly #handshaking = new Set<Socket>();
  #server: Server | undefined;
  #listening: Promise<void> | undefined;
  #closed = false;

  constructor(options: StreamhostListenerOptions = {}) {
    super();
    this.#options = {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      advertise: options.advertise,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    };
  }

  /** Binds the listener (once; later calls return the same promise). */
  listen(): Promise<void> {
    if (this.#closed) return Promise.reject(new S5bClosedError("the SOCKS5 streamhost listener is closed"));
    this.#listening ??= new Promise<void>((resolve, reject) => {
      const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
      this.#server = server;
      server.once("error", reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off("error", reject);
        if (this.#closed) server.close();
        server.on("error", () => {}); // accept errors (EMFILE…) are per connection; keep serving
        resolve();
      });
    });
    return this.#listening;
  }

  /** The bound address, once listening. */
  get address(): { host: string; port: number } | undefined {
    const a = this.#server?.address();
    return a && typeof a === "object" ? { host: a.address, port: a.port } : undefined;
  }

  /** What to offer peers (see {@link StreamhostListenerOptions.advertise}); listening first. */
  async addresses(): Promise<Array<{ host: string; port: number }>> {
    await this.listen();
    const bound = this.address;
    if (!bound) throw new S5bClosedError("the SOCKS5 streamhost listener is closed");
    const advertise = this.#options.advertise ?? [{ host: bound.host }];
    return advertise.map((a) => ({ host: a.host, port: a.port ?? bound.port }));
  }

  /**
   * Starts expecting a DST.ADDR. Throws when it is expected already (one bytestream per
   * hash: the hash covers the sid and both JIDs).
   */
  expect(dstAddr: string, mode: PendingMode): Expectation {
    if (this.#closed) throw new S5bClosedError("the SOCKS5 streamhost listener is closed");
    if (!isDstAddr(dstAddr)) throw new TypeError(`not a DST.ADDR: ${dstAddr}`);
    const key = dstAddr.toLowerCase();
    if (this.#expected.has(key)) throw new Error(`the DST.ADDR ${key} is expected already`);
    const expectation: Expectation = new Expectation(key, mode, () => {
      if (this.#expected.get(key) === expectation) this.#expected.delete(key);
    });
    this.#expected.set(key, expectation);
    return expectation;
  }

  /** How many hashes are expected now. */
  get expecting(): number {
    return this.#expected.size;
  }

  /** Stops listening, closes handshaking and held connections (claimed ones are not ours). */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const expectation of [...this.#expected.values()]) expectation.release();
    for (const socket of this.#handshaking) socket.destroy();
    this.#handshaking.clear();
    // Stop accepting; close() would wait for the claimed connections, which are not ours.
    if (this.#server?.listening) this.#server.close();
    return Promise.resolve();
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#handshaking.add(socket);
    let buffer: Buffer = Buffer.alloc(0);
    let greeted = false;
    const finish = () => {
      clearTimeout(timer);
      this.#handshaking.delete(socket);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    const refuse = (reason: RefusalReason, reply?: Buffer, dstAddr?: string) => {
      finish();
      socket.on("error", () => {});
      this.emit("refused", { reason, dstAddr, remote });
      if (reply) socket.end(reply, () => socket.destroy());
      else socket.destroy();
    };
    const timer = setTimeout(() => refuse("timeout"), this.#options.handshakeTimeoutMs);
    timer.unref();
    const onError = () => {
      finish();
      socket.destroy();
    };
    const onClose = () => finish();
    const onData = (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      if (!greeted) {
        if (buffer.length < 2) return;
        if (buffer[0] !== VERSION || buffer[1] === 0) return refuse("bad-greeting");
        const n = buffer[1]!;
        if (buffer.length < 2 + n) return;
        if (!buffer.subarray(2, 2 + n).includes(NO_AUTH)) {
          return refuse("no-acceptable-method", Buffer.from([VERSION, NO_ACCEPTABLE_METHOD]));
        }
        greeted = true;
        buffer = buffer.subarray(2 + n);
        socket.write(Buffer.from([VERSION, NO_AUTH]));
      }
      // Request: VER CMD RSV ATYP, then (for DOMAINNAME) LEN ADDR…, then PORT.
      if (buffer.length < 5) return;
      if (buffer[0] !== VERSION || buffer[2] !== 0) return refuse("bad-request");
      if (buffer[3] !== ATYP_DOMAIN) {
        return refuse("unsupported-address-type", failure(REP_ADDRESS_TYPE_NOT_SUPPORTED));
      }
      const length = buffer[4]!;
      const end = 5 + length + 2;
      if (buffer.length < end) {
        if (buffer.length > MAX_HANDSHAKE_BYTES) refuse("bad-request");
        return;
      }
      if (buffer[1] !== CMD_CONNECT) return refuse("unsupported-command", failure(REP_COMMAND_NOT_SUPPORTED));
      const address = buffer.subarray(5, 5 + length);
      const dstAddr = address.toString("latin1").toLowerCase();
      const echo = buffer.subarray(3, end); // ATYP LEN ADDR PORT, echoed as BND (XEP-0065 §5.3.2)
      const rest = buffer.subarray(end);
      const expectation = isDstAddr(dstAddr) ? this.#expected.get(dstAddr) : undefined;
      if (!expectation) {
        return refuse("unexpected-dstaddr", reply(REP_NOT_ALLOWED, echo), dstAddr);
      }
      if (!expectation.free) return refuse("dstaddr-taken", reply(REP_NOT_ALLOWED, echo), dstAddr);
      finish();
      socket.write(reply(REP_SUCCEEDED, echo));
      // The copy detaches `rest` from the (small) handshake buffer.
      const pending = new PendingConnection(socket, expectation.mode, Buffer.from(rest));
      expectation.hold(pending);
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
  }
}

function reply(rep: number, echo: Buffer): Buffer {
  return Buffer.concat([Buffer.from([VERSION, rep, 0x00]), echo]);
}

// A failure reply for a request we could not read an address from: BND.ADDR 0.0.0.0:0.
function failure(rep: number): Buffer {
  return Buffer.from([VERSION, rep, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}
