// Strict Base64 (RFC 4648 §4, padded; docs/protocol/core.md#strict-base64): every peer-supplied Base64 in
// XTLS goes through decodeBase64Strict, which must reject what Buffer.from would
// silently skip or repair. The reference is a regular expression for canonical padded
// Base64 (RFC 4648 §3.5: the pad bits are zero), applied after XML whitespace is removed.
import { Base64Error, decodeBase64Strict, encodeBase64 } from "@xtls/core";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fuzzParams, SHARE } from "./support/config.js";

/** Canonical padded Base64: four-character groups, then `xx==` or `xxx=` whose pad bits are zero. */
const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;
/** The alphabet and padding only, in groups of four (what decodeBase64Strict checks). */
const strip = (s: string) => s.replace(/[ \t\r\n]+/g, "");

// Text that is often almost Base64: the alphabet, padding in odd places, the URL-safe
// alphabet, XML whitespace, and other junk Buffer.from("…", "base64") skips.
const base64Char = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
  },
  { weight: 3, arbitrary: fc.constant("=") },
  { weight: 2, arbitrary: fc.constantFrom(" ", "\n", "\t", "\r") },
  {
    weight: 2,
    arbitrary: fc.constantFrom("-", "_", ".", "!", "%", "\u00a0", "\u3000", "é", "\u0000", "\f", "\v"),
  },
);
const almostBase64 = fc.oneof(
  fc.string({ unit: base64Char, maxLength: 24 }),
  fc.uint8Array({ maxLength: 20 }).chain((bytes) =>
    fc.tuple(fc.nat(), fc.string({ unit: base64Char, maxLength: 3 })).map(([at, junk]) => {
      const s = encodeBase64(bytes);
      const i = at % (s.length + 1);
      return s.slice(0, i) + junk + s.slice(i);
    }),
  ),
);

describe("strict Base64", () => {
  it("round-trips every byte string, as one line of canonical Base64", () => {
    void fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toMatch(CANONICAL);
        expect(Buffer.from(decodeBase64Strict(text))).toEqual(Buffer.from(bytes));
      }),
      fuzzParams(SHARE.base64),
    );
  });

  it("accepts exactly the padded alphabet in groups of four, never what Buffer.from repairs", () => {
    void fc.assert(
      fc.property(almostBase64, (text) => {
        const compact = strip(text);
        let decoded: Buffer | undefined;
        try {
          decoded = decodeBase64Strict(text);
        } catch (error) {
          expect(error).toBeInstanceOf(Base64Error);
        }
        // Padded alphabet in groups of four, with zero pad bits (the canonical property below).
        expect(decoded !== undefined).toBe(CANONICAL.test(compact));
        if (decoded) expect(decoded).toEqual(Buffer.from(compact, "base64"));
      }),
      fuzzParams(SHARE.base64),
    );
  });

  // Found here and fixed: the pad bits of the last group were not checked, so "QR==" and
  // "QUJ=" decoded (to "A" and "AB") although they are not the encoding of anything
  // (RFC 4648 §3.5): one payload had several accepted spellings.
  it("accepts only canonical Base64: what it decodes re-encodes to the same text", () => {
    void fc.assert(
      fc.property(almostBase64, (text) => {
        const compact = strip(text);
        let decoded: Buffer | undefined;
        try {
          decoded = decodeBase64Strict(text);
        } catch {}
        expect(decoded !== undefined).toBe(CANONICAL.test(compact));
        if (decoded) expect(encodeBase64(decoded)).toBe(compact);
      }),
      fuzzParams(SHARE.base64),
    );
  });

  it("rejects any XML whitespace when told to, and honours maxBytes exactly", () => {
    void fc.assert(
      fc.property(almostBase64, fc.nat(24), (text, maxBytes) => {
        let strict: Buffer | undefined;
        try {
          strict = decodeBase64Strict(text, { allowWhitespace: false });
        } catch {}
        if (/[ \t\r\n]/.test(text)) expect(strict).toBeUndefined();
        let whole: Buffer | undefined;
        try {
          whole = decodeBase64Strict(text);
        } catch {}
        let limited: Buffer | undefined;
        try {
          limited = decodeBase64Strict(text, { maxBytes });
        } catch (error) {
          expect(error).toBeInstanceOf(Base64Error);
        }
        if (whole) expect(limited !== undefined).toBe(whole.length <= maxBytes);
        else expect(limited).toBeUndefined();
      }),
      fuzzParams(SHARE.base64),
    );
  });
});
