// Our own streamhost, spoken to byte by byte: RFC 1928 CONNECT as XEP-0065 §5.3.2
// profiles it, with every way a client can get it wrong.
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { connectStreamhost, dstAddr, S5bStreamhostError, StreamhostListener } from "../src/index.js";
import { cleanUp, JULIET, onCleanup, ROMEO, readAll, tick, until } from "./helpers.js";

afterEach(cleanUp);

const HASH = dstAddr("sid-1", ROMEO, JULIET);
const OTHER = dstAddr("sid-2", ROMEO, JULIET);

async function listener(options: ConstructorParameters<typeof StreamhostListener>[0] = {}) {
  const l = new StreamhostListener(options);
  onCleanup(() => l.close());
  await l.listen();
  return l;
}

const greeting = Buffer.from([5, 1, 0]);
function request(hash: string, cmd = 1): Buffer {
  return Buffer.concat([
    Buffer.from([5, cmd, 0, 3, hash.length]),
    Buffer.from(hash, "latin1"),
    Buffer.from([0, 0]),
  ]);
}

/** A raw TCP client that collects what the listener sends until it closes. */
async function rawClient(port: number) {
  const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  onCleanup(() => {
    socket.destroy();
  });
  socket.on("error", () => {});
  let received = Buffer.alloc(0);
  socket.on("data", (d: Buffer) => {
    received = Buffer.concat([received, d]);
  });
  // Closed, or ended by the listener (this socket is half-open, like a SOCKS client's).
  const closed = new Promise<void>((resolve) => {
    socket.once("close", () => resolve());
    socket.once("end", () => resolve());
  });
  await once(socket, "connect");
  return {
    socket,
    closed,
    received: () => received,
    async write(bytes: Buffer, oneByOne = false) {
      if (!oneByOne) {
        socket.write(bytes);
        return;
      }
      for (const b of bytes) {
        socket.write(Buffer.from([b]));
        await tick(1);
      }
    },
  };
}

function successReply(hash: string): Buffer {
  return Buffer.concat([Buffer.from([5, 0, 5, 0, 0, 3, 40]), Buffer.from(hash), Buffer.from([0, 0])]);
}

