/**
 * The victims: the `xtls` command as a user runs it (apps/cli's dist/bin.js), spawned with
 * the suite's server, answers on stdin, its output collected for assertions. The same way
 * apps/cli/test/commands.test.ts runs it.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { prosody, REPO_ROOT } from "@xtls/test-servers";

const APP = join(REPO_ROOT, "apps", "cli");
export const XTLS_BIN = join(APP, "dist", "bin.js");

/** Builds apps/cli (and the packages it references) with `tsc -b`: incremental, a no-op when built. */
export function buildCli(): void {
  const r = spawnSync(
    join(REPO_ROOT, "node_modules", ".bin", "tsc"),
    ["-b", join(APP, "tsconfig.build.json")],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`building apps/cli failed:\n${r.stdout}${r.stderr}`);
}

export interface CliRun {
  readonly child: ChildProcessWithoutNullStreams;
  readonly args: readonly string[];
  stdout(): string;
  stderr(): string;
  /** The exit code (null when killed by a signal). */
  readonly done: Promise<number | null>;
  /** Resolves when stdout or stderr contains `text`; rejects if the process exits first or after `ms`. */
  waitFor(text: string | RegExp, ms: number): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Spawns `xtls ARGS`. `stdin`: a string is written and the input closed (an empty string is
 * a closed, empty input, so any prompt reads end of input); undefined leaves it open.
 */
export function xtls(args: readonly string[], env: Record<string, string> = {}, stdin?: string): CliRun {
  const { NO_COLOR: _n, FORCE_COLOR: _f, XTLS_OTP: _o, ...inherited } = process.env;
  const child = spawn(process.execPath, [XTLS_BIN, ...args], {
    env: { ...inherited, XTLS_SERVER: prosody.service, XTLS_PASSWORD: prosody.password, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout.on("data", (d) => {
    out += d;
    poke();
  });
  child.stderr.on("data", (d) => {
    err += d;
    poke();
  });
  child.stdin.on("error", () => {}); // a process that exits before reading its input
  if (stdin !== undefined) child.stdin.end(stdin);
  const done = new Promise<number | null>((resolve) =>
    child.on("close", (code) => {
      resolve(code);
      poke();
    }),
  );
  const has = (text: string | RegExp) =>
    typeof text === "string" ? out.includes(text) || err.includes(text) : text.test(out) || text.test(err);
  return {
    child,
    args,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor: (text, ms) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (has(text)) finish();
          else if (child.exitCode !== null || child.signalCode !== null)
            finish(
              new Error(`xtls ${args[0]} exited ${child.exitCode} before printing ${text}; stderr:\n${err}`),
            );
        };
        const timer = setTimeout(
          () => finish(new Error(`xtls ${args[0]} did not print ${text} within ${ms} ms; stderr:\n${err}`)),
          ms,
        );
        const finish = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        waiters.add(check);
        check();
      }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await done;
    },
  };
}
