import { describe, expect, it } from "vitest";
import {
  compareJids,
  compareOctets,
  JidError,
  normalizeJid,
  parseJid,
  sameBareJid,
  sameJid,
} from "../src/index.js";

// The vector: docs/protocol/test-vectors.md#jid-order.
describe("i;octet collation (RFC 4790 §9.3)", () => {
  it("orders the test vector exactly as given", () => {
    const ordered = [
      "alice@a.example/desk",
      "alice@a.example/desk2",
      "alice@a.example/désk",
      "alice@a.example/Ａ",
      "alice@a.example/😀",
      "bob@b.example/pda",
    ];
    const shuffled = [...ordered].reverse();
    expect(shuffled.sort(compareJids)).toEqual(ordered);
  });

  it("does not fall into the UTF-16 trap: U+FF21 sorts before U+1F600", () => {
    const fullwidth = "alice@a.example/\uFF21";
    const emoji = "alice@a.example/\u{1F600}";
    // JavaScript's own comparison gets it backwards (UTF-16 code units):
    expect(emoji < fullwidth).toBe(true);
    // i;octet on UTF-8 bytes: EF BC A1 < F0 9F 98 80
    expect(compareJids(fullwidth, emoji)).toBeLessThan(0);
    expect(compareOctets("\uFF21", "\u{1F600}")).toBeLessThan(0);
  });

  it("sorts a proper prefix first and equal strings equal", () => {
    expect(compareOctets("desk", "desk2")).toBeLessThan(0);
    expect(compareOctets("", "a")).toBeLessThan(0);
    expect(compareOctets("same", "same")).toBe(0);
  });

  it("compares normalised JIDs: case-folded local and domain, case-kept resource", () => {
    expect(compareJids("Alice@A.Example/desk", "alice@a.example/desk")).toBe(0);
    expect(compareJids("alice@a.example/Desk", "alice@a.example/desk")).not.toBe(0);
  });

  it("matches the ProtoXEP's own example: juliet@capulet.com sorts before romeo@montague.net", () => {
    expect(compareJids("juliet@capulet.com/balcony", "romeo@montague.net/orchard")).toBeLessThan(0);
  });
});

describe("JIDs", () => {
  it("parses and normalises", () => {
    expect(parseJid("Romeo@Montague.LIT/Orchard")).toEqual({
      local: "romeo",
      domain: "montague.lit",
      resource: "Orchard",
      bare: "romeo@montague.lit",
      full: "romeo@montague.lit/Orchard",
    });
    expect(normalizeJid("capulet.lit.")).toBe("capulet.lit");
    expect(parseJid("juliet@capulet.lit/a/b").resource).toBe("a/b");
  });

  it.each([
    ["", "empty"],
    ["@capulet.lit", "empty localpart"],
    ["juliet@", "empty domainpart"],
    ["juliet@capulet.lit/", "empty resourcepart"],
    ["a@b@c", "more than one '@'"],
    ["jul iet@capulet.lit", "forbidden character"],
  ])("rejects %j (%s)", (input, why) => {
    expect(() => parseJid(input)).toThrow(JidError);
    expect(() => parseJid(input)).toThrow(why);
  });

  it("keeps the seed's juliet@capulet.lit//chamber as resource '/chamber' (not the intended JID)", () => {
    // ProtoXEP 0.0.5 §4 writes a double slash; it parses, but to a different resource.
    expect(sameJid("juliet@capulet.lit//chamber", "juliet@capulet.lit/chamber")).toBe(false);
  });

  // Found by the fuzz suite: only one trailing dot was stripped, so "a@b.." parsed to
  // "a@b." and that to "a@b" (normalising was not idempotent).
  it.each([
    ["b..", "empty label"],
    ["a@b..", "empty label"],
    ["a..b", "empty label"],
    [".a", "empty label"],
    ["a@.b/r", "empty label"],
    [".", "empty domainpart"],
    ["a@.", "empty domainpart"],
    [`${"x".repeat(64)}.lit`, "longer than 63 octets"],
    [`${"é".repeat(60)}.lit`, "longer than 63 octets"],
    // RFC 7622 §3.2 / RFC 3986 §3.2.2: brackets hold an IPv6 address, and nothing else.
    ["a@[not-an-address]", "not an IPv6 address"],
    ["a@[127.0.0.1]/r", "not an IPv6 address"],
    ["[fe80::1%eth0]", "not an IPv6 address"],
    ["a@capu[let].lit", "outside an IP-literal"],
    ["a@[::1", "outside an IP-literal"],
  ])("rejects the domainpart of %j (%s)", (input, why) => {
    expect(() => parseJid(input)).toThrow(JidError);
    expect(() => parseJid(input)).toThrow(why);
  });

  it.each([
    ["capulet.lit.", "capulet.lit"],
    ["Juliet@Capulet.LIT./Balcony", "juliet@capulet.lit/Balcony"],
    ["[::1]", "[::1]"],
    ["a@[::1]./r", "a@[::1]/r"],
    ["[2001:DB8::1]", "[2001:db8::1]"],
    ["127.0.0.1", "127.0.0.1"],
    [`${"x".repeat(63)}.lit`, `${"x".repeat(63)}.lit`],
    // 80 octets in UTF-8, but its A-label (what the 63-octet limit is about) is shorter.
    [`${"é".repeat(40)}.lit`, `${"é".repeat(40)}.lit`],
  ])("normalises %j to %j, which parses to itself", (input, normal) => {
    expect(normalizeJid(input)).toBe(normal);
    expect(normalizeJid(normal)).toBe(normal);
  });

  // Found by the fuzz suite (10^5 cases): NFC then lowercase gave "ώ\u0345", which is not
  // NFC; normalising again composed it to "ῴ".
  it("case-folds before NFC, so normalising twice changes nothing", () => {
    for (const input of ["\u038F\u0345@\u038F\u0345/r", "\u1FFC@capulet.lit", "\u0130@capulet.lit"]) {
      const once = normalizeJid(input);
      expect(normalizeJid(once)).toBe(once);
    }
    expect(normalizeJid("\u038F\u0345@\u038F\u0345/r")).toBe("\u1FF4@\u1FF4/r");
    expect(sameJid("\u038F\u0345@x/r", "\u1FF4@x/r")).toBe(true);
  });

  it("compares full and bare JIDs after normalisation; malformed JIDs never match", () => {
    expect(sameJid("ROMEO@montague.lit/orchard", "romeo@montague.lit/orchard")).toBe(true);
    expect(sameBareJid("romeo@montague.lit/a", "Romeo@Montague.lit/b")).toBe(true);
    expect(sameJid("", "")).toBe(false);
    expect(sameJid(undefined, undefined)).toBe(false);
  });
});

describe("parseJid's cache", () => {
  it("hands out frozen results: one caller cannot change the JID another one gets", () => {
    const a = parseJid("Romeo@Montague.lit/Orchard");
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => {
      (a as { bare: string }).bare = "mallory@evil.example";
    }).toThrow(TypeError);
    expect(parseJid("Romeo@Montague.lit/Orchard").bare).toBe("romeo@montague.lit");
  });

  it("still refuses a malformed JID every time, and stays right past its size", () => {
    for (let i = 0; i < 2; i++) expect(() => parseJid("a@b..")).toThrow(JidError);
    for (let i = 0; i < 10_000; i++) expect(parseJid(`u${i}@Example.com/r`).full).toBe(`u${i}@example.com/r`);
    expect(parseJid("u1@Example.com/r").full).toBe("u1@example.com/r");
  });
});
