// Stream headers (XEP-0246 §4, RFC 6120 §4.7; docs/protocol/xml-stream.md#stream-header-addresses): what we send, and every
// header we refuse, played against a scripted raw peer.
import { duplexPair, NS, xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import {
  StreamClosedError,
  StreamError,
  type StreamErrorCondition,
  StreamTruncatedError,
  XmlStream,
} from "../src/index.js";
import { JULIET, RawPeer, ROMEO, STREAM_OPEN, stanzasOf, withRawPeer } from "./helpers.js";

describe("the headers we send", () => {
  it("initiator: full JIDs, jabber:client, the streams namespace, version 1.0, no id, nothing else", async () => {
    const { peer } = withRawPeer({ role: "initiator" });
    await peer.until((p) => p.header !== undefined);
    expect(peer.header?.getName()).toBe("stream");
    expect(peer.header?.getNS()).toBe(NS.STREAMS);
    expect(peer.header?.attrs).toEqual({
      xmlns: NS.CLIENT,
      "xmlns:stream": NS.STREAMS,
      from: ROMEO,
      to: JULIET,
      version: "1.0",
    });
    expect(peer.text).not.toContain("<?xml"); // like the draft's examples
  });

  it("responder: answers a valid header with its own (with a random id) and an empty <stream:features/>", async () => {
    const { peer, opening } = withRawPeer({ role: "responder" });
    await new Promise((r) => setImmediate(r));
    expect(peer.text).toBe(""); // the responder speaks second
    await peer.write(`${STREAM_OPEN} from='${ROMEO}' to='${JULIET}'>`);
    const stream = await opening;
    await peer.until((p) => p.elements.length === 1);
    expect(peer.header?.attrs).toMatchObject({ from: JULIET, to: ROMEO, version: "1.0", xmlns: NS.CLIENT });
    expect(peer.header?.attrs.id).toBe(stream.id);
    const features = peer.elements[0];
    expect(features?.getName()).toBe("features");
    expect(features?.getNS()).toBe(NS.STREAMS);
    expect(features?.children).toEqual([]); // no STARTTLS: TLS already sits below the stream
  });

  it("gives each stream its own unpredictable id", async () => {
    const ids = new Set<string | undefined>();
    for (let i = 0; i < 3; i++) {
      const { peer, opening } = withRawPeer({ role: "responder" });
      await peer.write(`${STREAM_OPEN} from='${ROMEO}' to='${JULIET}'>`);
      ids.add((await opening).id);
    }
    expect(ids.size).toBe(3);
  });
});

describe("the headers we accept", () => {
  it("initiator: a responder that sends no <stream:features/> at all", async () => {
    const { peer, opening } = withRawPeer({ role: "initiator" });
    await peer.write(
      `${STREAM_OPEN} from='${JULIET}' to='${ROMEO}' id='x1'><message><body>hi</body></message>`,
    );
    const stream = await opening;
    const got = stanzasOf(stream);
    await new Promise((r) => setImmediate(r));
    expect(got.map((s) => s.getChildText("body"))).toEqual(["hi"]);
    expect(stream.id).toBe("x1");
  });

  it("an XML declaration, a byte-order mark and whitespace before the header (RFC 6120 §11.5)", async () => {
    const { peer, opening } = withRawPeer({ role: "responder" });
    await peer.write("\ufeff<?xml version='1.0' encodi");
    await peer.write("ng='UTF-8'?>\n  ");
    await peer.write(`${STREAM_OPEN} from='${ROMEO}' to='${JULIET}'>`);
    await expect(opening).resolves.toBeDefined();
  });

  it("another resource of the peer's account, our bare JID, a minor version above ours, no from/to", async () => {
    for (const attrs of [
      "from='romeo@montague.lit/garden' to='juliet@capulet.lit'",
      `from='${ROMEO}' to='juliet@capulet.lit/chamber'`,
      "",
    ]) {
      const { peer, opening } = withRawPeer({ role: "responder" });
      await peer.write(`${STREAM_OPEN.replace("'1.0'", "'1.1'")} ${attrs}>`);
      await expect(opening).resolves.toBeDefined();
    }
  });
});

describe("the headers we refuse: stream error, then </stream:stream>, nothing delivered", () => {
  const cases: Array<[string, string, StreamErrorCondition]> = [
    [
      "a wrong streams namespace",
      `<stream:stream xmlns='jabber:client' xmlns:stream='urn:example:streams' from='${ROMEO}' version='1.0'>`,
      "invalid-namespace",
    ],
    [
      "a content namespace other than jabber:client",
      `<stream:stream xmlns='jabber:server' xmlns:stream='${NS.STREAMS}' from='${ROMEO}' version='1.0'>`,
      "invalid-namespace",
    ],
    [
      "no content namespace",
      `<stream:stream xmlns:stream='${NS.STREAMS}' from='${ROMEO}' version='1.0'>`,
      "invalid-namespace",
    ],
    [
      "a stanza where the header belongs",
      `<message xmlns='jabber:client'><body>hi</body></message>`,
      "invalid-namespace",
    ],
    [
      "no version",
      `<stream:stream xmlns='jabber:client' xmlns:stream='${NS.STREAMS}' from='${ROMEO}'>`,
      "unsupported-version",
    ],
    ["version 2.0", `${STREAM_OPEN.replace("'1.0'", "'2.0'")} from='${ROMEO}'>`, "unsupported-version"],
    [
      "a malformed version",
      `${STREAM_OPEN.replace("'1.0'", "'one'")} from='${ROMEO}'>`,
      "unsupported-version",
    ],
    [
      "a header from another account",
      `${STREAM_OPEN} from='tybalt@capulet.lit/sword' to='${JULIET}'>`,
      "invalid-from",
    ],
    ["a header from a malformed JID", `${STREAM_OPEN} from='@montague.lit' to='${JULIET}'>`, "invalid-from"],
    [
      "a header to another account",
      `${STREAM_OPEN} from='${ROMEO}' to='nurse@capulet.lit/kitchen'>`,
      "host-unknown",
    ],
    [
      "a non-UTF-8 XML declaration",
      `<?xml version='1.0' encoding='ISO-8859-1'?>${STREAM_OPEN}>`,
      "unsupported-encoding",
    ],
    [
      "a processing instruction before the header",
      `<?xml-stylesheet href='x'?>${STREAM_OPEN}>`,
      "restricted-xml",
    ],
    ["a comment before the header", `<!-- hi -->${STREAM_OPEN}>`, "restricted-xml"],
  ];

  it.each(cases)("responder refuses %s", async (_, header, condition) => {
    const { peer, opening } = withRawPeer({ role: "responder" });
    await peer.write(header);
    const error = await opening.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({ condition, origin: "local" });
    await peer.until((p) => p.closeTag && p.ended);
    // RFC 6120 §4.9.1.2: our header first, then the error, then the closing tag.
    expect(peer.header?.attrs).toMatchObject({ from: JULIET, to: ROMEO, version: "1.0" });
    expect(peer.elements).toHaveLength(1);
    expect(peer.elements[0]?.getName()).toBe("error");
    expect(peer.elements[0]?.getChild(condition, NS.STREAM_ERRORS)).toBeDefined();
    expect(peer.text).not.toContain("<stream:features/>");
  });

  it("initiator refuses a responder header from another account, and delivers nothing that follows", async () => {
    const { peer, opening } = withRawPeer({ role: "initiator" });
    await peer.write(
      `${STREAM_OPEN} from='tybalt@capulet.lit/sword' to='${ROMEO}' id='t'><message><body>x</body></message>`,
    );
    await expect(opening).rejects.toSatisfy((e) => StreamError.is(e, "invalid-from", "local"));
    await peer.until((p) => p.closeTag);
    expect(peer.elements.map((e) => e.getName())).toEqual(["error"]);
  });

  it("initiator refuses a responder header addressed to another account (host-unknown)", async () => {
    const { peer, opening } = withRawPeer({ role: "initiator" });
    await peer.write(`${STREAM_OPEN} from='${JULIET}' to='benvolio@montague.lit/square' id='t'>`);
    await expect(opening).rejects.toSatisfy((e) => StreamError.is(e, "host-unknown", "local"));
  });

  it("a peer that closes the stream right after its header: it opens, then closes cleanly", async () => {
    const { peer, opening } = withRawPeer({ role: "initiator" });
    await peer.write(`${STREAM_OPEN} from='${JULIET}' to='${ROMEO}' id='t'/>`);
    const stream = await opening;
    await expect(stream.closed).resolves.toBeUndefined();
    expect(stream.closedBy).toBe("peer");
    await peer.until((p) => p.closeTag && p.ended);
  });

  it("a message is never delivered by a stream whose header was refused", async () => {
    const { peer, opening, ours } = withRawPeer({ role: "responder" });
    const sent = xml("message", {}, xml("body", {}, "never"));
    await peer.write(`${STREAM_OPEN.replace("'1.0'", "'0.9'")} from='${ROMEO}'>${sent}`);
    await expect(opening).rejects.toBeInstanceOf(StreamError);
    expect(ours.destroyed || ours.writableEnded).toBe(true);
  });
});

describe("opening", () => {
  it("times out when the peer never answers, telling it <connection-timeout/>", async () => {
    const { peer, opening } = withRawPeer({ role: "initiator", timeoutMs: 20 });
    await expect(opening).rejects.toMatchObject({ name: "TimeoutError" });
    await peer.until((p) => p.closeTag);
    expect(peer.elements[0]?.getChild("connection-timeout", NS.STREAM_ERRORS)).toBeDefined();
  });

  it("honours an AbortSignal", async () => {
    const controller = new AbortController();
    const { peer, opening } = withRawPeer({ role: "initiator", signal: controller.signal });
    await peer.until((p) => p.header !== undefined);
    controller.abort(new Error("the user gave up"));
    await expect(opening).rejects.toMatchObject({ name: "AbortError" });
    await peer.until((p) => p.closeTag && p.ended);
    const aborted = new AbortController();
    aborted.abort();
    const second = withRawPeer({ role: "responder", signal: aborted.signal });
    await expect(second.opening).rejects.toMatchObject({ name: "AbortError" });
  });

  it("refuses JIDs that are not full JIDs", async () => {
    await expect(withRawPeer({ role: "initiator", peerJid: "juliet@capulet.lit" }).opening).rejects.toThrow(
      /must be a full JID/,
    );
  });

  it("close() while opening fails the opening and closes our side", async () => {
    const [ours, theirs] = duplexPair();
    const peer = new RawPeer(theirs);
    const stream = new XmlStream(ours, { role: "initiator", localJid: ROMEO, peerJid: JULIET });
    await peer.until((p) => p.header !== undefined);
    await stream.close();
    await expect(stream.opened).rejects.toBeInstanceOf(StreamClosedError);
    await expect(stream.closed).rejects.toBeInstanceOf(StreamClosedError);
    await peer.until((p) => p.closeTag && p.ended);
  });

  it("a transport that closes while opening fails the opening", async () => {
    const { opening, ours } = withRawPeer({ role: "responder" });
    ours.destroy();
    await expect(opening).rejects.toBeInstanceOf(StreamTruncatedError);
  });
});
