/**
 * A transfer progress bar with rate and ETA. On a terminal it redraws one line; piped,
 * it prints a line at each quarter, so logs stay readable.
 */
import type { Writable } from "node:stream";
import type { Style } from "./style.js";

/** `3 B`, `46 B`, `1.2 MiB`: whole bytes, then binary units with one decimal below 10. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "? B";
  if (Math.round(n) < 1024) return `${Math.round(n)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A transfer rate: `46 B/s`, `1.2 MiB/s`. */
export const formatRate = (bytesPerSecond: number): string => `${formatBytes(bytesPerSecond)}/s`;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))}s`;
  const m = Math.floor(seconds / 60);
  return `${m}m${String(Math.round(seconds - m * 60)).padStart(2, "0")}s`;
}

export class ProgressBar {
  readonly #out: Writable & { isTTY?: boolean; columns?: number };
  readonly #style: Style;
  readonly #label: string;
  readonly #total: number;
  #lastQuarter = -1;
  #lastDraw = 0;
  readonly #started = Date.now();

  constructor(
    out: Writable & { isTTY?: boolean; columns?: number },
    style: Style,
    label: string,
    total: number,
  ) {
    this.#out = out;
    this.#style = style;
    this.#label = label;
    this.#total = total;
  }

  update(bytes: number, reportedRate: number): void {
    // The average since the start when the transfer reports no rate yet.
    const elapsed = (Date.now() - this.#started) / 1000;
    const rate = reportedRate > 0 ? reportedRate : elapsed > 0 ? bytes / elapsed : 0;
    const fraction = this.#total > 0 ? Math.min(1, bytes / this.#total) : 1;
    const eta = rate > 0 ? (this.#total - bytes) / rate : Number.POSITIVE_INFINITY;
    const text = `${this.#label} ${Math.round(fraction * 100)
      .toString()
      .padStart(
        3,
      )}% ${formatBytes(bytes)}/${formatBytes(this.#total)} ${formatRate(rate)} ETA ${formatDuration(eta)}`;
    if (this.#out.isTTY) {
      const now = Date.now();
      if (now - this.#lastDraw < 100 && fraction < 1) return;
      this.#lastDraw = now;
      // Within the terminal's width: a narrow one drops the bar, then cuts the text.
      const columns = this.#out.columns || 80;
      const width = Math.min(30, columns - text.length - 2);
      const filled = Math.round(fraction * Math.max(0, width));
      const bar =
        width >= 10
          ? `${this.#style.green("█".repeat(filled)) + this.#style.dim("░".repeat(width - filled))} `
          : "";
      const shown = text.length > columns - 1 ? `${text.slice(0, columns - 2)}…` : text;
      this.#out.write(`\r${bar}${shown}\u001b[K`);
      return;
    }
    const quarter = Math.floor(fraction * 4);
    if (quarter > this.#lastQuarter) {
      this.#lastQuarter = quarter;
      this.#out.write(`${text}\n`);
    }
  }

  finish(): void {
    if (this.#out.isTTY) this.#out.write("\n");
  }
}
