// Runs the examples of a README, so that what the documentation shows is what the code does.
//
// readmeBlocks(file) extracts the fenced ```ts blocks; readmeRunner({ readme }) writes each one,
// verbatim, to a temporary .ts file inside the package (test/.readme/, gitignored), so that
// workspace imports like "@xtls/core" resolve as they do for the package's own tests, and
// `await import()`s it inside vitest (vite compiles the TypeScript). A run captures what the
// block printed (console, process.stdout, process.stderr), fails with the block number and the
// README line on an exception or a timeout, and waits for the sockets, servers and files the
// block opened to be closed (a program that leaves them open never terminates). typecheck()
// compiles every block of the README in one TypeScript program with the package's tsconfig,
// so a README that drifts from the API fails even where nothing runs it.
// readmeCommands(file) lists the commands of the ```sh blocks, with their README lines.

import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { deadlines } from "./deadlines.js";

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)[^\n]*$/;

/** Every fenced block of a Markdown file: its language, its first code line (1-based) and its code. */
function fencedBlocks(text) {
  const lines = text.split("\n");
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let j = i + 1;
    while (
      j < lines.length &&
      !(lines[j].trim().startsWith(fence) && lines[j].trim().replace(/[`~]/g, "") === "")
    )
      j++;
    const body = lines.slice(i + 1, j).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l));
    out.push({ lang: lang.toLowerCase(), line: i + 2, code: `${body.join("\n")}\n` });
    i = j;
  }
  return out;
}

export function readmeBlocks(readme, lang = "ts") {
  const langs = typeof lang === "string" ? [lang] : lang;
  const file = resolve(readme);
  return fencedBlocks(readFileSync(file, "utf8"))
    .filter((b) => langs.includes(b.lang))
    .map((b, i) => ({ readme: file, index: i + 1, ...b }));
}

export function readmeCommands(readme) {
  const file = resolve(readme);
  const out = [];
  for (const block of fencedBlocks(readFileSync(file, "utf8"))) {
    if (!["sh", "shell", "bash", "console"].includes(block.lang)) continue;
    const lines = block.code.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = block.line + i;
      let text = lines[i];
      // A trailing backslash continues the command on the next line.
      while (/\\\s*$/.test(text) && i + 1 < lines.length)
        text = `${text.replace(/\s*\\\s*$/, "")} ${lines[++i].trim()}`;
      const { command, comment } = splitComment(text.replace(/^\s*\$\s+/, ""));
      if (command)
        out.push({
          readme: file,
          line,
          command,
          words: shellWords(command),
          ...(comment ? { comment } : {}),
        });
    }
  }
  return out;
}

/** A command line as the shell would split it into words (quotes removed; no expansions). */
export function shellWords(command) {
  const words = [];
  let word;
  let quote = "";
  for (let i = 0; i < command.length; i++) {
    const c = command[i];
    if (quote) {
      if (c === quote) quote = "";
      else if (c === "\\" && quote === '"' && i + 1 < command.length) word += command[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\" && i + 1 < command.length) word = (word ?? "") + command[++i];
    else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? "") + c;
  }
  if (quote) throw new SyntaxError(`unterminated ${quote} in: ${command}`);
  if (word !== undefined) words.push(word);
  return words;
}

/** Splits `cmd   # comment` outside quotes. */
function splitComment(text) {
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1])))
      return { command: text.slice(0, i).trim(), comment: text.slice(i + 1).trim() };
  }
  return { command: text.trim(), comment: "" };
}

let runs = 0;

export function readmeRunner(options) {
  return new ReadmeRunner(options);
}

export class ReadmeRunner {
  constructor({ readme, dir, lang = "ts", timeoutMs = deadlines.exampleMs, settleMs = 5_000 }) {
    this.readme = resolve(readme);
    this.dir = resolve(dir ?? dirname(this.readme));
    this.timeoutMs = timeoutMs;
    this.settleMs = settleMs;
    this.blocks = readmeBlocks(this.readme, lang);
    this.ran = new Set();
    this.name = relative(this.dir, this.readme) || basename(this.readme);
    this.tmp = join(this.dir, "test", ".readme");
    const slug = this.name
      .replace(/\.md$/i, "")
      .replace(/[^\w]+/g, "-")
      .replace(/^-+|-+$/g, "");
    const nonce = `${process.pid}-${++runs}`;
    this.files = this.blocks.map((b) => join(this.tmp, `${slug}-${b.index}.${nonce}.ts`));
    mkdirSync(this.tmp, { recursive: true });
    for (const [i, b] of this.blocks.entries()) writeFileSync(this.files[i], b.code);
  }

  block(index) {
    const block = this.blocks[index - 1];
    if (!block) throw new RangeError(`${this.name} has ${this.blocks.length} ts blocks, not block ${index}`);
    return block;
  }

  where(index) {
    return `${this.name} block ${index} (line ${this.block(index).line})`;
  }

  /** Rewrites the temporary file's positions in a stack as README positions. */
  mapStack(index, text) {
    const file = this.files[index - 1];
    const line0 = this.block(index).line - 1;
    const literal = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const at = new RegExp(
      `(?:${literal(pathToFileURL(file).href)}|${literal(file)})(?:\\?[^:\\s)]*)?(?::(\\d+)(?::(\\d+))?)?`,
      "g",
    );
    return String(text).replace(at, (_, l, c) =>
      l ? `${this.readme}:${line0 + Number(l)}${c ? `:${c}` : ""}` : this.readme,
    );
  }

