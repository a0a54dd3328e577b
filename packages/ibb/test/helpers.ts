import type { Duplex } from "node:stream";
import { type Element, LocalRouter, type RouteEvent, type XmppLink } from "@xtls/core";
import { type IbbStream, InBandBytestreams, type InBandBytestreamsOptions } from "../src/index.js";

export { conditionOf, expectOneReplyPerRequest } from "@xtls/testkit/stanzas";
export { exchange, payload, readAll, sendAll, sha256 } from "@xtls/testkit/streams";
export { tick, until } from "@xtls/testkit/support";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";
export const MALLORY = "mallory@capulet.lit/arras";

const routers: LocalRouter[] = [];
const services: InBandBytestreams[] = [];

/**
 * Ends every scene of a test (call in afterEach): streams a test left open are destroyed
 * first, so the routers closing does not fail them with an unhandled error.
 */
export function closeScenes(): void {
  for (const service of services.splice(0)) {
    for (const stream of service.streams) {
      stream.on("error", () => {});
      stream.destroy();
    }
  }
  for (const router of routers.splice(0)) router.close();
}

/** A service on `link`, cleaned up by {@link closeScenes}. */
export function ibb(link: XmppLink, options?: InBandBytestreamsOptions): InBandBytestreams {
  const service = new InBandBytestreams(link, options);
  services.push(service);
  return service;
}

/**
 * Romeo and Juliet on an embedded router, each with an IBB service; Juliet accepts
 * unsolicited opens unless told otherwise. `wire` is the transcript of every stanza.
 */
export function scene(options: { romeo?: InBandBytestreamsOptions; juliet?: InBandBytestreamsOptions } = {}) {
  const router = new LocalRouter();
  routers.push(router);
  const wire: RouteEvent[] = [];
  router.observe((event) => wire.push(event));
  const romeoLink = router.createLink(ROMEO);
  const julietLink = router.createLink(JULIET);
  const romeo = ibb(romeoLink, options.romeo);
  const juliet = ibb(julietLink, { accept: () => true, ...options.juliet });
  return { router, wire, romeo, juliet, romeoLink, julietLink };
}

/** Romeo opens a bytestream to Juliet; both ends. */
export async function openPair(
  romeo: InBandBytestreams,
  juliet: InBandBytestreams,
  options: Parameters<InBandBytestreams["open"]>[1] = {},
): Promise<{ ours: IbbStream; theirs: IbbStream }> {
  const theirs = nextStream(juliet);
  const ours = await romeo.open(JULIET, options);
  return { ours, theirs: await theirs };
}

export function nextStream(service: InBandBytestreams): Promise<IbbStream> {
  return new Promise((resolve) => service.once("stream", resolve));
}

/** Resolves with the error the stream is destroyed with (or undefined on a clean close). */
export function outcome(stream: Duplex): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    stream.on("error", (e) => {
      error = e;
    });
    stream.on("close", () => resolve(error));
  });
}

/** The IBB payload (`open`, `data`, `close`) of a transcript entry, if any. */
export function ibbChild(stanza: Element): Element | undefined {
  return stanza
    .getChildElements()
    .find(
      (c) => c.getNS() === "http://jabber.org/protocol/ibb" && ["open", "data", "close"].includes(c.name),
    );
}

/** The transcript entries carrying an IBB `<name/>` sent by `from`. */
export function sent(wire: RouteEvent[], from: string, name: "open" | "data" | "close"): RouteEvent[] {
  return wire.filter((e) => e.from === from && ibbChild(e.stanza)?.name === name);
}
