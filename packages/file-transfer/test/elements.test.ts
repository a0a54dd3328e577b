// The elements (XEP-0234 <description><file/>, XEP-0300 <hash/>/<hash-used/>), the
// in-tunnel trailer and verdict, and file-name safety, as data.
import { CLIENT_STREAM_HEADER, type Element, NS, StanzaStreamParser, xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import {
  buildFileDescription,
  checkFileOffer,
  decodeTrailer,
  decodeVerdict,
  digestOf,
  encodeTrailer,
  encodeVerdict,
  FILE_TRANSFER_FEATURES,
  FileTransferApplication,
  formatDateTime,
  numberedName,
  parseDateTime,
  parseFileDescription,
  parseHash,
  safeFileName,
  trailerLength,
} from "../src/index.js";

/** Parses XML text the way a received stanza is parsed. */
function parse(text: string): Element {
  const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER });
  let out: Element | undefined;
  parser.on("stanza", (s) => {
    out = s;
  });
  parser.write(`<message>${text}</message>`);
  return out!.getChildElements()[0]!;
}

// XEP-0234 "Offering a File" (the session-initiate's description), with the empty
// <hash/> of "Checksum" that announces the algorithm only.
const XEP_OFFER = `<description xmlns='urn:xmpp:jingle:apps:file-transfer:5'>
  <file>
    <date>1969-07-21T02:56:15Z</date>
    <desc>This is a test. If this were a real file...</desc>
    <media-type>text/plain</media-type>
    <name>test.txt</name>
    <range/>
    <size>6144</size>
    <hash xmlns='urn:xmpp:hashes:2' algo='sha-1'>w0mcJylzCn+AfvuGdqkty2+KP48=</hash>
  </file>
</description>`;

