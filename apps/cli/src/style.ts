/** ANSI styling when writing to a terminal (and NO_COLOR is unset); plain text otherwise. */
export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
  yellow(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

export function makeStyle(enabled: boolean): Style {
  if (!enabled) {
    const id = (s: string) => s;
    return { bold: id, dim: id, green: id, red: id, cyan: id, magenta: id, yellow: id };
  }
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    green: wrap(32, 39),
    red: wrap(31, 39),
    cyan: wrap(36, 39),
    magenta: wrap(35, 39),
    yellow: wrap(33, 39),
  };
}

export function colorWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv, flag?: boolean): boolean {
  if (flag !== undefined) return flag;
  if (env.NO_COLOR) return false; // https://no-color.org: any non-empty value
  if (env.FORCE_COLOR) return env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false";
  return stream.isTTY === true;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes.
const ANSI = /\u001b\[[0-9;]*m/g;
export const visibleLength = (s: string) => s.replace(ANSI, "").length;
