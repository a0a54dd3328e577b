// What an open stream refuses (docs/protocol/xml-stream.md#stamping-inner-stanzas; RFC 6120 §4.9): each case
// ends the stream with a stream error sent to the peer, and the offending stanza is never
// delivered. Played against a scripted raw peer.
import { NS, xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import { StreamError, type StreamErrorCondition, StreamTruncatedError } from "../src/index.js";
import {
  eventually,
  initiatingTo,
  JULIET,
  outcome,
  type RawPeer,
  ROMEO,
  respondingTo,
  stanzasOf,
} from "./helpers.js";

const MESSAGE = `<message><body>before</body></message>`;

/** Writes a good message, then `bad`; expects the good one delivered, then `condition`. */
async function expectRefused(
  peer: RawPeer,
  stream: Awaited<ReturnType<typeof respondingTo>>["stream"],
  bad: string,
  condition: StreamErrorCondition,
) {
  const got = stanzasOf(stream);
  const sent = peer.elements.length;
  await peer.write(MESSAGE);
  await eventually(() => got.length === 1);
  await peer.write(bad);
  const error = await outcome(stream);
  expect(error).toBeInstanceOf(StreamError);
  expect(error).toMatchObject({ condition, origin: "local" });
  expect(got.map((s) => s.getChildText("body"))).toEqual(["before"]);
  // On the wire: <stream:error><condition xmlns='…xmpp-streams'/><text/></stream:error></stream:stream>
  await peer.until((p) => p.closeTag && p.ended);
  const streamError = peer.elements[sent];
  expect(streamError?.getName()).toBe("error");
  expect(streamError?.getNS()).toBe(NS.STREAMS);
  expect(streamError?.getChild(condition, NS.STREAM_ERRORS)).toBeDefined();
  expect(streamError?.getChild("text", NS.STREAM_ERRORS)?.text()).toBeTruthy();
  expect(peer.elements).toHaveLength(sent + 1);
  expect(stream.state).toBe("closed");
  return error as StreamError;
}

describe("addressing: the peer cannot speak for anyone else, nor to anyone else", () => {
  it.each<[string, string, StreamErrorCondition]>([
    [
      "a spoofed from (a third party)",
      `<message from='tybalt@capulet.lit/sword'><body>x</body></message>`,
      "invalid-from",
    ],
    [
      "a from naming the peer's other resource",
      `<message from='romeo@montague.lit/garden'/>`,
      "invalid-from",
    ],
    ["a from naming us", `<presence from='${JULIET}'/>`, "invalid-from"],
    ["a malformed from", `<message from='romeo@@montague.lit'/>`, "improper-addressing"],
    [
      "a to naming someone else",
      `<message to='nurse@capulet.lit/kitchen'><body>x</body></message>`,
      "improper-addressing",
    ],
    [
      "a to naming our other resource",
      `<iq type='get' id='q' to='juliet@capulet.lit/chamber'><ping xmlns='urn:xmpp:ping'/></iq>`,
      "improper-addressing",
    ],
  ])("refuses %s", async (_, bad, condition) => {
    const { peer, stream } = await respondingTo();
    const error = await expectRefused(peer, stream, bad, condition);
    expect(error.message).toMatch(/broke the protocol/);
  });

  it("accepts the peer's full or bare JID as from, and ours as to; stamps full JIDs", async () => {
    const { peer, stream } = await respondingTo();
    const got = stanzasOf(stream);
    await peer.write(
      `<message from='${ROMEO}' to='${JULIET}'><body>1</body></message>` +
        `<message from='romeo@montague.lit' to='juliet@capulet.lit'><body>2</body></message>` +
        `<message><body>3</body></message>`,
    );
    await eventually(() => got.length === 3);
    expect(got.map((s) => [s.attrs.from, s.attrs.to, s.getChildText("body")])).toEqual([
      [ROMEO, JULIET, "1"],
      [ROMEO, JULIET, "2"],
      [ROMEO, JULIET, "3"],
    ]);
    expect(stream.state).toBe("open");
  });
});

describe("only stanzas at the top level", () => {
  it.each<[string, string]>([
    ["an unknown element", `<foo xmlns='jabber:client'/>`],
    ["a stanza name in another namespace", `<iq xmlns='urn:example:not-client' type='get' id='1'/>`],
    ["a jabber:server stanza", `<message xmlns='jabber:server'><body>x</body></message>`],
    ["stream features after stanzas", `<stream:features/>`],
    ["an unknown element in the streams namespace", `<stream:foo/>`],
  ])("refuses %s with unsupported-stanza-type", async (_, bad) => {
    const { peer, stream } = await initiatingTo();
    await expectRefused(peer, stream, bad, "unsupported-stanza-type");
  });

  it("refuses <stream:features/> from the initiator, and a second one from the responder", async () => {
    const responder = await respondingTo();
    await expectRefused(responder.peer, responder.stream, "<stream:features/>", "unsupported-stanza-type");
    const initiator = await initiatingTo(); // its raw responder already sent one
    await initiator.peer.write("<stream:features/>");
    await expect(outcome(initiator.stream)).resolves.toMatchObject({ condition: "unsupported-stanza-type" });
  });
});

describe("restricted XML (RFC 6120 §11.1) and limits", () => {
  it.each<[string, string, StreamErrorCondition]>([
    ["a comment", `<message><!-- x --><body>x</body></message>`, "restricted-xml"],
    ["a processing instruction", `<?php echo 1; ?>`, "restricted-xml"],
    ["a DTD", `<!DOCTYPE message [<!ENTITY x 'y'>]>`, "restricted-xml"],
    [
      "an undefined entity (the draft's &apost;)",
      `<message><body>M&apost;lady</body></message>`,
      "restricted-xml",
    ],
    ["mismatched tags", `<message><body>x</message></body>`, "not-well-formed"],
    ["text between stanzas", `hello<message/>`, "not-well-formed"],
    ["a reference to a character XML forbids", `<message><body>&#0;</body></message>`, "restricted-xml"],
    // core's parser used to read this as b="x" and drop the 'to' (found by the fuzz suite).
    ["an attribute without a value", `<message b to='x'><body>x</body></message>`, "not-well-formed"],
    // Undeclaring a prefix is XML 1.1 only (Namespaces in XML 1.0 §3); ltx took it.
    [
      "a prefix undeclared with xmlns:p=''",
      `<message xmlns:p=''><body>x</body></message>`,
      "not-well-formed",
    ],
  ])("refuses %s", async (_, bad, condition) => {
    const { peer, stream } = await respondingTo();
    await expectRefused(peer, stream, bad, condition);
  });

  it("refuses invalid UTF-8 with not-well-formed", async () => {
    const { peer, stream } = await respondingTo();
    peer.duplex.write(Buffer.from([0x3c, 0x6d, 0xff, 0xfe, 0x3e])); // "<m\xff\xfe>"
    await expect(outcome(stream)).resolves.toMatchObject({ condition: "not-well-formed", origin: "local" });
  });

  it("refuses a stanza larger than maxStanzaBytes with policy-violation", async () => {
    const { peer, stream } = await respondingTo({ maxStanzaBytes: 4096 });
    await expectRefused(
      peer,
      stream,
      `<message><body>${"x".repeat(10_000)}</body></message>`,
      "policy-violation",
    );
  });

  it("refuses nesting deeper than maxDepth with policy-violation", async () => {
    const { peer, stream } = await respondingTo({ maxDepth: 8 });
    const deep = `${"<x>".repeat(20)}${"</x>".repeat(20)}`;
    await expectRefused(peer, stream, `<message>${deep}</message>`, "policy-violation");
  });

  it("accepts many small stanzas arriving in one chunk larger than maxStanzaBytes", async () => {
    const { peer, stream } = await respondingTo({ maxStanzaBytes: 4096 });
    const got = stanzasOf(stream);
    const batch = Array.from({ length: 200 }, (_, i) => `<message><body>${i}</body></message>`).join("");
    expect(batch.length).toBeGreaterThan(4096);
    await peer.write(batch);
    await eventually(() => got.length === 200);
    expect(got.map((s) => s.getChildText("body"))).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    expect(stream.state).toBe("open");
  });
});

describe("stream errors from the peer", () => {
  it("closes with a typed StreamError carrying the condition and text, and answers only </stream:stream>", async () => {
    const { peer, stream } = await initiatingTo();
    const sent = peer.elements.length;
    await peer.write(
      `<stream:error><conflict xmlns='${NS.STREAM_ERRORS}'/>` +
        `<text xmlns='${NS.STREAM_ERRORS}' xml:lang='en'>Replaced by new connection</text>` +
        `</stream:error></stream:stream>`,
    );
    const error = await outcome(stream);
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({
      condition: "conflict",
      origin: "peer",
      text: "Replaced by new connection",
    });
    expect(StreamError.is(error, "conflict", "peer")).toBe(true);
    expect(stream.closedBy).toBe("peer");
    await peer.until((p) => p.closeTag);
    expect(peer.elements).toHaveLength(sent); // never a stream error in answer to one
  });

  it("reads an unknown condition as undefined-condition", async () => {
    const { peer, stream } = await respondingTo();
    await peer.write(`<stream:error><made-up xmlns='${NS.STREAM_ERRORS}'/></stream:error>`);
    await expect(outcome(stream)).resolves.toMatchObject({
      condition: "undefined-condition",
      origin: "peer",
    });
  });
});

describe("truncation: the input ends without </stream:stream>", () => {
  it("between stanzas: earlier stanzas were delivered, the stream fails with StreamTruncatedError", async () => {
    const { peer, stream } = await respondingTo();
    const got = stanzasOf(stream);
    await peer.write(MESSAGE);
    peer.duplex.end();
    const error = await outcome(stream);
    expect(error).toBeInstanceOf(StreamTruncatedError);
    expect(got).toHaveLength(1);
  });

  it("inside a stanza: the partial stanza is not delivered", async () => {
    const { peer, stream } = await initiatingTo();
    const got = stanzasOf(stream);
    await peer.write("<message><body>cut sho");
    peer.duplex.end();
    expect(await outcome(stream)).toBeInstanceOf(StreamTruncatedError);
    expect(got).toHaveLength(0);
  });

  it("the transport destroyed", async () => {
    const { peer, stream } = await respondingTo();
    peer.duplex.destroy();
    expect(await outcome(stream)).toBeInstanceOf(StreamTruncatedError);
  });

  it("an error on the underlying stream surfaces as that error", async () => {
    const { ours, stream } = await respondingTo();
    const boom = new Error("the carrier broke");
    ours.destroy(boom);
    expect(await outcome(stream)).toBe(boom);
  });
});

describe("sending", () => {
  it("refuses to send what the peer would have to refuse", async () => {
    const { stream } = await respondingTo();
    await expect(stream.send(xml("message", { to: "nurse@capulet.lit/kitchen" }))).rejects.toThrow(TypeError);
    await expect(stream.send(xml("message", { from: "tybalt@capulet.lit/sword" }))).rejects.toThrow(
      TypeError,
    );
    await expect(stream.send(xml("foo"))).rejects.toThrow(TypeError);
    await expect(stream.send(xml("message", { xmlns: "jabber:server" }))).rejects.toThrow(TypeError);
    await expect(stream.request(xml("iq", { type: "get", to: "nurse@capulet.lit/kitchen" }))).rejects.toThrow(
      TypeError,
    );
    expect(stream.state).toBe("open");
  });

  it("sends stanzas as given: to/from kept when set, nothing filled in when absent", async () => {
    const { peer, stream } = await respondingTo();
    const before = peer.elements.length;
    await stream.send(xml("message", { to: "romeo@montague.lit" }, xml("body", {}, "a")));
    await stream.send(xml("message", {}, xml("body", {}, "b")));
    await peer.until((p) => p.elements.length === before + 2);
    expect(peer.elements.slice(before).map((e) => e.attrs)).toEqual([{ to: "romeo@montague.lit" }, {}]);
  });
});
