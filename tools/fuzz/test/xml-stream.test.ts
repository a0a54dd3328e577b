// The end-to-end XML stream of @xtls/xmlstream (XEP-0246 as XTLS Mode J runs it) over an
// in-memory duplex pair, as the application sees it above TLS: every byte split of a
// valid peer stream delivers the same stanzas and closes cleanly; garbage ends it with a
// stream error, never a crash; and the IQ handlers inside it (disco#info, <pubkeys/> of
// @xtls/pubkey, anything else) answer every get/set exactly once, well-formed.
import { CLIENT_STREAM_HEADER, duplexPair, type Element, NS, StanzaStreamParser } from "@xtls/core";
import { servePubkeys } from "@xtls/pubkey";
import { XmlStream } from "@xtls/xmlstream";
import * as fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { anyText, payloads, randomElement } from "./support/arbitraries.js";
import { fuzzParams, SHARE } from "./support/config.js";
import { JINGLE_XTLS_FIXTURES } from "./support/fixtures.js";
import { escapedSince, escapeMark } from "./support/guards.js";
import { checkErrorStanza, checkResultStanza } from "./support/stanza-checks.js";
import { closeShared, JULIET, ROMEO, sharedSetup } from "./support/world.js";
import { materialise, type XNode } from "./support/xml-model.js";
import { splitBytes } from "./support/xml-text.js";

afterAll(closeShared);

const header = (name: string) => JINGLE_XTLS_FIXTURES.find((f) => f.name.endsWith(name))!.text.trim();
/** Romeo's header, as the draft shows it (seed 004 §4). */
const ROMEO_HEADER = header("09-stream-header-initiator.xml");
const CLOSE = "</stream:stream>";
const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Run {
  readonly received: Element[];
  readonly delivered: Element[];
  readonly closeError: Error | undefined | "open";
  readonly wireErrors: string[];
  readonly escaped: string[];
}

/** Juliet's XmlStream reads `chunks` from Romeo; what she delivers and writes back is collected. */
async function run(chunks: readonly Buffer[], options: { end?: boolean } = {}): Promise<Run> {
  const mark = escapeMark();
  const { identities } = await sharedSetup();
  const [julietSide, romeoSide] = duplexPair();
  const stream = new XmlStream(julietSide, {
    role: "responder",
    localJid: JULIET,
    peerJid: ROMEO,
    timeoutMs: 5000,
    closeTimeoutMs: 1000,
  });
  servePubkeys(stream, { identity: identities[JULIET]! });
  const delivered: Element[] = [];
  stream.on("stanza", (s) => delivered.push(s));
  let closeError: Error | undefined | "open" = "open";
  stream.on("close", (error) => {
    closeError = error;
  });
  // What Juliet writes, read as a stream.
  const received: Element[] = [];
  const wireErrors: string[] = [];
  const reader = new StanzaStreamParser();
  reader.on("stanza", (s) => received.push(s));
  reader.on("error", (e) => wireErrors.push(e.message));
  let activity = 0;
  romeoSide.on("data", (chunk: Buffer) => {
    activity++;
    reader.write(chunk);
  });
  romeoSide.on("error", () => {});
  for (const chunk of chunks) {
    romeoSide.write(chunk);
    await immediate();
  }
  if (options.end) romeoSide.end();
  for (let idle = 0, turns = 0; idle < 4 || (options.end && closeError === "open" && turns < 200); turns++) {
    const before = activity;
    await immediate();
    idle = activity === before ? idle + 1 : 0;
  }
  const result = closeError;
  stream.destroy();
  await immediate();
  return { received, delivered, closeError: result, wireErrors, escaped: escapedSince(mark) };
}

const utf8 = (s: string) => Buffer.from(s, "utf8");
const splits = fc.array(fc.nat(), { maxLength: 10 });

// Stanzas a peer may send on the stream: no `from`/`to`, or the right ones (full or bare).
const addressed = (node: XNode, from: string | undefined, to: string | undefined): XNode => ({
  ...node,
  attrs: { ...node.attrs, from, to },
});
const fromRomeo = fc.constantFrom(undefined, ROMEO, "romeo@montague.lit");
const toJuliet = fc.constantFrom(undefined, JULIET, "juliet@capulet.lit");

const chatStanza: fc.Arbitrary<XNode> = fc
  .tuple(
    fc.constantFrom("message", "presence"),
    anyText(20),
    fromRomeo,
    toJuliet,
    fc.option(randomElement, { nil: undefined }),
  )
  .map(([name, body, from, to, extra]) =>
    addressed(
      {
        name,
        attrs: { type: name === "message" ? "chat" : undefined },
        children: [{ name: "body", attrs: {}, children: [body] }, ...(extra ? [extra] : [])],
      },
      from,
      to,
    ),
  );

const iqStanza: fc.Arbitrary<XNode> = fc
  .tuple(
    fc.constantFrom("get", "get", "set", "result", "error", "bogus", undefined),
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: payloads(["disco:query", "pubkey:pubkeys", "ping"]) },
        { weight: 1, arbitrary: randomElement },
      ),
      { maxLength: 2 },
    ),
    fromRomeo,
    toJuliet,
  )
  .map(([type, children, from, to]) => addressed({ name: "iq", attrs: { type }, children }, from, to));

