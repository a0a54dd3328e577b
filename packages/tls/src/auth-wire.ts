/**
 * The framing of the in-tunnel authentication messages (`srp`, `sas`): they are the
 * first application-data bytes of the TLS 1.3 connection in both directions, before
 * the channel is handed to the application. Specified in the README, "In-tunnel
 * authentication".
 *
 *   frame = type (1 octet) | length (2 octets, big-endian) | body (length octets)
 *
 * Whatever follows the last authentication frame in the same read (the peer may
 * pipeline application data right behind its final message) is pushed back into the
 * TLS socket untouched, so the application reads it as the first bytes of the stream.
 */
import type { TLSSocket } from "node:tls";
import {
  AuthenticationCancelledError,
  type AuthFailureReason,
  AuthProtocolError,
  type InTunnelMethod,
  PairingDisabledError,
  type PeerAuthenticationError,
  SasMismatchError,
  SrpAuthenticationError,
  TooManyAttemptsError,
} from "./errors.js";

export const FRAME_HEADER_OCTETS = 3;
/** No message of ours is longer (SRP: 384 + 32 octets). Larger frames are a protocol error. */
export const MAX_FRAME_BODY = 1024;

/** Message types (README table). */
export const MessageType = {
  SRP_HELLO: 0x10,
  SRP_SERVER_PARAMS: 0x11,
  SRP_CLIENT_PROOF: 0x12,
  SRP_SERVER_PROOF: 0x13,
  SAS_COMMIT: 0x20,
  SAS_NONCE: 0x21,
  SAS_REVEAL: 0x22,
  SAS_CONFIRM: 0x23,
  ABORT: 0x7f,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** The octet that carries each abort reason. */
export const ABORT_REASON_CODES: Readonly<Record<AuthFailureReason, number>> = {
  "bad-proof": 1,
  declined: 2,
  "too-many-attempts": 3,
  "pairing-disabled": 4,
  cancelled: 5,
  "certificate-refused": 6,
  "protocol-error": 7,
  "commitment-mismatch": 8,
};
const REASONS_BY_CODE = new Map(
  Object.entries(ABORT_REASON_CODES).map(([reason, code]) => [code, reason as AuthFailureReason]),
);

/** Version octet carried by SRP_HELLO and SAS_COMMIT. */
export const AUTH_PROTOCOL_VERSION = 1;

export function encodeFrame(type: MessageType, body: Uint8Array = Buffer.alloc(0)): Buffer {
  if (body.length > MAX_FRAME_BODY) throw new RangeError(`frame body of ${body.length} octets is too long`);
  const header = Buffer.alloc(FRAME_HEADER_OCTETS);
  header[0] = type;
  header.writeUInt16BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/** ABORT body: reason (1 octet) | retry-after in seconds (4 octets, 0 when not applicable). */
export function encodeAbort(reason: AuthFailureReason, retryAfterMs = 0): Buffer {
  const body = Buffer.alloc(5);
  body[0] = ABORT_REASON_CODES[reason];
  body.writeUInt32BE(Math.min(0xffffffff, Math.ceil(Math.max(0, retryAfterMs) / 1000)), 1);
  return encodeFrame(MessageType.ABORT, body);
}

/** The local error for an ABORT the peer sent. */
export function peerAbortError(
  method: InTunnelMethod,
  peerJid: string,
  body: Buffer,
): PeerAuthenticationError {
  const reason = body.length >= 1 ? REASONS_BY_CODE.get(body[0]!) : undefined;
  const retryAfterMs = body.length >= 5 ? body.readUInt32BE(1) * 1000 : 0;
  switch (reason) {
    case "bad-proof":
      return new SrpAuthenticationError(peerJid, "peer");
    case "declined":
      return new SasMismatchError(peerJid, "peer");
    case "too-many-attempts":
      return new TooManyAttemptsError(peerJid, retryAfterMs, "peer");
    case "pairing-disabled":
      return new PairingDisabledError(peerJid, "peer");
    case "cancelled":
      return new AuthenticationCancelledError(method, peerJid, "peer");
    case "certificate-refused":
      return new AuthProtocolError(method, peerJid, "peer", reason, "the peer refused our certificate");
    case "commitment-mismatch":
      return new AuthProtocolError(
        method,
        peerJid,
        "peer",
        reason,
        "our nonce did not match our commitment at the peer (possible man-in-the-middle)",
      );
    default:
      return new AuthProtocolError(
        method,
        peerJid,
        "peer",
        "protocol-error",
        "the peer reported a protocol error in the authentication messages",
      );
  }
}

/** Reads and writes authentication frames on an established TLS socket. */
export class AuthWire {
  readonly #socket: TLSSocket;
  readonly #method: InTunnelMethod;
  readonly #peerJid: string;
  #buffer: Buffer = Buffer.alloc(0);
  #released = false;
  /** Set once an ABORT went either way: nothing more is sent. */
  #aborted = false;

  constructor(socket: TLSSocket, method: InTunnelMethod, peerJid: string) {
    this.#socket = socket;
    this.#method = method;
    this.#peerJid = peerJid;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Writes one frame; resolves once TLS has handed its record to the carrier. */
  send(type: MessageType, body?: Uint8Array): Promise<void> {
    return this.#write(encodeFrame(type, body));
  }

  /**
   * Tells the peer why we stop (best effort, at most once, never after the peer's own
   * ABORT). The reason is all it learns: no password, code or detail is sent.
   */
  async abort(reason: AuthFailureReason, retryAfterMs = 0): Promise<void> {
    if (this.#aborted || this.#released) return;
    this.#aborted = true;
    try {
      await this.#write(encodeAbort(reason, retryAfterMs));
    } catch {
      // The channel is already gone; the peer will see that instead.
    }
  }

  /**
   * Reads the next frame, which must be of type `expected`. An ABORT becomes the
   * matching typed error (detected by the peer); any other type, or a bad length, is a
   * protocol error.
   */
  async receive(expected: MessageType, bodyLength?: number): Promise<Buffer> {
    const { type, body } = await this.#next();
    if (type === MessageType.ABORT) {
      this.#aborted = true;
      throw peerAbortError(this.#method, this.#peerJid, body);
    }
    if (type !== expected) {
      throw this.protocolError(
        `expected message 0x${expected.toString(16)}, got 0x${type.toString(16)} (do both sides use the ${this.#method} method?)`,
      );
    }
    if (bodyLength !== undefined && body.length !== bodyLength) {
      throw this.protocolError(
        `message 0x${type.toString(16)} has ${body.length} octets, expected ${bodyLength}`,
      );
    }
    return body;
  }

  protocolError(detail: string): AuthProtocolError {
    return new AuthProtocolError(this.#method, this.#peerJid, "local", "protocol-error", detail);
  }

  /**
   * Ends the authentication phase: bytes read beyond the last frame go back into the
   * socket, in order, for the application.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    if (rest.length && !this.#socket.destroyed) this.#socket.unshift(rest);
  }

  #write(frame: Buffer): Promise<void> {
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      if (socket.destroyed || socket.writableEnded) {
        reject(new Error("the secure channel is closed"));
        return;
      }
      socket.write(frame, (error) => (error ? reject(error) : resolve()));
    });
  }

  async #next(): Promise<{ type: MessageType; body: Buffer }> {
    for (;;) {
      if (this.#buffer.length >= FRAME_HEADER_OCTETS) {
        const type = this.#buffer[0]! as MessageType;
        const length = this.#buffer.readUInt16BE(1);
        if (length > MAX_FRAME_BODY) throw this.protocolError(`a frame of ${length} octets is too long`);
        if (this.#buffer.length >= FRAME_HEADER_OCTETS + length) {
          const body = Buffer.from(this.#buffer.subarray(FRAME_HEADER_OCTETS, FRAME_HEADER_OCTETS + length));
          this.#buffer = this.#buffer.subarray(FRAME_HEADER_OCTETS + length);
          return { type, body };
        }
      }
      const chunk = await this.#read();
      this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    }
  }

  // Paused-mode read: 'readable' + read(), so the socket is left neither flowing nor
  // explicitly paused afterwards, and the application's own 'data' listener starts it.
  #read(): Promise<Buffer> {
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        socket.off("readable", onReadable);
        socket.off("end", onEnd);
        socket.off("close", onEnd);
        socket.off("error", onError);
      };
      const onReadable = () => {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) return;
        cleanup();
        resolve(chunk);
      };
      const onEnd = () => {
        cleanup();
        reject(this.protocolError("the peer closed the channel during authentication"));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const chunk = socket.read() as Buffer | null;
      if (chunk !== null) {
        resolve(chunk);
        return;
      }
      if (socket.readableEnded || socket.destroyed) {
        reject(this.protocolError("the peer closed the channel during authentication"));
        return;
      }
      socket.on("readable", onReadable);
      socket.once("end", onEnd);
      socket.once("close", onEnd);
      socket.once("error", onError);
    });
  }
}
