/**
 * One SOCKS5 Bytestream as a Node `Duplex`: a thin wrapper over the TCP socket, so that
 * a broken connection surfaces as a typed {@link S5bConnectionLostError} rather than a
 * bare `ECONNRESET`, and so that a connection whose SOCKS5 handshake is done but which is
 * not (yet) the bytestream never delivers a byte.
 *
 *   socket 'data' ──push()──► reader     (the same Buffer: no copy; pause() when full)
 *   write() ───────────────► socket.write()   (callback at once, or after 'drain')
 *   end() ─────────────────► socket.end()     (half-close: the peer's direction stays open)
 */
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { StreamHost } from "./elements.js";
import { S5bConnectionLostError } from "./errors.js";

/** The default read buffer of a stream, in octets. */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

/** How the bytes a pending connection receives are treated until it becomes the bytestream. */
export type PendingMode = "discard" | "hold";

/** What a stream is made of; the service and the Jingle transport create streams, applications do not. */
export interface S5bStreamInit {
  /** The peer's full JID. */
  readonly peer: string;
  /** The bytestream's sid (XEP-0065) or the transport's sid (XEP-0260). */
  readonly sid: string;
  /** The streamhost carrying it: the Requester's own (direct) or a proxy (mediated). */
  readonly streamhost: StreamHost;
  /** Whether a proxy relays the bytes. */
  readonly mediated: boolean;
  /** Our XEP-0065 role for this connection: `requester` offered the streamhost, `target` connected to it. */
  readonly role: "requester" | "target";
  readonly highWaterMark?: number;
  /**
   * Hold our TCP FIN back until the peer's (or until the stream is destroyed): `end()`
   * then only means "nothing more to write". For a relay that takes the first FIN as the
   * end of both directions, as Prosody's proxy65 does, when the layer above marks its
   * own end of stream (TLS close_notify). Default false: `end()` half-closes at once.
   */
  readonly deferEnd?: boolean;
}

/**
 * A TCP connection whose SOCKS5 handshake is complete but which is not the bytestream
 * yet (the Target has not answered, the candidate is not nominated, the proxy is not
 * activated). docs/protocol/socks5.md#bytes-before-activation: bytes received now are not delivered. In
 * `"discard"` mode they are read and dropped (XEP-0260: the peer must not send before
 * nomination); in `"hold"` mode reading stops and what was read is kept for the stream
 * (XEP-0065 §9.1: a streamhost "ignores but does not drop" bytes sent before activation).
 */
export class PendingConnection {
  readonly socket: Socket;
  readonly mode: PendingMode;
  /** Octets read and dropped while pending. */
  discarded = 0;
  #held: Buffer[] = [];
  #ended = false;
  #dead = false;
  #opened = false;
  readonly #onData: (chunk: Buffer) => void;
  readonly #onEnd: () => void;
  readonly #onGone: () => void;
  #watchers: Array<() => void> = [];

