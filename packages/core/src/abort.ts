import { AbortError, TimeoutError } from "./errors.js";

export interface Deadline {
  /** Rejects with {@link TimeoutError} or {@link AbortError}; never resolves. */
  readonly promise: Promise<never>;
  /** Releases the timer and the abort listener. Always call it (in a `finally`). */
  dispose(): void;
}

/**
 * A promise that rejects when `timeoutMs` elapses or `signal` aborts, whichever is
 * first. Races well with the operation it guards: `Promise.race([op, d.promise])`.
 */
export function deadline(what: string, timeoutMs: number | undefined, signal?: AbortSignal): Deadline {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(what, signal.reason));
      return;
    }
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      timer = setTimeout(() => reject(new TimeoutError(what, timeoutMs)), timeoutMs);
      timer.unref?.();
    }
    if (signal) {
      onAbort = () => reject(new AbortError(what, signal.reason));
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  // The race partner may settle first; never leave this one as an unhandled rejection.
  promise.catch(() => {});
  return {
    promise,
    dispose() {
      if (timer) clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    },
  };
}

/** Runs `op` under a {@link deadline}, releasing it whatever happens. */
export async function withDeadline<T>(
  what: string,
  op: Promise<T>,
  timeoutMs: number | undefined,
  signal?: AbortSignal,
): Promise<T> {
  const d = deadline(what, timeoutMs, signal);
  try {
    return await Promise.race([op, d.promise]);
  } finally {
    d.dispose();
  }
}