describe("StreamhostListener", () => {
  it("takes a greeting and a request coalesced in one segment", async () => {
    const l = await listener();
    const expectation = l.expect(HASH, "hold");
    const client = await rawClient(l.address!.port);
    await client.write(Buffer.concat([greeting, request(HASH)]));
    const held = await expectation.next();
    await until(() => client.received().length >= 49);
    expect(client.received()).toEqual(successReply(HASH));
    expect(held.alive).toBe(true);
  });

  it("takes a client that writes one byte at a time", async () => {
    const l = await listener();
    const expectation = l.expect(HASH, "hold");
    const client = await rawClient(l.address!.port);
    await client.write(Buffer.concat([Buffer.from([5, 2, 2, 0]), request(HASH.toUpperCase())]), true);
    await expectation.next();
    await until(() => client.received().length >= 49);
    // The reply echoes DST.ADDR exactly as sent (BND = DST); the hash compares case-insensitively.
    expect(client.received()).toEqual(
      Buffer.concat([
        Buffer.from([5, 0, 5, 0, 0, 3, 40]),
        Buffer.from(HASH.toUpperCase()),
        Buffer.from([0, 0]),
      ]),
    );
  });

  it("refuses a DST.ADDR it does not expect (REP 02) and closes; the expected one still works", async () => {
    const l = await listener();
    const refused: string[] = [];
    l.on("refused", (r) => refused.push(`${r.reason}:${r.dstAddr}`));
    const expectation = l.expect(HASH, "hold");
    const wrong = await rawClient(l.address!.port);
    await wrong.write(Buffer.concat([greeting, request(OTHER)]));
    await wrong.closed;
    expect(wrong.received().subarray(0, 4)).toEqual(Buffer.from([5, 0, 5, 2]));
    expect(refused).toEqual([`unexpected-dstaddr:${OTHER}`]);
    expect(expectation.connection).toBeUndefined();

    const right = await rawClient(l.address!.port);
    await right.write(Buffer.concat([greeting, request(HASH)]));
    const held = await expectation.next();
    // A second connection for a hash already held is refused; the first is untouched.
    const second = await rawClient(l.address!.port);
    await second.write(Buffer.concat([greeting, request(HASH)]));
    await second.closed;
    expect(second.received().subarray(0, 4)).toEqual(Buffer.from([5, 0, 5, 2]));
    expect(refused).toEqual([`unexpected-dstaddr:${OTHER}`, `dstaddr-taken:${HASH}`]);
    expect(held.alive).toBe(true);
    right.socket.write("after the handshake");
    right.socket.end();
    const stream = expectation.claim()!.open({
      peer: JULIET,
      sid: "sid-1",
      streamhost: { jid: ROMEO, host: "127.0.0.1", port: l.address!.port },
      mediated: false,
      role: "requester",
    });
    expect((await readAll(stream)).toString()).toBe("after the handshake");
  });

  it("answers a greeting without 'no authentication' with 05 FF and closes", async () => {
    const l = await listener();
    const client = await rawClient(l.address!.port);
    await client.write(Buffer.from([5, 1, 2]));
    await client.closed;
    expect(client.received()).toEqual(Buffer.from([5, 0xff]));
  });

  it("closes on a SOCKS4 or garbage greeting without answering", async () => {
    const l = await listener();
    const client = await rawClient(l.address!.port);
    await client.write(Buffer.from("GET / HTTP/1.1\r\n\r\n"));
    await client.closed;
    expect(client.received().length).toBe(0);
  });

  it("refuses BIND (REP 07) and an IPv4 destination (REP 08)", async () => {
    const l = await listener();
    l.expect(HASH, "hold");
    const bind = await rawClient(l.address!.port);
    await bind.write(Buffer.concat([greeting, request(HASH, 2)]));
    await bind.closed;
    expect(bind.received().subarray(2, 4)).toEqual(Buffer.from([5, 7]));
    const ipv4 = await rawClient(l.address!.port);
    await ipv4.write(Buffer.concat([greeting, Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 80])]));
    await ipv4.closed;
    expect(ipv4.received().subarray(2, 4)).toEqual(Buffer.from([5, 8]));
  });

  it("closes a connection that does not finish its handshake in time", async () => {
    const l = await listener({ handshakeTimeoutMs: 100 });
    const reasons: string[] = [];
    l.on("refused", (r) => reasons.push(r.reason));
    const client = await rawClient(l.address!.port);
    await client.write(greeting);
    await client.closed;
    expect(reasons).toEqual(["timeout"]);
  });

  it("'hold' keeps bytes sent right after the request; 'discard' drops them", async () => {
    const l = await listener();
    const hold = l.expect(HASH, "hold");
    const discard = l.expect(OTHER, "discard");
    const a = await rawClient(l.address!.port);
    const b = await rawClient(l.address!.port);
    await a.write(Buffer.concat([greeting, request(HASH), Buffer.from("early")]));
    await b.write(Buffer.concat([greeting, request(OTHER), Buffer.from("early")]));
    const heldA = await hold.next();
    const heldB = await discard.next();
    await until(() => heldB.discarded === 5);
    const init = {
      peer: JULIET,
      sid: "s",
      streamhost: { jid: ROMEO, host: "h", port: 1 },
      mediated: false,
      role: "requester",
    } as const;
    const [streamA, streamB] = [heldA.open(init), heldB.open(init)];
    a.socket.end("+late");
    b.socket.end("late");
    expect((await readAll(streamA)).toString()).toBe("early+late");
    expect((await readAll(streamB)).toString()).toBe("late");
  });

  it("release() closes a held connection; close() closes the listener and everything unclaimed", async () => {
    const l = await listener();
    const expectation = l.expect(HASH, "discard");
    const client = await rawClient(l.address!.port);
    await client.write(Buffer.concat([greeting, request(HASH)]));
    await expectation.next();
    expectation.release();
    await client.closed;
    expect(l.expecting).toBe(0);
    const again = l.expect(HASH, "discard");
    const other = await rawClient(l.address!.port);
    await other.write(Buffer.concat([greeting, request(HASH)]));
    await again.next();
    await l.close();
    await other.closed;
    await expect(rawClient(l.address?.port ?? 1)).rejects.toThrow();
  });

  it("the `socks` client (connectStreamhost) completes CONNECT with it; a wrong hash fails typed", async () => {
    const l = await listener();
    const expectation = l.expect(HASH, "hold");
    const ours = await connectStreamhost({ host: "127.0.0.1", port: l.address!.port }, HASH, {
      timeoutMs: 5000,
    });
    onCleanup(() => ours.destroy());
    const theirs = await expectation.next();
    expect(theirs.alive && ours.alive).toBe(true);
    const error = await connectStreamhost({ host: "127.0.0.1", port: l.address!.port }, OTHER, {
      timeoutMs: 5000,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(S5bStreamhostError);
    expect(String((error as Error).message)).toMatch(/NotAllowed|rejected/i);
  });

  it("connectStreamhost: refused port, timeout and abort are typed errors, and leave no socket behind", async () => {
    const silent: Socket[] = [];
    const { createServer } = await import("node:net");
    const server = createServer((s) => {
      silent.push(s); // accepts, reads, never answers
      s.on("error", () => {});
      s.resume();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    onCleanup(async () => {
      for (const s of silent) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const port = (server.address() as { port: number }).port;
    const timeout = await connectStreamhost({ host: "127.0.0.1", port }, HASH, { timeoutMs: 100 }).catch(
      (e) => e,
    );
    expect(timeout).toBeInstanceOf(S5bStreamhostError);
    expect((timeout as Error).message).toMatch(/did not complete within 100 ms/);
    const abort = new AbortController();
    const aborted = connectStreamhost({ host: "127.0.0.1", port }, HASH, {
      timeoutMs: 5000,
      signal: abort.signal,
    });
    abort.abort();
    await expect(aborted).rejects.toMatchObject({ code: "aborted" });
    await until(() => silent.every((s) => s.destroyed || s.readableEnded));
  });
});
