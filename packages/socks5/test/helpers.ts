import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type Element, LocalRouter, type RouteEvent, type XmppLink } from "@xtls/core";
import { onCleanup } from "@xtls/testkit/support";
import { type S5bStream, Socks5Bytestreams, type Socks5BytestreamsOptions } from "../src/index.js";

export { expectOneReplyPerRequest } from "@xtls/testkit/stanzas";
export {
  exchange,
  payload,
  readAll,
  readExactly,
  sendAll,
  sha256,
  writeAll,
} from "@xtls/testkit/streams";
export { cleanUp, onCleanup, tick, until } from "@xtls/testkit/support";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";
export const MALLORY = "mallory@capulet.lit/arras";
export const NS_S5B = "http://jabber.org/protocol/bytestreams";

/** A service on `link`, closed by `cleanUp()`. Proxies are off unless given. */
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

/** A loopback port nothing listens on (bound, then closed): connections are refused. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A net.Server on 127.0.0.1 with a free port, closed (with its sockets) by `cleanUp()`. */
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
