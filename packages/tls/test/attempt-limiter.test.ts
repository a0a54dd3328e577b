import { describe, expect, it } from "vitest";
import { AttemptLimiter, TooManyAttemptsError } from "../src/index.js";

function limiter(options: { freeAttempts?: number; baseDelayMs?: number; maxDelayMs?: number } = {}) {
  let now = 0;
  const l = new AttemptLimiter({ ...options, now: () => now, forgetAfterMs: 86_400_000 });
  return {
    l,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe("AttemptLimiter: password attempts per bare JID", () => {
  it("allows the free attempts, then waits base, 2×base, 4×base… up to the maximum", () => {
    const { l, advance } = limiter({ freeAttempts: 2, baseDelayMs: 1000, maxDelayMs: 5000 });
    l.begin("romeo@montague.lit/orchard").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(0);
    l.begin("romeo@montague.lit/other-device").failed(); // same bare JID
    expect(l.failures("romeo@montague.lit")).toBe(2);
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(1000);
    expect(() => l.begin("romeo@montague.lit/orchard")).toThrow(TooManyAttemptsError);
    advance(1000);
    l.begin("romeo@montague.lit").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(2000);
    advance(2000);
    l.begin("romeo@montague.lit").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(4000);
    advance(4000);
    l.begin("romeo@montague.lit").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(5000); // capped
    // Other peers are not affected.
    expect(l.retryAfterMs("juliet@capulet.lit")).toBe(0);
  });

  it("a success clears the count; an abandoned attempt (password never tested) is not counted", () => {
    const { l, advance } = limiter({ freeAttempts: 1, baseDelayMs: 1000 });
    l.begin("tybalt@capulet.lit").abandoned();
    expect(l.failures("tybalt@capulet.lit")).toBe(0);
    l.begin("tybalt@capulet.lit").failed();
    advance(1000);
    const attempt = l.begin("tybalt@capulet.lit");
    attempt.succeeded();
    attempt.failed(); // settled already: ignored
    expect(l.failures("tybalt@capulet.lit")).toBe(0);
    expect(l.retryAfterMs("tybalt@capulet.lit")).toBe(0);
  });

  it("runs one attempt per peer at a time, so parallel sessions cannot multiply the guesses", () => {
    const { l } = limiter();
    const first = l.begin("mercutio@verona.lit/a");
    expect(() => l.begin("mercutio@verona.lit/b")).toThrow(/still running/);
    first.abandoned();
    expect(() => l.begin("mercutio@verona.lit/b").abandoned()).not.toThrow();
  });

  it("tells how long to wait, without any password in the message", () => {
    const { l } = limiter({ freeAttempts: 1, baseDelayMs: 90_000 });
    l.begin("romeo@montague.lit").failed();
    let error: unknown;
    try {
      l.begin("romeo@montague.lit");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TooManyAttemptsError);
    expect(error).toMatchObject({ retryAfterMs: 90_000, detectedBy: "local", code: "too-many-attempts" });
    expect((error as Error).message).toContain("90 s");
  });

  it("forgets old failures and can be reset", () => {
    let now = 0;
    const l = new AttemptLimiter({ freeAttempts: 1, now: () => now, forgetAfterMs: 10_000 });
    l.begin("romeo@montague.lit").failed();
    expect(l.failures("romeo@montague.lit")).toBe(1);
    now += 10_001;
    expect(l.failures("romeo@montague.lit")).toBe(0);
    l.begin("romeo@montague.lit").failed();
    l.reset("romeo@montague.lit");
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(0);
  });
});
