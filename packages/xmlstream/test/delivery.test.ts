// How received stanzas reach the application: 'stanza' events, the async iterator, and the
// bounded queue that holds them until someone listens (backpressure instead of memory).
import { xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import { StreamTruncatedError } from "../src/index.js";
import {
  eventually,
  initiatingTo,
  JULIET,
  openPair,
  outcome,
  ROMEO,
  respondingTo,
  STREAM_OPEN,
  stanzasOf,
  withRawPeer,
} from "./helpers.js";

const settle = () => new Promise((r) => setImmediate(r));
const messages = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `<message><body>${from + i}</body></message>`).join("");
const bodies = (n: number) => Array.from({ length: n }, (_, i) => String(i));

describe("before anyone listens", () => {
  it("keeps stanzas, in order, for the first listener", async () => {
    const { peer, stream } = await respondingTo();
    await peer.write(messages(5));
    await settle();
    const got = stanzasOf(stream);
    await eventually(() => got.length === 5);
    expect(got.map((s) => s.getChildText("body"))).toEqual(bodies(5));
  });

  it("stops reading when the queue is full (the peer is held back), and reads on when drained", async () => {
    const { peer, stream, ours } = await respondingTo({ queueLimit: 4 });
    await peer.write(messages(10));
    await settle();
    expect(ours.isPaused()).toBe(true);
    const got = stanzasOf(stream);
    await eventually(() => got.length === 10);
    expect(ours.isPaused()).toBe(false);
    await peer.write(messages(3, 10));
    await eventually(() => got.length === 13);
    expect(got.map((s) => s.getChildText("body"))).toEqual(bodies(13));
  });

  it("still sees the peer's </stream:stream> when we close with a full queue", async () => {
    const { peer, stream } = await initiatingTo({ queueLimit: 2 });
    await peer.write(messages(6));
    const closing = stream.close();
    await peer.until((p) => p.closeTag);
    await peer.write("</stream:stream>");
    await closing;
    expect(await outcome(stream)).toBe("clean");
    const late: string[] = [];
    for await (const s of stream) late.push(s.getChildText("body") ?? "");
    expect(late).toEqual(bodies(6)); // what waited is still there for a late reader
  });
});

describe("the 'stanza' event", () => {
  it("a once() listener gets exactly one; a listener that throws does not stop the others", async () => {
    const { peer, stream } = await respondingTo();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      let once = 0;
      stream.once("stanza", () => once++);
      stream.on("stanza", () => {
        throw new Error("listener bug");
      });
      const got = stanzasOf(stream);
      await peer.write(messages(3));
      await eventually(() => got.length === 3);
      await settle();
      expect(once).toBe(1);
      expect(warnings.some((w) => w.includes("listener bug"))).toBe(true);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("IQs go to handlers, not to 'stanza' listeners (XmppLink semantics)", async () => {
    const { peer, stream } = await respondingTo();
    const got = stanzasOf(stream);
    const before = peer.elements.length;
    await peer.write(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq><presence/>`);
    await peer.until((p) => p.elements.length === before + 1);
    expect(got.map((s) => s.name)).toEqual(["presence"]);
    // Nobody handles urn:xmpp:ping here: service-unavailable, addressed back to the peer.
    const reply = peer.elements[before];
    expect(reply?.attrs).toMatchObject({
      type: "error",
      id: "p1",
      to: "romeo@montague.lit/orchard",
      from: JULIET,
    });
    expect(reply?.getChild("error")?.getChild("service-unavailable")).toBeDefined();
  });
});

describe("handlers registered in setup", () => {
  // An IQ pipelined in the same chunk as the peer's stream header is read before
  // openXmlStream() resolves: only handlers registered in `setup` can answer it.
  it("answer an IQ that arrives in the same chunk as the peer's stream header; one registered after opening is too late", async () => {
    for (const when of ["setup", "after-open"] as const) {
      const answer = () => xml("query", { xmlns: "urn:example:early" });
      const setup = withRawPeer({
        role: "responder",
        ...(when === "setup"
          ? { setup: (s) => void s.handle("get", "urn:example:early", "query", answer) }
          : {}),
      });
      await setup.peer.write(
        `${STREAM_OPEN} from='${ROMEO}' to='${JULIET}'><iq type='get' id='e1'><query xmlns='urn:example:early'/></iq>`,
      );
      const stream = await setup.opening;
      if (when === "after-open") stream.handle("get", "urn:example:early", "query", answer);
      await setup.peer.until((p) => p.elements.some((e) => e.attrs.id === "e1"));
      const reply = setup.peer.elements.find((e) => e.attrs.id === "e1")!;
      expect(reply.attrs.type).toBe(when === "setup" ? "result" : "error");
      stream.destroy();
    }
  });
});

describe("the async iterator", () => {
  it("yields stanzas in order and ends when the peer closes the stream", async () => {
    const { romeo, juliet } = await openPair("duplexPair");
    const reading = (async () => {
      const got: string[] = [];
      for await (const s of juliet) got.push(s.getChildText("body") ?? "");
      return got;
    })();
    for (let i = 0; i < 20; i++) await romeo.send(xml("message", {}, xml("body", {}, String(i))));
    await romeo.close();
    expect(await reading).toEqual(bodies(20));
  });

  it("holds the peer back while the loop is slow (bounded buffer)", async () => {
    const { peer, stream, ours } = await respondingTo({ queueLimit: 4 });
    const iterator = stream[Symbol.asyncIterator]();
    await peer.write(messages(12));
    await settle();
    expect(ours.isPaused()).toBe(true);
    const got: string[] = [];
    for (let i = 0; i < 12; i++) {
      const next = await iterator.next();
      got.push(next.value?.getChildText("body") ?? "");
    }
    expect(got).toEqual(bodies(12));
    expect(ours.isPaused()).toBe(false);
  });

  it("throws the stream's error after yielding what arrived, when the stream is truncated", async () => {
    const { peer, stream } = await initiatingTo();
    await peer.write(messages(2));
    peer.duplex.end();
    const got: string[] = [];
    let thrown: unknown;
    try {
      for await (const s of stream) got.push(s.getChildText("body") ?? "");
    } catch (error) {
      thrown = error;
    }
    expect(got).toEqual(bodies(2));
    expect(thrown).toBeInstanceOf(StreamTruncatedError);
  });

  it("breaking out of the loop does not close the stream", async () => {
    const { peer, stream } = await respondingTo();
    await peer.write(messages(3));
    for await (const s of stream) {
      expect(s.getChildText("body")).toBe("0");
      break;
    }
    expect(stream.state).toBe("open");
    const got = stanzasOf(stream);
    await peer.write(messages(1, 3));
    await eventually(() => got.length >= 1);
    expect(got.map((s) => s.getChildText("body"))).toContain("3");
  });
});