  /**
   * Runs block `index` (1-based) and resolves with what it printed and exported, once the
   * handles it opened are closed. Rejects with the block number and README line.
   */
  async run(index, { timeoutMs = this.timeoutMs, settleMs = this.settleMs, cwd } = {}) {
    const block = this.block(index);
    const where = this.where(index);
    this.ran.add(index);
    const url = pathToFileURL(this.files[index - 1]).href;
    const logs = [];
    let stdout = "";
    let stderr = "";
    const saved = {};
    for (const m of ["log", "info", "warn", "error", "debug"]) {
      saved[m] = console[m];
      console[m] = (...args) => void logs.push(format(...args));
    }
    const write = (sink) => (chunk, encoding, callback) => {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      if (sink === "out") stdout += text;
      else stderr += text;
      const cb = typeof encoding === "function" ? encoding : callback;
      if (cb) queueMicrotask(() => cb());
      return true;
    };
    const outWrite = process.stdout.write;
    const errWrite = process.stderr.write;
    process.stdout.write = write("out");
    process.stderr.write = write("err");
    const printed = () => {
      const all = [...logs, stdout, stderr].filter(Boolean).join("\n").trimEnd();
      return all ? `\nit printed:\n${all.slice(-4000)}` : "";
    };
    const before = countResources();
    const oldCwd = process.cwd();
    if (cwd) process.chdir(cwd);
    let timer;
    try {
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${where} did not finish within ${timeoutMs} ms${printed()}`)),
          timeoutMs,
        );
      });
      let exports;
      try {
        exports = await Promise.race([import(/* @vite-ignore */ url), timeout]);
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        if (err.message.startsWith(where)) throw err;
        const wrapped = new Error(`${where} threw: ${this.mapStack(index, err.message)}${printed()}`, {
          cause: err,
        });
        wrapped.stack = `${wrapped.message}\n${this.mapStack(index, err.stack ?? "")
          .split("\n")
          .slice(1)
          .join("\n")}`;
        throw wrapped;
      }
      clearTimeout(timer);
      const left = await settle(before, settleMs);
      if (left.length)
        throw new Error(
          `${where} finished but left ${left.join(", ")} open after ${settleMs} ms: as a program it would not terminate${printed()}`,
        );
      return { logs, stdout, stderr, exports: { ...exports }, block };
    } finally {
      clearTimeout(timer);
      if (cwd) process.chdir(oldCwd);
      process.stdout.write = outWrite;
      process.stderr.write = errWrite;
      for (const [m, f] of Object.entries(saved)) console[m] = f;
    }
  }

  /**
   * Type-checks every block in one program with the package's tsconfig.json (each block a
   * module of its own). Resolves with the diagnostics as `README.md:line:column (block n)
   * TSxxxx: message`; empty when the README matches the API.
   */
  async typecheck() {
    const ts = (await import("typescript")).default;
    const configFile = join(this.dir, "tsconfig.json");
    const parsed = ts.getParsedCommandLineOfConfigFile(
      configFile,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
        },
      },
    );
    if (!parsed) throw new Error(`cannot read ${configFile}`);
    const program = ts.createProgram({
      rootNames: this.files,
      options: { ...parsed.options, noEmit: true, moduleDetection: ts.ModuleDetectionKind.Force },
    });
    const out = [];
    this.files.forEach((file, i) => {
      const source = program.getSourceFile(file);
      if (!source) throw new Error(`TypeScript did not load ${file}`);
      const block = this.blocks[i];
      for (const d of [
        ...program.getSyntacticDiagnostics(source),
        ...program.getSemanticDiagnostics(source),
      ]) {
        const { line, character } = source.getLineAndCharacterOfPosition(d.start ?? 0);
        const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
        out.push(
          `${this.name}:${block.line + line}:${character + 1} (block ${block.index}) TS${d.code}: ${text}`,
        );
      }
    });
    return out;
  }

  /** The blocks that run() was never called for (a last test can expect none). */
  notRun() {
    return this.blocks.map((b) => b.index).filter((i) => !this.ran.has(i));
  }

  /** Removes the temporary files (call it in afterAll). */
  cleanup() {
    for (const f of this.files) rmSync(f, { force: true });
    try {
      rmdirSync(this.tmp);
    } catch {
      // Another runner's files are still there.
    }
  }
}

/** Active handles and requests by type, timers left out (a pending timer ends on its own). */
function countResources() {
  const counts = new Map();
  for (const r of process.getActiveResourcesInfo()) {
    if (r === "Timeout" || r === "Immediate") continue;
    counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  return counts;
}

async function settle(before, ms) {
  const t0 = Date.now();
  for (;;) {
    const now = countResources();
    const left = [];
    for (const [type, n] of now)
      if (n > (before.get(type) ?? 0)) left.push(`${n - (before.get(type) ?? 0)} ${type}`);
    if (!left.length || Date.now() - t0 >= ms) return left;
    await new Promise((r) => setTimeout(r, 20));
  }
}
