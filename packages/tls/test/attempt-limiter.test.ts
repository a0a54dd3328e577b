import { describe, expect, it } from "vitest";
import {
  AttemptLimiter,
  type AttemptRecordStore,
  MemoryTrustStore,
  TooManyAttemptsError,
} from "../src/index.js";

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
    void l.begin("romeo@montague.lit/orchard").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(0);
    void l.begin("romeo@montague.lit/other-device").failed(); // same bare JID
    expect(l.failures("romeo@montague.lit")).toBe(2);
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(1000);
    expect(() => l.begin("romeo@montague.lit/orchard")).toThrow(TooManyAttemptsError);
    advance(1000);
    void l.begin("romeo@montague.lit").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(2000);
    advance(2000);
    void l.begin("romeo@montague.lit").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(4000);
    advance(4000);
    void l.begin("romeo@montague.lit").failed();
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(5000); // capped
    // Other peers are not affected.
    expect(l.retryAfterMs("juliet@capulet.lit")).toBe(0);
  });

  it("a success clears the count; an abandoned attempt (password never tested) is not counted", () => {
    const { l, advance } = limiter({ freeAttempts: 1, baseDelayMs: 1000 });
    void l.begin("tybalt@capulet.lit").abandoned();
    expect(l.failures("tybalt@capulet.lit")).toBe(0);
    void l.begin("tybalt@capulet.lit").failed();
    advance(1000);
    const attempt = l.begin("tybalt@capulet.lit");
    void attempt.succeeded();
    void attempt.failed(); // settled already: ignored
    expect(l.failures("tybalt@capulet.lit")).toBe(0);
    expect(l.retryAfterMs("tybalt@capulet.lit")).toBe(0);
  });

  it("runs one attempt per peer at a time, so parallel sessions cannot multiply the guesses", () => {
    const { l } = limiter();
    const first = l.begin("mercutio@verona.lit/a");
    expect(() => l.begin("mercutio@verona.lit/b")).toThrow(/still running/);
    void first.abandoned();
    expect(() => l.begin("mercutio@verona.lit/b").abandoned()).not.toThrow();
  });

  it("tells how long to wait, without any password in the message", () => {
    const { l } = limiter({ freeAttempts: 1, baseDelayMs: 90_000 });
    void l.begin("romeo@montague.lit").failed();
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
    void l.begin("romeo@montague.lit").failed();
    expect(l.failures("romeo@montague.lit")).toBe(1);
    now += 10_001;
    expect(l.failures("romeo@montague.lit")).toBe(0);
    void l.begin("romeo@montague.lit").failed();
    l.reset("romeo@montague.lit");
    expect(l.retryAfterMs("romeo@montague.lit")).toBe(0);
  });
});

describe("AttemptLimiter with a store: the counts outlive the process", () => {
  it("a new limiter on the same store (a fresh process) still refuses, and says until when", async () => {
    const store = new MemoryTrustStore(); // a FileTrustStore behaves the same across processes
    let now = Date.UTC(2026, 11, 7, 20, 0, 0);
    const options = { freeAttempts: 2, baseDelayMs: 60_000, now: () => now, store };
    for (let i = 0; i < 2; i++) {
      const fresh = new AttemptLimiter(options); // each run of `xtls receive` is a new process
      await (await fresh.acquire("mallory@evil.example/a")).failed();
    }
    expect(await store.loadAttempts("mallory@evil.example")).toEqual({ failures: 2, lastFailureAt: now });
    now += 1000;
    const error = await new AttemptLimiter(options).acquire("mallory@evil.example/b").catch((e) => e);
    expect(error).toBeInstanceOf(TooManyAttemptsError);
    expect(error).toMatchObject({ retryAfterMs: 59_000, retryAt: new Date(Date.UTC(2026, 11, 7, 20, 1, 0)) });
    expect(error.message).toContain("locked out until 2026-12-07T20:01:00Z");
    now += 59_000;
    const allowed = await new AttemptLimiter(options).acquire("mallory@evil.example");
    await allowed.succeeded();
    expect(await store.loadAttempts("mallory@evil.example")).toBeUndefined();
  });

  it("settled() waits for a failure's count to be written, even when nobody awaited failed() (the engine reports the failure only then)", async () => {
    const store = new MemoryTrustStore();
    let release!: () => void;
    const slow: AttemptRecordStore = {
      loadAttempts: (jid) => store.loadAttempts(jid),
      saveAttempts: async (jid, record) => {
        await new Promise<void>((r) => {
          release = r;
        });
        return store.saveAttempts(jid, record);
      },
    };
    const limiter = new AttemptLimiter({ store: slow });
    void (await limiter.acquire("mallory@evil.example")).failed(); // as the SRP server does
    let settled = false;
    const waiting = limiter.settled().then(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    release();
    await waiting;
    expect(await store.loadAttempts("mallory@evil.example")).toMatchObject({ failures: 1 });
  });
});
