import { describe, expect, it } from "vitest";
import { CLIENT_STREAM_HEADER, type Element, StanzaStreamParser, XmlStreamError } from "../src/index.js";
import { countSearches } from "./searches.js";

function parse(chunks: Array<string | Uint8Array>, options = {}) {
  const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER, ...options });
  const stanzas: Element[] = [];
  const errors: XmlStreamError[] = [];
  parser.on("stanza", (s) => stanzas.push(s));
  parser.on("error", (e) => errors.push(e));
  for (const c of chunks) parser.write(c);
  return { parser, stanzas, errors };
}

/** `input` in one write: refused as not-well-formed, nothing delivered. */
function expectNotWellFormed(input: string): void {
  const { errors, stanzas } = parse([input]);
  expect(errors.map((e) => e.condition)).toEqual(["not-well-formed"]);
  expect(stanzas).toEqual([]);
}

describe("StanzaStreamParser: restricted XML, incrementally", () => {
  it("parses the seed's message in arbitrary fragments, in the jabber:client namespace", () => {
    const msg =
      "<message type='chat'><thread>act2scene2chat1</thread><body>I take thee at thy word:</body>" +
      "<active xmlns='http://jabber.org/protocol/chatstates'/></message>";
    const bytes = Buffer.from(msg + msg);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
    const { stanzas, errors } = parse(chunks);
    expect(errors).toEqual([]);
    expect(stanzas).toHaveLength(2);
    expect(stanzas[0]?.getNS()).toBe("jabber:client");
    expect(stanzas[0]?.getChildText("body")).toBe("I take thee at thy word:");
    expect(stanzas[0]?.getChild("active", "http://jabber.org/protocol/chatstates")).toBeDefined();
  });

  it("decodes UTF-8 characters split across chunks", () => {
    const bytes = Buffer.from("<message><body>Ｊｕｌｉｅｔ 😀 é</body></message>");
    const chunks = Array.from(bytes).map((b) => Uint8Array.of(b)); // one byte at a time
    const { stanzas, errors } = parse(chunks);
    expect(errors).toEqual([]);
    expect(stanzas[0]?.getChildText("body")).toBe("Ｊｕｌｉｅｔ 😀 é");
  });

  it("accepts CDATA (even when it contains '<!' and '<?') and predefined entities", () => {
    const { stanzas, errors } = parse([
      "<message><body><![CDATA[a <!-- b <?c?> ]]>&amp;&#x263A;&lt;</body></message>",
    ]);
    expect(errors).toEqual([]);
    expect(stanzas[0]?.getChildText("body")).toBe("a <!-- b <?c?> &☺<");
  });

  it.each([
    ["a comment", "<message><!-- hi --></message>", "restricted-xml"],
    ["a processing instruction", "<?xml-stylesheet href='x'?><message/>", "restricted-xml"],
    ["a DTD", "<!DOCTYPE x [<!ENTITY e 'boom'>]><message/>", "restricted-xml"],
    ["an undefined entity", "<message><body>&e;</body></message>", "restricted-xml"],
    ["a bare ampersand", "<message><body>a & b</body></message>", "restricted-xml"],
    ["text between stanzas", "<message/>junk<message/>", "not-well-formed"],
    ["mismatched tags", "<message><body></message>", "not-well-formed"],
  ])("rejects %s", (_what, input, condition) => {
    const { errors, stanzas } = parse([input]);
    expect(errors[0]).toBeInstanceOf(XmlStreamError);
    expect(errors[0]?.condition).toBe(condition);
    expect(stanzas.filter((s) => s.toString().includes("boom"))).toEqual([]);
  });

  it("catches forbidden markup split across chunk boundaries", () => {
    expect(parse(["<message><", "!-- x --></message>"]).errors[0]?.condition).toBe("restricted-xml");
    expect(parse(["<message><body>&am", "p</body></message>"]).errors[0]?.condition).toBe("restricted-xml");
    expect(parse(["<message><body>&am", "p;</body></message>"]).errors).toEqual([]);
    expect(parse(["<message><![CDA", "TA[<?ok?>]]></message>"]).errors).toEqual([]);
  });

  it("rejects invalid UTF-8", () => {
    expect(
      parse([Buffer.from([0x3c, 0x6d, 0x3e, 0xff, 0x3c, 0x2f, 0x6d, 0x3e])]).errors[0]?.message,
    ).toContain("UTF-8");
  });

  it("bounds stanza size and nesting depth", () => {
    const big = `<message><body>${"x".repeat(5000)}</body></message>`;
    expect(parse([big], { maxStanzaBytes: 4096 }).errors[0]?.condition).toBe("policy-violation");
    expect(parse([big], { maxStanzaBytes: 8192 }).errors).toEqual([]);
    const deep = `${"<a>".repeat(70)}${"</a>".repeat(70)}`;
    expect(parse([`<message>${deep}</message>`]).errors[0]?.condition).toBe("policy-violation");
  });

  it("drops whitespace keepalives between stanzas instead of keeping them", () => {
    const { stanzas, errors } = parse(["<message/>", " \n\t ", "<presence/>"]);
    expect(errors).toEqual([]);
    expect(stanzas.map((s) => s.name)).toEqual(["message", "presence"]);
  });

  it("reports input that ends inside a stanza as an error, never a clean end", () => {
    const { parser, errors } = parse(["<message><body>cut"]);
    parser.end();
    expect(errors[0]?.condition).toBe("bad-format");
    const clean = parse(["<message/>"]);
    clean.parser.end();
    expect(clean.errors).toEqual([]);
  });

  it("reads a real stream header and its end when not primed", () => {
    const parser = new StanzaStreamParser();
    const events: string[] = [];
    parser.on("header", (h) => events.push(`header ${h.attrs.from}`));
    parser.on("stanza", (s) => events.push(s.name));
    parser.on("end", () => events.push("end"));
    parser.write(
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='a@b/c' version='1.0'>",
    );
    parser.write("<message/></stream:stream>");
    expect(events).toEqual(["header a@b/c", "message", "end"]);
  });
});

