/**
 * Long lines wrapped to the terminal's width (or `--width`): at spaces, with a hanging
 * indent (an option's description continues under itself), ANSI colours counted as
 * nothing. Only where the CLI prints prose (help, the demo); JSON is never wrapped.
 */
import type { Writable } from "node:stream";
import { visibleLength } from "./style.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes.
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const plain = (s: string) => s.replace(ANSI, "");

/** The width to wrap to: `--width`, else the terminal's columns; none when piped. */
export function widthOf(stream: { isTTY?: boolean; columns?: number }, given?: number): number | undefined {
  if (given !== undefined) return given;
  return stream.isTTY && stream.columns && stream.columns > 0 ? stream.columns : undefined;
}

/**
 * Where a wrapped line's continuations start: under an option's description ("  --to JID
 * the peer's…": after the first run of two spaces behind the option), else two columns
 * in from the line's own indent — never so far in that little room is left.
 */
function hangingIndent(line: string, width: number): number {
  const text = plain(line);
  const lead = text.match(/^\s*/)?.[0].length ?? 0;
  const column = text.match(/^(\s*\S+(?: \S+)*\s{2,})\S/)?.[1]?.length;
  const indent = column !== undefined && column > lead ? column : lead + 2;
  return indent <= width / 2 ? indent : Math.min(lead, Math.floor(width / 4));
}

/** One line as lines of at most `width` visible columns (runs of spaces inside kept). */
export function wrapLine(line: string, width: number): string[] {
  if (visibleLength(line) <= width) return [line];
  const indent = " ".repeat(hangingIndent(line, width));
  const lead = line.match(/^\s*/)?.[0] ?? "";
  const out: string[] = [];
  let current = lead;
  let empty = true;
  const push = () => {
    out.push(current.trimEnd());
    current = indent;
    empty = true;
  };
  for (const [, gap = "", found = ""] of line.slice(lead.length).matchAll(/( *)(\S+)/g)) {
    let word = found;
    const sep = () => (empty ? "" : gap);
    if (!empty && visibleLength(current) + gap.length + visibleLength(word) > width) push();
    // A word longer than a whole line is cut, after a colon if it has one (a fingerprint
    // stays in whole bytes), its colours dropped.
    while (visibleLength(current) + sep().length + visibleLength(word) > width) {
      const room = width - visibleLength(current) - sep().length;
      const p = plain(word);
      const colon = p.lastIndexOf(":", room - 1);
      const cut = colon >= Math.floor(room / 2) ? colon + 1 : room;
      if (room < 4 && !empty) {
        push();
        continue;
      }
      current += sep() + p.slice(0, Math.max(1, cut));
      word = p.slice(Math.max(1, cut));
      push();
    }
    if (word === "") continue;
    current += sep() + word;
    empty = false;
  }
  if (!empty || out.length === 0) out.push(current.trimEnd());
  return out;
}

/** Every line of `text` wrapped to `width` (no change without a width). */
export function wrapText(text: string, width: number | undefined): string {
  if (width === undefined) return text;
  return text
    .split("\n")
    .flatMap((l) => wrapLine(l, width))
    .join("\n");
}

/**
 * A stream that wraps each complete line written to it before passing it on. A chunk
 * with a carriage return (a progress bar redrawing its line) passes as it is.
 */
export function wrappingStream<T extends Writable & { isTTY?: boolean; columns?: number }>(
  out: T,
  width: number | undefined,
): T {
  if (width === undefined) return out;
  let pending = "";
  const write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = pending + (typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
    const callback = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    if (text.includes("\r")) {
      pending = "";
      return out.write(text, callback);
    }
    const nl = text.lastIndexOf("\n");
    pending = text.slice(nl + 1);
    if (nl < 0) {
      callback?.();
      return true;
    }
    return out.write(`${wrapText(text.slice(0, nl), width)}\n`, callback);
  };
  return new Proxy(out, {
    get(target, key) {
      if (key === "write") return write;
      if (key === "columns") return width;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
