/**
 * A two-column transcript: on the left what the XMPP network carried, on the right
 * what the peers saw in plaintext, one row per event, in the order things happened.
 * Narrower than 100 columns (a small terminal, or `--width`), one column: each row
 * wrapped to the width, the peers' rows marked with "│".
 */
import type { Writable } from "node:stream";
import type { Style } from "./style.js";
import { visibleLength } from "./style.js";
import { wrapLine } from "./wrap.js";

export interface TranscriptOptions {
  readonly out: Writable & { columns?: number };
  readonly style: Style;
  readonly width?: number;
}

export class Transcript {
  readonly #out: TranscriptOptions["out"];
  readonly #style: Style;
  readonly #width: number;
  readonly #narrow: boolean;
  readonly #left: number;
  readonly #right: number;
  readonly #t0 = performance.now();

  constructor(options: TranscriptOptions) {
    this.#out = options.out;
    this.#style = options.style;
    const wanted = options.width ?? options.out.columns ?? 140;
    this.#narrow = wanted < 100;
    this.#width = this.#narrow ? Math.max(20, wanted) : Math.min(wanted, 180);
    const body = this.#width - 8 - 3;
    this.#left = Math.floor(body * 0.56);
    this.#right = body - this.#left;
  }

  line(text = ""): void {
    const lines = this.#narrow ? text.split("\n").flatMap((l) => wrapLine(l, this.#width)) : [text];
    this.#out.write(`${lines.join("\n")}\n`);
  }

  heading(text: string): void {
    this.line();
    this.line(this.#style.bold(text));
  }

  rule(left: string, right: string): void {
    if (this.#narrow) {
      this.line(this.#style.dim(`── ${left} `.padEnd(this.#width, "─")));
      this.line(this.#style.dim(`        │ ${right}`));
      return;
    }
    const l = `── ${left} `.padEnd(this.#left + 8, "─");
    const r = `── ${right} `.padEnd(this.#right + 1, "─");
    this.line(this.#style.dim(`${l}─┬${r}`));
  }

  /** A row on the network side. */
  wire(text: string): void {
    if (this.#narrow) this.#column(text, "");
    else this.#row(this.#fit(text, this.#left), "");
  }

  /** One or more rows on the peers' side (long lines wrap). */
  peer(text: string): void {
    if (this.#narrow) {
      for (const l of text.split("\n")) this.#column(l, `${this.#style.dim("│")} `);
      return;
    }
    const lines = text.split("\n").flatMap((l) => this.#wrap(l, this.#right));
    for (const [i, l] of lines.entries()) this.#row("", l, i > 0);
  }

  // One column: the time, the row's mark, the text wrapped under itself.
  #column(text: string, mark: string): void {
    const ms = (performance.now() - this.#t0).toFixed(0);
    const prefix = `${this.#style.dim(`${ms.padStart(5)}ms`)} ${mark}`;
    const indent = " ".repeat(visibleLength(prefix));
    const lines = wrapLine(`${indent}${text}`, this.#width);
    this.#out.write(`${lines.map((l, i) => (i === 0 ? prefix + l.slice(indent.length) : l)).join("\n")}\n`);
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