  constructor(socket: Socket, mode: PendingMode, leftover?: Buffer) {
    this.socket = socket;
    this.mode = mode;
    this.#onData = (chunk) => {
      if (this.mode === "discard") {
        this.discarded += chunk.length;
        return;
      }
      this.#held.push(chunk);
      socket.pause(); // bounded: the kernel's buffers hold the rest (backpressure on the sender)
    };
    this.#onEnd = () => {
      this.#ended = true;
    };
    this.#onGone = () => {
      if (this.#dead) return;
      this.#dead = true;
      for (const watcher of this.#watchers.splice(0)) watcher();
    };
    if (leftover && leftover.length > 0) this.#onData(leftover);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onGone); // swallowed: the connection is simply unusable now
    socket.on("close", this.#onGone);
    if (socket.destroyed) this.#onGone();
    else if (mode === "discard") socket.resume();
  }

  /** Whether the connection can still become the bytestream. */
  get alive(): boolean {
    return !this.#dead && !this.#opened && !this.socket.destroyed;
  }

  /** Calls `listener` once when the connection closes or fails before it was opened. */
  onGone(listener: () => void): void {
    if (this.#dead) listener();
    else this.#watchers.push(listener);
  }

  /**
   * Turns the connection into the bytestream, in the same tick (so no byte falls between
   * the two): held bytes are delivered first, dropped ones never.
   */
  open(init: S5bStreamInit): S5bStream {
    if (!this.alive) throw new S5bConnectionLostError(init.peer, init.sid);
    this.#opened = true;
    this.#watchers = [];
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("error", this.#onGone);
    this.socket.off("close", this.#onGone);
    const held = this.#held;
    this.#held = [];
    return new S5bStream(this.socket, init, held, this.#ended);
  }

  /**
   * Hands the connection over as the bare TCP socket, for a consumer that takes a
   * `net.Socket` natively (Node's TLS: its records then go socket ⇄ OpenSSL in C++,
   * without a JavaScript stream in between — measured 222 → ~600 MB/s for XTLS over a
   * direct candidate). Held bytes are put back in front of the socket's readable buffer,
   * which the TLS socket reads first. `undefined` when the peer already ended (the
   * wrapper's end-of-stream bookkeeping is needed then) or the connection is gone.
   */
  openNative(): Socket | undefined {
    if (!this.alive || this.#ended) return undefined;
    this.#opened = true;
    this.#watchers = [];
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("error", this.#onGone);
    this.socket.off("close", this.#onGone);
    this.socket.pause();
    this.socket.setNoDelay(true);
    const held = this.#held;
    this.#held = [];
    for (let i = held.length - 1; i >= 0; i--) this.socket.unshift(held[i]!);
    return this.socket;
  }

  destroy(): void {
    this.#held = [];
    this.socket.destroy();
  }
}

export class S5bStream extends Duplex {
  /** The peer's full JID. */
  readonly peer: string;
  readonly sid: string;
  readonly streamhost: StreamHost;
  readonly mediated: boolean;
  readonly role: "requester" | "target";
  /** Octets delivered to the reader and accepted from the writer. */
  bytesIn = 0;
  bytesOut = 0;
  readonly #socket: Socket;
  readonly #deferEnd: boolean;
  #eof = false;
  #finPending = false;

  /** @internal use {@link PendingConnection.open} */
  constructor(socket: Socket, init: S5bStreamInit, held: readonly Buffer[] = [], ended = false) {
    const hwm = init.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    super({ allowHalfOpen: true, readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    this.#socket = socket;
    this.peer = init.peer;
    this.sid = init.sid;
    this.streamhost = init.streamhost;
    this.mediated = init.mediated;
    this.role = init.role;
    this.#deferEnd = init.deferEnd ?? false;
    socket.setNoDelay(true);
    for (const chunk of held) {
      this.bytesIn += chunk.length;
      this.push(chunk);
    }
    if (ended) {
      this.#eof = true;
      this.push(null);
    }
    socket.on("data", (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      if (!this.push(chunk)) socket.pause();
    });
    socket.on("end", () => {
      this.#eof = true;
      this.push(null);
      if (this.#finPending) socket.end();
    });
    socket.on("error", (error) => this.destroy(new S5bConnectionLostError(this.peer, this.sid, error)));
    socket.on("close", () => {
      // Closed by someone else before the peer's end of stream: cut off. (After it, the
      // reader still gets what is buffered; a later write fails in _write.)
      if (!this.destroyed && !this.#eof) this.destroy(new S5bConnectionLostError(this.peer, this.sid));
    });
    socket.pause(); // until our reader asks (_read)
    if (socket.destroyed)
      process.nextTick(() => this.destroy(new S5bConnectionLostError(this.peer, this.sid)));
  }

  /** The local and remote TCP addresses, for diagnostics. */
  get addresses(): { local: string; remote: string } {
    const s = this.#socket;
    return { local: `${s.localAddress}:${s.localPort}`, remote: `${s.remoteAddress}:${s.remotePort}` };
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.#socket.destroyed) {
      callback(new S5bConnectionLostError(this.peer, this.sid));
      return;
    }
    this.bytesOut += chunk.length;
    if (this.#socket.write(chunk)) callback();
    else this.#afterDrain(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const socket = this.#socket;
    if (socket.destroyed) {
      callback(new S5bConnectionLostError(this.peer, this.sid));
      return;
    }
    socket.cork();
    let ok = true;
    for (const { chunk } of chunks) {
      this.bytesOut += chunk.length;
      ok = socket.write(chunk);
    }
    socket.uncork();
    if (ok) callback();
    else this.#afterDrain(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const socket = this.#socket;
    if (socket.destroyed) {
      callback(new S5bConnectionLostError(this.peer, this.sid));
      return;
    }
    if (this.#deferEnd && !this.#eof) {
      // Everything written is in the socket; the FIN follows the peer's (see deferEnd).
      this.#finPending = true;
      callback();
      return;
    }
    socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const socket = this.#socket;
    if (!error && this.readableEnded && this.writableFinished) {
      // Both directions are done (auto-destroy): let what is still queued reach the
      // peer, with our FIN, before the socket goes.
      if (!socket.writableEnded) socket.end();
      socket.destroySoon();
    } else {
      socket.destroy();
    }
    callback(error);
  }

  #afterDrain(callback: (error?: Error | null) => void): void {
    const socket = this.#socket;
    const done = (error?: Error) => {
      socket.off("drain", onDrain);
      socket.off("close", onClose);
      callback(error);
    };
    const onDrain = () => done();
    const onClose = () => done(new S5bConnectionLostError(this.peer, this.sid));
    socket.on("drain", onDrain);
    socket.on("close", onClose);
  }
}
