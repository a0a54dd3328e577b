import { describe, expect, it } from "vitest";
import { Base64Error, decodeBase64Strict, encodeBase64 } from "../src/index.js";

// The vector: docs/protocol/test-vectors.md#file-hash-and-ibb-chunk.
describe("strict Base64 (RFC 4648 §4)", () => {
  it("decodes the test vector and round-trips", () => {
    expect(decodeBase64Strict("WFRMUyB0ZXN0IGZpbGUK").toString()).toBe("XTLS test file\n");
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    expect(decodeBase64Strict(encodeBase64(bytes))).toEqual(bytes);
    expect(encodeBase64(Buffer.alloc(4096)).length).toBe(5464);
  });

  it("tolerates XML whitespace, as XEP-0047's own examples wrap lines", () => {
    expect(decodeBase64Strict("WFRM\n  UyB0ZXN0\r\n\tIGZpbGUK").toString()).toBe("XTLS test file\n");
  });

  it.each([
    ["WFRM*yB0", "junk character"],
    ["WFRMUyB", "missing padding"],
    ["WF=MUyB0", "misplaced padding"],
    ["WFRMUyB0ZXN0IGZpbGUK=", "extra padding"],
    ["WFRM UyB0", "whitespace when not allowed"],
  ])("rejects %j (%s) where Buffer.from would silently decode", (input, why) => {
    const options = why.startsWith("whitespace") ? { allowWhitespace: false } : {};
    expect(() => decodeBase64Strict(input, options)).toThrow(Base64Error);
  });

  it("shows why: Node's own decoder skips junk", () => {
    expect(Buffer.from("WFRM*yB0", "base64").length).toBeGreaterThan(0);
  });

  it("enforces a decoded size limit before decoding", () => {
    const text = encodeBase64(Buffer.alloc(4097));
    expect(() => decodeBase64Strict(text, { maxBytes: 4096 })).toThrow(
      "4097 octets exceed the limit of 4096",
    );
    expect(decodeBase64Strict(encodeBase64(Buffer.alloc(4096)), { maxBytes: 4096 }).length).toBe(4096);
  });

  it("decodes the empty string to zero octets", () => {
    expect(decodeBase64Strict("").length).toBe(0);
  });
});
