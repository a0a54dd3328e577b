// The small things every suite needs: cleanups that run after a test (or a file), and
// waiting, by polling, for a condition to hold.

const cleanups: Array<() => unknown> = [];

/**
 * Registers `fn` to run at {@link cleanUp} (call it in afterEach or afterAll). The
 * parties of ./parties.js register theirs here too.
 */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/**
 * Runs (and forgets) everything registered with {@link onCleanup}, newest first, one at a
 * time. A cleanup that throws or rejects is passed over: it must not hide the test's result.
 */
export async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch {
      // a cleanup must not hide the test's own result
    }
  }
}

export const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `cond()` holds, checking every `everyMs`; throws after `ms`. */
export async function until(cond: () => boolean, ms = 5000, everyMs = 2): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error("condition not met in time");
    await tick(everyMs);
  }
}