describe("StanzaStreamParser: what the fuzz suite found", () => {
  it.each(["\u0001", "\u000b", "\ufffe"])(
    "refuses a character XML 1.0 does not allow (%j), delivering nothing",
    (ch) => {
      const { stanzas, errors } = parse([`<message><body>a${ch}b</body></message>`]);
      expect(stanzas).toEqual([]);
      expect(errors.map((e) => e.condition)).toEqual(["not-well-formed"]);
    },
  );

  it("emits no header after an error", () => {
    const parser = new StanzaStreamParser();
    const events: string[] = [];
    parser.on("header", () => events.push("header"));
    parser.on("error", () => events.push("error"));
    parser.write(Buffer.from([0x00]));
    parser.write("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
    expect(events).toEqual(["error"]);
  });
});

describe("StanzaStreamParser: a stanza cut off anywhere is an error at the end (found by the fuzz suite)", () => {
  const ended = (chunks: string[]) => {
    const p = parse(chunks);
    p.parser.end();
    return p;
  };

  // ltx only reads a tag once it is complete, and text once the next '<' comes; end()
  // used to look at the depth of complete tags only, so all of these ended cleanly.
  it.each([
    ["inside a start tag's name", "<message"],
    ["inside a start tag", "<message "],
    ["inside an attribute name", "<message to"],
    ["inside an attribute value", "<message to='juliet@capulet.lit"],
    ["after an attribute", "<message to='juliet@capulet.lit'"],
    ["after the '/' of an empty element", "<message/"],
    ["inside an end tag", "<message></messa"],
    ["after a '<'", "<message><"],
    ["inside a reference", "<message><body>a&am"],
    ["inside CDATA", "<message><![CDATA[x"],
    ["inside '<![CDATA['", "<message><![CD"],
    ["after the first stanza, inside the second", "<message/><presence type='unavailable'"],
  ])("%s: bad-format", (_where, input) => {
    const { errors, stanzas } = ended([input]);
    expect(errors.map((e) => e.condition)).toEqual(["bad-format"]);
    expect(stanzas.map((s) => s.name)).toEqual(input.startsWith("<message/>") ? ["message"] : []);
  });

  it("the same when the cut-off input came in pieces", () => {
    expect(ended(["<mess", "age to", "='a"]).errors.map((e) => e.condition)).toEqual(["bad-format"]);
  });

  it("between stanzas, whitespace included, the end is clean", () => {
    expect(ended(["<message/>", " \r\n\t"]).errors).toEqual([]);
    expect(ended(["<message><body>a</body></message>"]).errors).toEqual([]);
  });

  // ltx threw on these only when it unescaped the text, i.e. once a '<' followed.
  it.each(["&#0;", "&#xD800;", "&#x110000;", "&#xFFFE;"])(
    "refuses the character reference %s as it arrives, with nothing after it",
    (ref) => {
      const { errors } = parse([`<message><body>a${ref}`]);
      expect(errors.map((e) => e.condition)).toEqual(["restricted-xml"]);
    },
  );

  it("refuses a reference between stanzas, even one to whitespace", () => {
    expect(parse(["<message/>&#x110000;"]).errors.map((e) => e.condition)).toEqual(["not-well-formed"]);
    expect(parse(["<message/>&#32;<message/>"]).errors.map((e) => e.condition)).toEqual(["not-well-formed"]);
  });
});

describe("StanzaStreamParser: tags ltx misreads are refused (found by the fuzz suite)", () => {
  it.each([
    // ltx read this as b="x", silently dropping the 'to'
    ["an attribute without a value", "<message b to='x'/>"],
    ["an attribute without quotes", "<message to=x/>"],
    ["attributes not separated by whitespace", "<message id='a'to='b'/>"],
    ["a name that is not an XML name", "<1x/>"],
    ["whitespace before the name", "< message/>"],
    ["'<' in an attribute value", "<message id='<'/>"],
    ["'/' not followed by '>'", "<message/ >"],
    ["a malformed end tag", "<message></ message>"],
    ["a prefix with an empty local name", "<message a:=''/>"],
    ["']]>' in text", "<message><body>a]]>b</body></message>"],
    ["an end tag that closes nothing open", "<message/></body>"],
  ])("%s: not-well-formed, nothing delivered", (_what, input) => expectNotWellFormed(input));

  it("finds ']]>' split across writes", () => {
    expect(parse(["<message><body>a]", "]", ">b</body></message>"]).errors.map((e) => e.condition)).toEqual([
      "not-well-formed",
    ]);
    expect(parse(["<message><body>a]]", "&gt;b</body></message>"]).errors).toEqual([]);
  });

  it("still reads what XML allows: whitespace around '=', in end tags, references, astral names", () => {
    const { errors, stanzas } = parse([
      "<message \n id = \"a&#x27;b\"\tto='c'><body>&#128512;&lt;&#x1F600;</body ><\u{1F600}x/></message >",
    ]);
    expect(errors).toEqual([]);
    expect(stanzas[0]?.attrs.id).toBe("a'b");
    expect(stanzas[0]?.getChildText("body")).toBe("😀<😀");
  });

  it("reads a surrogate pair split across string writes", () => {
    const { errors, stanzas } = parse(["<message><\ud83d", "\ude00/></message>"]);
    expect(errors).toEqual([]);
    expect(stanzas[0]?.getChildElements()[0]?.name).toBe("\u{1F600}");
  });

  it("delivers nothing after </stream:stream>, even in the same write", () => {
    const parser = new StanzaStreamParser();
    const events: string[] = [];
    parser.on("stanza", (s) => events.push(s.name));
    parser.on("end", () => events.push("end"));
    parser.write(
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" +
        "<message/></stream:stream><presence/>",
    );
    expect(events).toEqual(["message", "end"]);
  });
});

describe("StanzaStreamParser: Namespaces in XML 1.0 (found by the fuzz suite)", () => {
  it.each([
    // Undeclaring a prefix is XML 1.1 only; ltx took it.
    ["xmlns:p=''", "<message xmlns:p=''/>"],
    ['xmlns:p="" on a child', '<message><x xmlns:p=""/></message>'],
    ["an element prefix declared nowhere", "<message><x:a/></message>"],
    ["an attribute prefix declared nowhere", "<message x:y='1'/>"],
    ["a prefix declared on a sibling only", "<message><a xmlns:x='u'/><x:b/></message>"],
    ["an attribute given twice", "<message to='a' to='b'/>"],
    ["two attributes with one expanded name", "<message xmlns:a='u' xmlns:c='u' a:b='1' c:b='2'/>"],
    ["a declaration of the xmlns prefix", "<message xmlns:xmlns='u'/>"],
    ["the xml prefix bound elsewhere", "<message xmlns:xml='u'/>"],
    [
      "another prefix bound to the xml namespace",
      "<message xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
    ],
    ["an element with the xmlns prefix", "<xmlns:message/>"],
    ["a name with two colons", "<message a:b:c='1'/>"],
  ])("refuses %s: not-well-formed, nothing delivered", (_what, input) => expectNotWellFormed(input));

  it("reads declared prefixes, xml:lang, redeclarations and an empty default namespace", () => {
    const { errors, stanzas } = parse([
      "<message xml:lang='en' xmlns:x='urn:a'><x:a x:id='1' xmlns:x='urn:b'/><x:b/>",
      "<c xmlns=''/><p:d xmlns:p='urn:&#x61;'/></message>",
    ]);
    expect(errors).toEqual([]);
    expect(stanzas[0]?.getChildElements().map((c) => c.name)).toEqual(["x:a", "x:b", "c", "p:d"]);
  });

  it("knows the prefixes of a real stream header", () => {
    const parser = new StanzaStreamParser();
    const errors: XmlStreamError[] = [];
    const stanzas: Element[] = [];
    parser.on("error", (e) => errors.push(e));
    parser.on("stanza", (s) => stanzas.push(s));
    parser.write(
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features/>",
    );
    parser.write("<stream:error><x:y/></stream:error>");
    expect(stanzas.map((s) => s.name)).toEqual(["stream:features"]);
    expect(errors.map((e) => e.condition)).toEqual(["not-well-formed"]);
  });
});

describe("the stanza size limit counts each stanza, not each write", () => {
  const header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
  const message = (n: number) => `<message><body>${"x".repeat(n)}</body></message>`;

  it("one write of many small stanzas, far larger than the limit, is fine", () => {
    const parser = new StanzaStreamParser({ maxStanzaBytes: 4096, primedHeader: header });
    const got: string[] = [];
    parser.on("stanza", (s) => got.push(s.getChildText("body")!));
    parser.on("error", (e) => got.push(`error: ${e.message}`));
    const one = message(1000); // ~1 KiB each, 64 KiB in one write
    parser.write(Buffer.from(one.repeat(64)));
    expect(got).toHaveLength(64);
    expect(got.every((b) => b === "x".repeat(1000))).toBe(true);
  });

  it("a stanza over the limit still fails with policy-violation, in one write or byte by byte", () => {
    for (const split of [false, true]) {
      const parser = new StanzaStreamParser({ maxStanzaBytes: 4096, primedHeader: header });
      const got: string[] = [];
      parser.on("stanza", () => got.push("stanza"));
      parser.on("error", (e) => got.push(e.condition));
      const big = Buffer.from(message(1000) + message(6000) + message(10));
      if (split) for (const b of big) parser.write(Buffer.from([b]));
      else parser.write(big);
      expect(got).toEqual(["stanza", "policy-violation"]);
    }
  });
});

describe("long text and attribute values (ltx rescanned an unfinished run at every character)", () => {
  // A run of text or of an attribute value whose end has not arrived waits in the parser
  // until it does; before, ltx was handed it at once and searched for its end again at
  // every character, quadratic in the run (a 1 MiB body parsed at 6 MB/s; bench/ parser).
  const text = `${"a&amp;b ".repeat(2000)}<![CDATA[x<y]]>${"é😀&lt;".repeat(1500)}`;
  const expectedText = `${"a&b ".repeat(2000)}x<y${"é😀<".repeat(1500)}`;
  const value = `${"v&apos;w".repeat(2500)}`;
  const stanza = `<message id='${value}'><body>${text}</body></message>`;

  it("a long text and a long attribute value in pieces of any size parse as in one write", () => {
    const bytes = Buffer.from(`${stanza}\n${stanza}`);
    for (const size of [5, 997, 16 * 1024, 64 * 1024, bytes.length]) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const { stanzas, errors } = parse(chunks);
      expect(errors, `pieces of ${size}`).toEqual([]);
      expect(stanzas, `pieces of ${size}`).toHaveLength(2);
      for (const s of stanzas) {
        expect(s.attrs.id).toBe("v'w".repeat(2500));
        expect(s.getChildText("body")).toBe(expectedText);
      }
    }
  });

  // The attack: a peer sends a long text or attribute value in many reads to make every
  // read cost time quadratic in its length (CPU exhaustion; a 1 MiB body took 160 ms at
  // 6 MB/s). Work is counted, not timed: ltx searches the rest of its input for the end of
  // a run with String.prototype.indexOf, once per character of a run cut off by a read.
  it("a long body or attribute value in many reads costs a search per read, not per character", async () => {
    const big = "x".repeat(512 * 1024);
    for (const wire of [`<message><body>${big}</body></message>`, `<message id='${big}'/>`]) {
      const bytes = Buffer.from(wire);
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += 16 * 1024) chunks.push(bytes.subarray(i, i + 16 * 1024));
      let result: ReturnType<typeof parse> | undefined;
      const searches = await countSearches(() => {
        result = parse(chunks);
      });
      if (!result) throw new Error("not parsed");
      expect(result.errors).toEqual([]);
      expect(result.stanzas).toHaveLength(1);
      // 32 reads: a few searches each. Handing ltx each cut-off run made it 500 000 and more.
      expect(searches).toBeLessThan(1000);
    }
  });

  it("never holds back a stanza: each is delivered on the write that ends it", () => {
    const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER });
    const got: string[] = [];
    parser.on("stanza", (s) => got.push(`${s.attrs.id}:${s.getChildText("body") ?? ""}`));
    parser.on("error", (e) => got.push(`error: ${e.message}`));
    parser.write("<message id='1'><body>one</body></message>\n  ");
    expect(got).toEqual(["1:one"]);
    parser.write("<message id='2'/> <message id='3");
    expect(got).toEqual(["1:one", "2:"]);
    parser.write("'><body>thr");
    parser.write("ee &amp");
    expect(got).toEqual(["1:one", "2:"]);
    parser.write(";</body></message>");
    expect(got).toEqual(["1:one", "2:", "3:three &"]);
  });

  it("checks a waiting run as it arrives: an error in it is reported at once, not at its end", () => {
    const { stanzas, errors } = parse([
      "<message><body>fine</body></message>",
      `<message><body>${"x".repeat(10_000)}`,
      "&bogus;",
    ]);
    expect(stanzas).toHaveLength(1);
    expect(errors.map((e) => e.condition)).toEqual(["restricted-xml"]);
  });

  it("counts a waiting run against the stanza size limit", () => {
    const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER, maxStanzaBytes: 64 * 1024 });
    const conditions: string[] = [];
    parser.on("error", (e) => conditions.push(e.condition));
    parser.write("<message><body>");
    for (let i = 0; i < 100 && conditions.length === 0; i++) parser.write("x".repeat(1024));
    expect(conditions).toEqual(["policy-violation"]);
  });
});