describe("<description><file/> (XEP-0234)", () => {
  it("reads the XEP's offer", () => {
    const file = parseFileDescription(parse(XEP_OFFER));
    expect(file).toMatchObject({
      name: "test.txt",
      size: 6144,
      mediaType: "text/plain",
      desc: "This is a test. If this were a real file...",
      range: { offset: 0 },
      hashUsed: [],
    });
    expect(file.date?.toISOString()).toBe("1969-07-21T02:56:15.000Z");
    expect(file.hashes).toEqual([
      { algo: "sha-1", value: Buffer.from("w0mcJylzCn+AfvuGdqkty2+KP48=", "base64") },
    ]);
  });

  it("refuses the XEP's offer for lack of an algorithm we verify with (sha-1 only)", () => {
    expect(() => checkFileOffer({ senders: "initiator", description: parse(XEP_OFFER) })).toThrow(
      /none of its hash algorithms \(sha-1\)/,
    );
  });

  it("builds our offer (hash-used only) and reads it back", () => {
    const el = buildFileDescription({
      name: "notes.txt",
      size: 15,
      mediaType: "text/plain",
      date: new Date("2026-05-01T12:30:00Z"),
      hashUsed: ["sha-256"],
    });
    expect(el.toString()).toBe(
      '<description xmlns="urn:xmpp:jingle:apps:file-transfer:5"><file><date>2026-05-01T12:30:00Z</date>' +
        "<media-type>text/plain</media-type><name>notes.txt</name><size>15</size>" +
        '<hash-used xmlns="urn:xmpp:hashes:2" algo="sha-256"/></file></description>',
    );
    const back = parseFileDescription(parse(el.toString()));
    expect(back).toMatchObject({
      name: "notes.txt",
      size: 15,
      mediaType: "text/plain",
      hashUsed: ["sha-256"],
    });
    expect(checkFileOffer({ senders: "initiator", description: el })).toMatchObject({
      hashAlgorithm: "sha-256",
    });
  });

  it("carries a computed digest as <hash/> and an empty <hash/> as an announcement", () => {
    const digest = digestOf("sha-256", "XTLS test file\n");
    const el = buildFileDescription({ name: "a", size: 15, hashes: [{ algo: "sha-256", value: digest }] });
    expect(el.toString()).toContain(
      '<hash xmlns="urn:xmpp:hashes:2" algo="sha-256">VWQaMhDZ35QyjjcYPHj87IirujN/Hrpay97Do27R0hI=</hash>',
    );
    const announced = parse(
      `<description xmlns='${NS.JFT}'><file><size>1</size><hash xmlns='${NS.HASHES}' algo='sha3-256'/></file></description>`,
    );
    expect(parseFileDescription(announced)).toMatchObject({ hashes: [], hashUsed: ["sha3-256"] });
  });

  it("ignores unknown children and other namespaces' metadata", () => {
    const el = parse(
      `<description xmlns='${NS.JFT}'><file><name>p.png</name><size>3</size>` +
        `<thumbnail xmlns='urn:xmpp:thumbs:1' uri='cid:x' width='10' height='10'/>` +
        `<colour>red</colour><hash-used xmlns='${NS.HASHES}' algo='sha-256'/></file><extra/></description>`,
    );
    expect(checkFileOffer({ senders: "initiator", description: el }).file).toMatchObject({
      name: "p.png",
      size: 3,
    });
  });

  const refused: Array<[string, string, RegExp]> = [
    ["negative size", "<size>-5</size>", /not a non-negative integer/],
    ["fractional size", "<size>1.5</size>", /not a non-negative integer/],
    ["hex size", "<size>0x10</size>", /not a non-negative integer/],
    ["empty size", "<size/>", /not a non-negative integer/],
    ["unsafe size", "<size>9007199254740993</size>", /too large/],
    ["two sizes", "<size>1</size><size>2</size>", /appears twice/],
    ["bad date", "<size>1</size><date>2026-02-30T00:00:00Z</date>", /not a valid date/],
    ["date without zone", "<size>1</size><date>2026-01-01T00:00:00</date>", /XEP-0082/],
    ["media type", "<size>1</size><media-type>not a type</media-type>", /not a media type/],
    ["range", "<size>1</size><range offset='-1'/>", /range offset/],
    [
      "Base64 junk",
      `<size>1</size><hash xmlns='${NS.HASHES}' algo='sha-256'>AAAA!AAA</hash>`,
      /not valid Base64/,
    ],
    [
      "Base64 with whitespace",
      `<size>1</size><hash xmlns='${NS.HASHES}' algo='sha-256'>${"A".repeat(40)}\n${"A".repeat(3)}=</hash>`,
      /not valid Base64/,
    ],
    [
      "non-zero padding bits",
      `<size>1</size><hash xmlns='${NS.HASHES}' algo='sha-256'>${"A".repeat(42)}B=</hash>`,
      // @xtls/core's strict decoder refuses these itself now.
      /padding|not valid Base64/,
    ],
    [
      "short digest",
      `<size>1</size><hash xmlns='${NS.HASHES}' algo='sha-256'>AAAA</hash>`,
      /32 octets, not 3/,
    ],
    ["no algo", `<size>1</size><hash-used xmlns='${NS.HASHES}'/>`, /'algo'/],
    ["upper-case algo", `<size>1</size><hash-used xmlns='${NS.HASHES}' algo='SHA-256'/>`, /textual name/],
  ];
  it.each(refused)("refuses %s", (_what, children, message) => {
    const el = parse(`<description xmlns='${NS.JFT}'><file>${children}</file></description>`);
    expect(() => parseFileDescription(el)).toThrow(message);
  });

  it("wants exactly one <file/>", () => {
    expect(() => parseFileDescription(parse(`<description xmlns='${NS.JFT}'/>`))).toThrow(
      /one <file\/>, not 0/,
    );
    expect(() =>
      parseFileDescription(parse(`<description xmlns='${NS.JFT}'><file/><file/></description>`)),
    ).toThrow(/one <file\/>, not 2/);
  });

  it("reads XEP-0082 DateTimes with offsets and fractions, and writes UTC", () => {
    expect(parseDateTime("2015-07-26T21:46:00+01:00").toISOString()).toBe("2015-07-26T20:46:00.000Z");
    expect(parseDateTime("2015-07-26T21:46:00.123Z").getUTCMilliseconds()).toBe(123);
    expect(formatDateTime(new Date("2015-07-26T20:46:00Z"))).toBe("2015-07-26T20:46:00Z");
    expect(formatDateTime(new Date("2015-07-26T20:46:00.5Z"))).toBe("2015-07-26T20:46:00.500Z");
  });
});

