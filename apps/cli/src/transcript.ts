/**
 * A two-column transcript: on the left what the XMPP network carried, on the right
 * what the peers saw in plaintext, one row per event, in the order things happened.
 */
import type { Writable } from "node:stream";
import type { Style } from "./style.js";
import { visibleLength } from "./style.js";

export interface TranscriptOptions {
  readonly out: Writable & { columns?: number };
  readonly style: Style;
  readonly width?: number;
}

export class Transcript {
  readonly #out: TranscriptOptions["out"];
  readonly #style: Style;
  readonly #width: number;
  readonly #left: number;
  readonly #right: number;
  readonly #t0 = performance.now();

  constructor(options: TranscriptOptions) {
    this.#out = options.out;
    this.#style = options.style;
    this.#width = Math.max(100, Math.min(options.width ?? options.out.columns ?? 140, 180));
    const body = this.#width - 8 - 3;
    this.#left = Math.floor(body * 0.56);
    this.#right = body - this.#left;
  }

  line(text = ""): void {
    this.#out.write(`${text}\n`);
  }

  heading(text: string): void {
    this.line();
    this.line(this.#style.bold(text));
  }

  rule(left: string, right: string): void {
    const l = `── ${left} `.padEnd(this.#left + 8, "─");
    const r = `── ${right} `.padEnd(this.#right + 1, "─");
    this.line(this.#style.dim(`${l}─┬${r}`));
  }

  /** A row on the network side. */
  wire(text: string): void {
    this.#row(this.#fit(text, this.#left), "");
  }

  /** One or more rows on the peers' side (long lines wrap). */
  peer(text: string): void {
    const lines = text.split("\n").flatMap((l) => this.#wrap(l, this.#right));
    for (const [i, l] of lines.entries()) this.#row("", l, i > 0);
  }

  #row(left: string, right: string, continuation = false): void {
    const ms = (performance.now() - this.#t0).toFixed(0);
    const stamp = continuation ? "".padStart(7) : `${ms.padStart(5)}ms`;
    const pad = " ".repeat(Math.max(0, this.#left - visibleLength(left)));
    this.line(`${this.#style.dim(stamp)} ${left}${pad} ${this.#style.dim("│")} ${right}`.trimEnd());
  }

  #fit(text: string, width: number): string {
    if (visibleLength(text) <= width) return text;
    // Styled text: cut on the plain form to stay within the column.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes.
    const plain = text.replace(/\u001b\[[0-9;]*m/g, "");
    return `${plain.slice(0, width - 1)}…`;
  }

  #wrap(text: string, width: number): string[] {
    if (visibleLength(text) <= width) return [text];
    const out: string[] = [];
    let rest = text;
    const indent = rest.match(/^\s*/)?.[0] ?? "";
    while (visibleLength(rest) > width) {
      let cut = rest.lastIndexOf(" ", width);
      if (cut <= indent.length) cut = width;
      out.push(rest.slice(0, cut));
      rest = indent + rest.slice(cut).trimStart();
    }
    out.push(rest);
    return out;
  }
}
