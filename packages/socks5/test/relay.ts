// A TCP middlebox on loopback between a SOCKS5 client and a streamhost, for faults the
// peers would never cause themselves: bytes written "too early" (right after the SOCKS5
// reply, before any nomination), and a TCP reset in the middle of a transfer.
import { connect, createServer, type Server, type Socket } from "node:net";

/** 05 00 (method) + 05 00 00 03 28 <40> 00 00 (CONNECT reply with a DST.ADDR): 49 octets. */
const SOCKS_REPLIES = 2 + 47;

export interface RelayOptions {
  /** Written to each side just after the streamhost's SOCKS5 reply went by. */
  readonly early?: { readonly toClient?: Buffer; readonly toServer?: Buffer };
  /** Reset both TCP connections once this many octets went by after the handshake. */
  readonly resetAfter?: number;
}

export class Relay {
  readonly server: Server;
  readonly port: number;
  /** Octets relayed after the SOCKS5 replies, both directions. */
  relayed = 0;
  /** Connections reset by `resetAfter`. */
  resets = 0;
  readonly #pairs = new Set<[Socket, Socket]>();

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  static async start(target: { host: string; port: number }, options: RelayOptions = {}): Promise<Relay> {
    let relay: Relay | undefined;
    const server = createServer({ allowHalfOpen: true }, (client) => relay?.pipe(client, target, options));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    relay = new Relay(server, (server.address() as { port: number }).port);
    return relay;
  }

  close(): Promise<void> {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Resets every relayed connection now (RST on both sides). */
  resetAll(): void {
    for (const [a, b] of this.#pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
      this.resets++;
    }
  }

  pipe(client: Socket, target: { host: string; port: number }, options: RelayOptions): void {
    const server = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const pair: [Socket, Socket] = [client, server];
    this.#pairs.add(pair);
    for (const s of pair) {
      s.setNoDelay(true);
      s.on("error", () => {});
      s.once("close", () => {
        this.#pairs.delete(pair);
        const other = s === client ? server : client;
        if (!other.destroyed && !s.readableEnded) other.destroy();
      });
    }
    let fromServer = 0;
    let handshakeDone = false;
    const forward = (from: Socket, to: Socket, isServer: boolean) => {
      from.on("data", (chunk: Buffer) => {
        if (handshakeDone) {
          this.relayed += chunk.length;
          if (options.resetAfter !== undefined && this.relayed >= options.resetAfter) {
            client.resetAndDestroy();
            server.resetAndDestroy();
            this.resets++;
            return;
          }
        }
        if (!to.write(chunk)) {
          from.pause();
          to.once("drain", () => from.resume());
        }
        if (isServer && !handshakeDone) {
          fromServer += chunk.length;
          if (fromServer >= SOCKS_REPLIES) {
            handshakeDone = true;
            if (options.early?.toClient) client.write(options.early.toClient);
            if (options.early?.toServer) server.write(options.early.toServer);
          }
        }
      });
      from.on("end", () => to.end());
    };
    forward(client, server, false);
    forward(server, client, true);
  }
}
