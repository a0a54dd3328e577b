/** Medians and spreads over repeated runs; a benchmark reports both, never one sample. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** (max − min) / median, in percent. */
  readonly spreadPct: number;
  readonly runs: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const min = sorted[0]!;
  const max = sorted[sorted.length - 1]!;
  return {
    median,
    min,
    max,
    spreadPct: median === 0 ? 0 : ((max - min) / median) * 100,
    runs: samples.length,
  };
}

export const MiB = 1024 * 1024;

/** MB/s (10^6 octets per second), as network people count. */
export function mbps(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

export function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return n.toFixed(0);
  if (Math.abs(n) >= 100) return n.toFixed(1);
  return n.toFixed(digits);
}

export function fmtSummary(s: Summary, unit = "", digits = 2): string {
  return `${fmt(s.median, digits)}${unit} (±${s.spreadPct.toFixed(0)}%, n=${s.runs})`;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Forces a full GC when node runs with --expose-gc (the bench script passes it). */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