function text(nodes: readonly XNode[]): { wire: string; stanzas: Element[] } {
  const stanzas = nodes.map((n, i) => {
    const el = materialise(n, () => undefined);
    if (el.name === "iq") el.attrs.id = `in${i}`;
    return el;
  });
  return { wire: stanzas.map((s) => s.toString()).join(""), stanzas };
}

describe("XmlStream", () => {
  it("delivers the same stanzas, stamped, for every split of a valid stream, and closes cleanly", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chatStanza, { maxLength: 4 }), splits, async (nodes, at) => {
        const { wire, stanzas } = text(nodes);
        const r = await run(splitBytes(utf8(`${ROMEO_HEADER}${wire}${CLOSE}`), at), { end: true });
        expect(r.escaped).toEqual([]);
        expect(r.wireErrors).toEqual([]);
        expect(r.closeError).toBeUndefined();
        expect(r.delivered.map((s) => s.attrs.from)).toEqual(stanzas.map(() => ROMEO));
        expect(r.delivered.map((s) => s.attrs.to)).toEqual(stanzas.map(() => JULIET));
        expect(r.delivered.map((s) => s.getChildText("body"))).toEqual(
          stanzas.map((s) => s.getChildText("body")),
        );
      }),
      fuzzParams(SHARE.xmlStream),
    );
  });

  it("answers every IQ get/set inside the stream exactly once, well-formed, and never a result or error", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(iqStanza, chatStanza), { minLength: 1, maxLength: 5 }),
        splits,
        async (nodes, at) => {
          const { wire, stanzas } = text(nodes);
          const r = await run(splitBytes(utf8(`${ROMEO_HEADER}${wire}`), at));
          expect(r.escaped).toEqual([]);
          expect(r.wireErrors).toEqual([]);
          const replies = r.received.filter((s) => s.name === "iq");
          for (const request of stanzas.filter((s) => s.name === "iq")) {
            const answers = replies.filter((s) => s.attrs.id === request.attrs.id);
            const type = request.attrs.type;
            expect(answers, request.toString()).toHaveLength(type === "result" || type === "error" ? 0 : 1);
            for (const a of answers) {
              expect(a.attrs.to).toBe(ROMEO);
              expect(a.attrs.type === "error" ? checkErrorStanza(a) : checkResultStanza(a)).toBeUndefined();
            }
          }
          expect(replies.every((s) => s.attrs.type === "result" || s.attrs.type === "error")).toBe(true);
        },
      ),
      fuzzParams(SHARE.xmlStream),
    );
  });

  it("ends with a stream error, never a crash, on garbage, spoofed addresses or a broken header", async () => {
    const junk = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => Buffer.from(b)),
      fc
        .constantFrom(
          "<!-- x -->",
          "<?pi?>",
          "&bogus;",
          "<message from='mallory@montague.lit/arras'/>",
          "<message to='benvolio@montague.lit/street'/>",
          "<message from='not a jid'/>",
          "<foo xmlns='urn:example'/>",
          "<stream:features/>",
          "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
          "<stream:stream>",
          "</message>",
          `<message>${"<a>".repeat(70)}`,
        )
        .map(utf8),
    );
    const brokenHeader = fc.constantFrom(
      "",
      ROMEO_HEADER.replace("version='1.0'", "version='2.0'"),
      ROMEO_HEADER.replace("version='1.0'", ""),
      ROMEO_HEADER.replace("jabber:client", "jabber:server"),
      ROMEO_HEADER.replace("romeo@montague.lit/orchard", "mallory@montague.lit/arras"),
      ROMEO_HEADER.replace("juliet@capulet.lit/balcony", "nurse@capulet.lit/kitchen"),
      ROMEO_HEADER.replace("http://etherx.jabber.org/streams", "urn:example"),
      `<?xml version='1.0'?>${ROMEO_HEADER}`,
      CLIENT_STREAM_HEADER,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: fc.constant(ROMEO_HEADER) }, { weight: 1, arbitrary: brokenHeader }),
        fc.array(chatStanza, { maxLength: 2 }),
        junk,
        splits,
        fc.boolean(),
        async (head, nodes, bad, at, end) => {
          const { wire } = text(nodes);
          const r = await run(splitBytes(Buffer.concat([utf8(head + wire), bad]), at), { end });
          expect(r.escaped).toEqual([]);
          expect(r.wireErrors).toEqual([]);
          const errors = r.received.filter((s) => s.name === "error" && s.getNS() === NS.STREAMS);
          expect(errors.length).toBeLessThanOrEqual(1);
          for (const e of errors) {
            const defined = e
              .getChildElements()
              .filter((c) => c.getNS() === "urn:ietf:params:xml:ns:xmpp-streams" && c.name !== "text");
            expect(defined).toHaveLength(1);
          }
          // Whatever was delivered came from Romeo to Juliet.
          for (const s of r.delivered) {
            expect(s.attrs.from).toBe(ROMEO);
            expect(s.attrs.to).toBe(JULIET);
          }
        },
      ),
      fuzzParams(SHARE.xmlStream),
    );
  });
});
