import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { auditIqReplies, type Element, LocalRouter, type RouteEvent, type XmppLink } from "@xtls/core";
import { expect } from "vitest";
import { type IbbStream, InBandBytestreams, type InBandBytestreamsOptions } from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";
export const MALLORY = "mallory@capulet.lit/arras";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

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

export const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

export function payload(bytes: number): Buffer {
  return randomBytes(bytes);
}

/**
 * Everything the stream delivers until its readable side ends. (Not `for await`: a
 * Readable's async iterator destroys the whole Duplex once the readable side ends,
 * which would cut off our own direction.)
 */
export function readAll(stream: Duplex): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
    stream.once("close", () => {
      if (!stream.readableEnded) reject(new Error("the stream closed before its readable side ended"));
    });
    stream.resume(); // also after an explicit pause()
  });
}

/** Writes `data` in slices, honouring backpressure, then closes our direction. */
export async function sendAll(stream: IbbStream, data: Buffer, slice = 64 * 1024): Promise<void> {
  for (let offset = 0; offset < data.length; offset += slice) {
    if (!stream.write(data.subarray(offset, offset + slice))) await once(stream, "drain");
  }
  await stream.close();
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

export const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await tick(2);
  }
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
