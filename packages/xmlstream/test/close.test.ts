// Closing (RFC 6120 §4.4; docs/protocol/mode-j.md#teardown-order): </stream:stream> both
// ways, then the underlying stream ends; waits are bounded.
import { TimeoutError, xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import { StreamClosedError } from "../src/index.js";
import { initiatingTo, outcome, respondingTo, stanzasOf } from "./helpers.js";

const settle = () => new Promise((r) => setImmediate(r));

describe("the peer closes", () => {
  it("we answer </stream:stream> with ours, end the Duplex, and close cleanly", async () => {
    const { peer, stream } = await respondingTo();
    const closes: Array<Error | undefined> = [];
    stream.onClose((e) => closes.push(e));
    await peer.write("</stream:stream>");
    await peer.until((p) => p.closeTag && p.ended);
    await expect(stream.closed).resolves.toBeUndefined();
    expect(closes).toEqual([undefined]);
    expect(stream.closedBy).toBe("peer");
    expect(stream.state).toBe("closed");
  });

  it("delivers what arrives before the peer's </stream:stream>, nothing after it", async () => {
    const { peer, stream } = await initiatingTo();
    const got = stanzasOf(stream);
    await peer.write(
      "<message><body>last words</body></message></stream:stream><message><body>x</body></message>",
    );
    await stream.closed;
    expect(got.map((s) => s.getChildText("body"))).toEqual(["last words"]);
  });
});

describe("we close", () => {
  it("sends </stream:stream>, keeps the Duplex open until the peer's, then ends it", async () => {
    const { peer, stream } = await initiatingTo();
    const closing = stream.close();
    await peer.until((p) => p.closeTag);
    await settle();
    expect(stream.state).toBe("closing");
    expect(peer.ended).toBe(false); // still waiting for the peer's closing tag
    await peer.write("</stream:stream>");
    await closing;
    expect(await outcome(stream)).toBe("clean");
    expect(peer.ended).toBe(true);
    expect(stream.closedBy).toBe("local");
  });

  it("still delivers the peer's stanzas until its </stream:stream> (RFC 6120 §4.4)", async () => {
    const { peer, stream } = await respondingTo();
    const got = stanzasOf(stream);
    const closing = stream.close();
    await peer.until((p) => p.closeTag);
    await peer.write("<message><body>parting is such sweet sorrow</body></message></stream:stream>");
    await closing;
    expect(got.map((s) => s.getChildText("body"))).toEqual(["parting is such sweet sorrow"]);
    expect(await outcome(stream)).toBe("clean");
  });

  it("waits a bounded time for a peer that never answers, then ends the Duplex: TimeoutError", async () => {
    const { peer, stream } = await initiatingTo({ closeTimeoutMs: 20 });
    await stream.close(); // never rejects
    const error = await outcome(stream);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/<\/stream:stream>/);
    await peer.until((p) => p.closeTag && p.ended);
    expect(stream.state).toBe("closed");
  });

  it("is idempotent, and the 'close' event fires once", async () => {
    const { peer, stream } = await respondingTo();
    let closes = 0;
    stream.on("close", () => closes++);
    const first = stream.close();
    const second = stream.close();
    await peer.until((p) => p.closeTag);
    await peer.write("</stream:stream>");
    await Promise.all([first, second, stream.close()]);
    await stream.close();
    expect(closes).toBe(1);
  });

  it("refuses to send once closing; a pending request fails when the stream closes", async () => {
    const { peer, stream } = await initiatingTo();
    const pending = stream.request(xml("iq", { type: "get" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    await peer.until((p) => p.elements.some((e) => e.name === "iq"));
    void stream.close();
    await expect(stream.send(xml("message", {}, xml("body", {}, "x")))).rejects.toBeInstanceOf(
      StreamClosedError,
    );
    await peer.write("</stream:stream>");
    await expect(pending).rejects.toBeInstanceOf(StreamClosedError);
    await expect(
      stream.request(xml("iq", { type: "get" }, xml("ping", { xmlns: "urn:xmpp:ping" }))),
    ).rejects.toBeInstanceOf(StreamClosedError);
  });
});

describe("destroy()", () => {
  it("tears the stream down at once, without the closing handshake", async () => {
    const { peer, stream, ours } = await respondingTo();
    stream.destroy();
    expect(stream.state).toBe("closed");
    expect(await outcome(stream)).toBeInstanceOf(StreamClosedError);
    expect(ours.destroyed).toBe(true);
    expect(peer.closeTag).toBe(false);
  });

  it("carries the caller's error", async () => {
    const { stream } = await initiatingTo();
    const why = new Error("the Jingle session was terminated");
    stream.destroy(why);
    expect(await outcome(stream)).toBe(why);
  });
});
