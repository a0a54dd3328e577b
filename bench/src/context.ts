import type { XmppLink } from "@xtls/core";

/** What every scenario gets from the runner. */
export interface BenchContext {
  readonly quick: boolean;
  /** Prints one progress line (stderr). */
  log(line: string): void;
  /** Two fresh, connected accounts on the project's Prosody (romeo@montague.lit, juliet@capulet.lit). */
  prosodyPair(): Promise<{ romeo: XmppLink; juliet: XmppLink; close(): Promise<void> }>;
}

/** One row of the results table. */
export interface Row {
  readonly scenario: string;
  readonly case: string;
  /** What is measured, with its unit. */
  readonly metric: string;
  readonly value: number;
  readonly spreadPct?: number;
  readonly runs?: number;
  /** The baseline measured in the same run, and value ÷ baseline. */
  readonly baseline?: { readonly name: string; readonly value: number };
  readonly ratio?: number;
  /** A target from the issue, and whether this run met it. */
  readonly target?: string;
  readonly met?: boolean;
}

export interface ScenarioResult {
  readonly name: string;
  readonly title: string;
  readonly rows: readonly Row[];
  /** Extra structured data for the JSON file. */
  readonly details?: unknown;
}
