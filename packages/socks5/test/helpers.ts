import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { auditIqReplies, type Element, LocalRouter, type RouteEvent, type XmppLink } from "@xtls/core";
import { expect } from "vitest";
import { type S5bStream, Socks5Bytestreams, type Socks5BytestreamsOptions } from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";
export const MALLORY = "mallory@capulet.lit/arras";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
export const NS_S5B = "http://jabber.org/protocol/bytestreams";

const cleanups: Array<() => void | Promise<void>> = [];

/** Runs at the end of the test (call {@link cleanUp} in afterEach). */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

/** Ends every scene of a test: services, servers and routers the test made. */
export async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // a cleanup must not hide the test's own result
    }
  }
}

/** A service on `link`, closed by {@link cleanUp}. Proxies are off unless given. */
export function socks5(link: XmppLink, options: Socks5BytestreamsOptions = {}): Socks5Bytestreams {
  const service = new Socks5Bytestreams(link, { proxies: false, ...options });
  onCleanup(async () => {
    for (const stream of service.streams) stream.on("error", () => {});
    await service.close();
  });
  return service;
}

export function router(): LocalRouter {
  const r = new LocalRouter();
  onCleanup(() => r.close());
  return r;
}

/**
 * Romeo and Juliet on an embedded router, each with a SOCKS5 Bytestreams service;
 * Juliet accepts unsolicited offers unless told otherwise. `wire` is the transcript.
 */
export function scene(options: { romeo?: Socks5BytestreamsOptions; juliet?: Socks5BytestreamsOptions } = {}) {
  const r = router();
  const wire: RouteEvent[] = [];
  r.observe((event) => wire.push(event));
  const romeoLink = r.createLink(ROMEO);
  const julietLink = r.createLink(JULIET);
  const romeo = socks5(romeoLink, options.romeo);
  const juliet = socks5(julietLink, { accept: () => true, ...options.juliet });
  return { router: r, wire, romeo, juliet, romeoLink, julietLink };
}

export function nextStream(service: Socks5Bytestreams): Promise<S5bStream> {
  return new Promise((resolve) => service.once("stream", resolve));
}

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export function payload(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Everything the stream delivers until its readable side ends (not `for await`: it would destroy the Duplex). */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
    stream.once("close", () => {
      if (!stream.readableEnded) reject(new Error("the stream closed before its readable side ended"));
    });
    stream.resume();
  });
}

/** Writes `data` in slices, honouring backpressure, then ends our direction. */
export async function sendAll(stream: Duplex, data: Buffer, slice = 64 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += slice) {
    if (!stream.write(data.subarray(offset, offset + slice))) await once(stream, "drain");
  }
  await new Promise<void>((resolve, reject) => {
    stream.once("error", reject);
    stream.end(() => resolve());
  });
}

/** Exactly `n` octets (pausing what comes after), without waiting for an end of stream. */
export function readExactly(stream: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) {
        stream.off("data", onData);
        stream.pause();
        resolve(Buffer.concat(chunks));
      }
    };
    stream.on("data", onData);
    stream.once("error", reject);
  });
}

export async function writeAll(stream: Duplex, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; offset += 64 * 1024) {
    if (!stream.write(data.subarray(offset, offset + 64 * 1024))) await once(stream, "drain");
  }
}

/** How the stream ended: `"end"` (clean end of stream), or the error it was destroyed with. */
export function outcome(stream: Duplex): Promise<"end" | Error | "closed"> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    stream.on("error", (e) => {
      error = e;
    });
    stream.once("end", () => resolve("end"));
    stream.once("close", () => resolve(error ?? "closed"));
  });
}

export const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await tick(2);
  }
}

/** A loopback port nothing listens on (bound, then closed): connections are refused. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A net.Server on 127.0.0.1 with a free port, closed (with its sockets) by {@link cleanUp}. */
export async function tcpServer(
  onConnection: (socket: Socket) => void,
): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onCleanup(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as { port: number }).port };
}

/** The S5B `<query/>` (or Jingle transport) child of a transcript entry, if any. */
export function s5bQuery(stanza: Element): Element | undefined {
  return stanza.getChild("query", NS_S5B);
}

/** The defined condition of an error stanza. */
export function conditionOf(stanza: Element): string | undefined {
  return stanza
    .getChild("error")
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== "text")?.name;
}

/**
 * Every IQ get/set on the wire got exactly one result or error, and no reply went
 * unrequested (RFC 6120 §8.2.3). Waits (up to 2 s) for requests still in flight.
 */
export async function expectOneReplyPerRequest(wire: RouteEvent[]): Promise<void> {
  const count = () => auditIqReplies(wire);
  await until(() => [...count().requests.values()].every((n) => n >= 1), 2000).catch(() => {});
  const { requests, stray } = count();
  expect(stray).toEqual([]);
  for (const [key, n] of requests) expect(n, `replies to ${key}`).toBe(1);
}
