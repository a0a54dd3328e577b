/** Progress of a transfer as both sides report it. */
export interface FileTransferProgress {
  /** File octets sent (sender: accepted by the tunnel) or received (receiver: written). */
  readonly bytes: number;
  /** The declared size. */
  readonly total: number;
  /** Octets per second over the last few seconds (0 until there are two samples). */
  readonly rate: number;
}

const RATE_WINDOW_MS = 3000;

/**
 * Counts octets and reports them at most every `intervalMs`: always for the first
 * octets and for the last (`bytes === total`), so even a tiny transfer reports both.
 */
export class ProgressMeter {
  readonly total: number;
  #bytes = 0;
  #lastReport = Number.NEGATIVE_INFINITY;
  #reportedFirst = false;
  readonly #samples: Array<{ t: number; bytes: number }> = [];
  readonly #intervalMs: number;
  readonly #report: (progress: FileTransferProgress) => void;

  constructor(total: number, intervalMs: number, report: (progress: FileTransferProgress) => void) {
    this.total = total;
    this.#intervalMs = intervalMs;
    this.#report = report;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(n: number): void {
    this.#bytes += n;
    const now = performance.now();
    const last = this.#samples.at(-1);
    if (!last || now - last.t >= 50) this.#samples.push({ t: now, bytes: this.#bytes });
    while (this.#samples.length > 2 && now - this.#samples[0]!.t > RATE_WINDOW_MS) this.#samples.shift();
    const final = this.#bytes >= this.total;
    if (!this.#reportedFirst || final || now - this.#lastReport >= this.#intervalMs) {
      this.#reportedFirst = true;
      this.#lastReport = now;
      this.#report({ bytes: this.#bytes, total: this.total, rate: this.rate(now) });
    }
  }

  /** Reports the final state once more if it was not reported (a zero-octet file). */
  finish(): void {
    if (this.#reportedFirst && this.#bytes >= this.total) return;
    this.#reportedFirst = true;
    this.#report({ bytes: this.#bytes, total: this.total, rate: this.rate() });
  }

  rate(now = performance.now()): number {
    const first = this.#samples[0];
    if (!first || now - first.t <= 0 || this.#samples.length < 2) return 0;
    return Math.round(((this.#bytes - first.bytes) * 1000) / (now - first.t));
  }
}
