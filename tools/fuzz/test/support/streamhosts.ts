/**
 * Loopback SOCKS5 streamhosts for fuzzed offers and candidates to reach: one that
 * completes the SOCKS5 handshake (RFC 1928 CONNECT, as XEP-0065 §5.3.2 uses it) and then
 * holds the connection, one that hangs up at once, and a port nothing listens on.
 */
import net from "node:net";

export interface Streamhosts {
  /** Completes SOCKS5 CONNECT for any DST.ADDR. */
  readonly okPort: number;
  /** Accepts the TCP connection and closes it at once. */
  readonly hangupPort: number;
  /** Nothing listens here (connection refused). */
  readonly refusedPort: number;
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

// Answers the greeting with "no authentication", then the CONNECT request with success.
function socks5(socket: net.Socket): void {
  let buffer = Buffer.alloc(0);
  let stage: "greeting" | "request" | "open" = "greeting";
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    if (stage === "open") return;
    buffer = Buffer.concat([buffer, chunk]);
    if (stage === "greeting") {
      if (buffer.length < 2 || buffer.length < 2 + buffer[1]!) return;
      if (buffer[0] !== 5) return void socket.destroy();
      buffer = buffer.subarray(2 + buffer[1]!);
      socket.write(Buffer.from([5, 0]));
      stage = "request";
    }
    if (stage === "request") {
      if (buffer.length < 5) return;
      const length = buffer[3] === 3 ? 5 + buffer[4]! + 2 : buffer[3] === 1 ? 10 : 22;
      if (buffer.length < length) return;
      const request = buffer.subarray(0, length);
      buffer = buffer.subarray(length);
      socket.write(Buffer.concat([Buffer.from([5, 0, 0]), request.subarray(3)]));
      stage = "open";
    }
  });
}

export async function startStreamhosts(): Promise<Streamhosts> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };
  const ok = net.createServer((socket) => {
    track(socket);
    socks5(socket);
  });
  const hangup = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.destroy();
  });
  const probe = net.createServer();
  const [okPort, hangupPort, refusedPort] = await Promise.all([listen(ok), listen(hangup), listen(probe)]);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return {
    okPort,
    hangupPort,
    refusedPort,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all([ok, hangup].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
