import { describe, expect, it } from "vitest";
import { randomId } from "../src/index.js";

describe("randomId", () => {
  it("gives distinct ids of the asked size across many pool refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const id = randomId(9);
      expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(20_000);
    const hex = new Set(Array.from({ length: 5000 }, () => randomId(8, "hex")));
    expect(hex.size).toBe(5000);
    for (const id of hex) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });

  it("draws uniformly: every hex digit appears about as often (no zeroed or reused pool octets)", () => {
    const counts = new Map<string, number>();
    const draws = 4000;
    for (let i = 0; i < draws; i++)
      for (const c of randomId(16, "hex")) counts.set(c, (counts.get(c) ?? 0) + 1);
    const expected = (draws * 32) / 16;
    expect(counts.size).toBe(16);
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.1);
  });

  it("refuses sizes outside 1–256 octets", () => {
    for (const bad of [0, -1, 1.5, 257]) expect(() => randomId(bad)).toThrow(RangeError);
  });
});
