// holdToTagEnd in front of xmpp.js's parser (@xmpp/xml, ltx): the same elements for any
// chunking, none delayed, and parsing linear in a text cut by reads (the attack: a peer's
// large body makes every read cost time quadratic in what it cut off).
import { describe, expect, it } from "vitest";
import { holdToTagEnd } from "../src/index.js";
import { type Element, RawXmlParser } from "../src/xml.js";
import { countSearches } from "./searches.js";

const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

function parser(hold: boolean) {
  const p = new RawXmlParser();
  const got: Element[] = [];
  p.on("element", (el) => got.push(el));
  if (hold) holdToTagEnd(p);
  p.write(HEADER);
  return { p, got };
}

describe("holdToTagEnd", () => {
  const stanzas = [
    "<message to='juliet@capulet.lit' id='a&apos;1'><body>I take thee at thy word &amp; more</body></message>",
    "<iq type='set' id='x'><data xmlns='http://jabber.org/protocol/ibb' seq='0' sid='s'>AAAA</data></iq>",
    " \n",
    "<presence/>",
    `<message><body>${"é😀>".repeat(300)}</body></message>`,
  ];
  const wire = stanzas.join("");

  it("gives the same elements as one write, for every chunk size", () => {
    const whole = parser(false);
    whole.p.write(wire);
    const expected = whole.got.map(String);
    expect(expected).toHaveLength(4);
    for (const size of [1, 2, 7, 64, 1000]) {
      const { p, got } = parser(true);
      for (let i = 0; i < wire.length; i += size) p.write(wire.slice(i, i + size));
      expect(got.map(String), `chunks of ${size}`).toEqual(expected);
    }
  });

  it("delivers each stanza on the write that completes it", () => {
    const { p, got } = parser(true);
    p.write("<message id='1'><body>one</body></message>  <message id='2'><bo");
    expect(got.map((s) => s.attrs.id)).toEqual(["1"]);
    p.write("dy>two</body></message>");
    expect(got.map((s) => s.attrs.id)).toEqual(["1", "2"]);
  });

  it("keeps parsing a large body in 16 KiB reads linear: a search per read, not per character", async () => {
    const wire = `<message><body>${"A".repeat(512 * 1024)}</body></message>`;
    const count = async (hold: boolean) => {
      const { p, got } = parser(hold);
      const n = await countSearches(() => {
        for (let i = 0; i < wire.length; i += 16 * 1024) p.write(wire.slice(i, i + 16 * 1024));
      });
      expect(got).toHaveLength(1);
      return n;
    };
    expect(await count(false)).toBeGreaterThan(100_000); // ltx alone: the attack works
    expect(await count(true)).toBeLessThan(1000);
  });

  it("wraps a parser once, however often it is called", () => {
    const { p, got } = parser(true);
    const write = p.write;
    holdToTagEnd(p);
    expect(p.write).toBe(write); // a second wrapper would hold (and join) everything twice
    p.write("<presence");
    p.write("/>");
    expect(got).toHaveLength(1);
  });
});
