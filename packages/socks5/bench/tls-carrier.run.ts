// How much the S5bStream wrapper costs under TLS: Node TLS 1.3 over a plain loopback
// socket vs over S5bStreams (same socket, wrapped), 256 MiB one way, no hashing.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { it } from "vitest";
import { PendingConnection } from "../src/index.js";
import { identityOf } from "../test/jingle-helpers.js";

const SIZE = 256 * 1024 * 1024;

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const accepted = once(server, "connection");
  const client = connect({
    port: (server.address() as { port: number }).port,
    host: "127.0.0.1",
    allowHalfOpen: true,
  });
  const [srv] = (await accepted) as [Socket];
  await once(client, "connect");
  server.close();
  return [client, srv];
}

async function run(wrap: boolean): Promise<number> {
  const id = identityOf("bench@example.org");
  const [a, b] = await socketPair();
  const init = {
    peer: "p@x/y",
    sid: "s",
    streamhost: { jid: "j", host: "h", port: 1 },
    mediated: false,
    role: "target",
  } as const;
  const ca: Duplex = wrap ? new PendingConnection(a, "hold").open(init) : a;
  const cb: Duplex = wrap ? new PendingConnection(b, "hold").open(init) : b;
  const server = tls.createServer({ cert: id.certificatePem, key: id.privateKeyPem, minVersion: "TLSv1.3" });
  const serverSide = new Promise<tls.TLSSocket>((r) => server.once("secureConnection", r));
  server.emit("connection", cb);
  const client = tls.connect({ socket: ca as Socket, rejectUnauthorized: false, minVersion: "TLSv1.3" });
  await once(client, "secureConnect");
  const s = await serverSide;
  const block = randomBytes(1024 * 1024);
  const t0 = performance.now();
  let got = 0;
  const done = new Promise<void>((r) => {
    s.on("data", (c: Buffer) => {
      got += c.length;
      if (got >= SIZE) r();
    });
  });
  for (let sent = 0; sent < SIZE; sent += block.length) if (!client.write(block)) await once(client, "drain");
  await done;
  const seconds = (performance.now() - t0) / 1000;
  client.destroy();
  s.destroy();
  return SIZE / seconds / 1e6;
}

it("TLS over a socket vs over S5bStream", async () => {
  for (let i = 0; i < 3; i++)
    console.log(`plain ${(await run(false)).toFixed(0)} MB/s, wrapped ${(await run(true)).toFixed(0)} MB/s`);
}, 120_000);