describe("<hash/> (XEP-0300)", () => {
  // The vector: docs/protocol/test-vectors.md#file-hash-and-ibb-chunk.
  it("reads the test vector and refuses what is not canonical", () => {
    const el = xml(
      "hash",
      { xmlns: NS.HASHES, algo: "sha-256" },
      "VWQaMhDZ35QyjjcYPHj87IirujN/Hrpay97Do27R0hI=",
    );
    expect(parseHash(el).value).toEqual(digestOf("sha-256", "XTLS test file\n"));
    expect(() =>
      parseHash(
        xml("hash", { xmlns: NS.HASHES, algo: "sha-256" }, "VWQaMhDZ35QyjjcYPHj87IirujN/Hrpay97Do27R0hI"),
      ),
    ).toThrow(/not valid Base64/);
  });
});

describe("the in-tunnel trailer and verdict", () => {
  it("is 'XFTH' | length | algorithm | digest, of a length known in advance", () => {
    const digest = digestOf("sha-256", "XTLS test file\n");
    const trailer = encodeTrailer("sha-256", digest);
    expect(trailer.length).toBe(trailerLength("sha-256"));
    expect(trailer.length).toBe(4 + 1 + 7 + 32);
    expect(trailer.subarray(0, 12).toString("latin1")).toBe("XFTH\u0007sha-256");
    expect(decodeTrailer(trailer, "sha-256")).toEqual(digest);
    expect(decodeTrailer(Buffer.alloc(trailer.length, 0x41), "sha-256")).toBeUndefined();
    expect(decodeTrailer(encodeTrailer("sha3-256", digest), "sha-256")).toBeUndefined();
  });

  it("verdicts are 'XFTV' and one status octet", () => {
    expect(encodeVerdict("stored")).toEqual(Buffer.from("XFTV\u0000", "latin1"));
    expect(encodeVerdict("hash-mismatch")).toEqual(Buffer.from("XFTV\u0001", "latin1"));
    expect(decodeVerdict(Buffer.from("XFTV\u0001", "latin1"))).toBe("hash-mismatch");
    expect(decodeVerdict(Buffer.from("XFTV\u0007", "latin1"))).toBeUndefined();
    expect(decodeVerdict(Buffer.from("XFTW\u0000", "latin1"))).toBeUndefined();
  });
});

describe("file names from peers", () => {
  const cases: Array<[string | undefined, string]> = [
    ["notes.txt", "notes.txt"],
    ["../../etc/passwd", "passwd"],
    ["/etc/shadow", "shadow"],
    ["a/b", "b"],
    ["C:\\Windows\\system.ini", "system.ini"],
    ["..", "file"],
    [".", "file"],
    ["", "file"],
    [undefined, "file"],
    ["dir/", "file"],
    ["  spaced  ", "spaced"],
    ["trailing...", "trailing"],
    ["\u0000\u0007bell\u001b[31mred", "bell[31mred"],
    ["photo\u202egpj.exe", "photogpj.exe"],
    ["con.txt", "_con.txt"],
    ["é\u0301", "é\u0301".normalize("NFC")],
  ];
  it.each(cases)("%j → %j", (offered, safe) => {
    expect(safeFileName(offered)).toBe(safe);
  });

  it("bounds long names, keeping the extension", () => {
    const long = `${"ü".repeat(300)}.tar`;
    const safe = safeFileName(long);
    expect(Buffer.byteLength(safe)).toBeLessThanOrEqual(200);
    expect(safe.endsWith(".tar")).toBe(true);
  });

  it("numbers alternatives before the extension", () => {
    expect(numberedName("notes.txt", 0)).toBe("notes.txt");
    expect(numberedName("notes.txt", 2)).toBe("notes (2).txt");
    expect(numberedName("README", 1)).toBe("README (1)");
  });
});

describe("the application format", () => {
  it("advertises the file-transfer namespace first, and the hash features", () => {
    const app = new FileTransferApplication();
    expect(app.namespaces[0]).toBe(NS.JFT);
    expect(app.plaintextAllowed).toBe(false);
    expect(FILE_TRANSFER_FEATURES).toEqual([NS.JFT, NS.HASHES, "urn:xmpp:hash-function-text-names:sha-256"]);
  });
});
