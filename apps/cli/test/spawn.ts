// Spawning the built `xtls` binary as a user runs it, for the tests that drive the CLI
// against a real Prosody: answers to prompts given on stdin (not a terminal).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
// Not "@xtls/test-servers" itself: it reads the Prosody port base when imported, and
// faults.test.ts points it at a server of its own before importing it.
import { deadlines } from "@xtls/test-servers/deadlines";
import { type StartedCommand, startCommand } from "@xtls/test-servers/processes";

const APP = join(import.meta.dirname, "..");
export const BIN = join(APP, "dist", "bin.js");

/** Builds the CLI (dist/) once per test file. */
export function buildCli(): void {
  const r = spawnSync(
    join(APP, "..", "..", "node_modules", ".bin", "tsc"),
    ["-b", join(APP, "tsconfig.build.json")],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

/** A spawned `xtls`: its output so far, its exit, and `seen()` (both outputs) for failure messages. */
export type Run = StartedCommand;

/** Runs `xtls ARGS` with the server and account password of `server`; stdin ended with `stdin` if given. */
export function startCli(
  server: { service: string; password: string },
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Run {
  const { NO_COLOR: _n, FORCE_COLOR: _f, XTLS_OTP: _o, ...inherited } = process.env;
  return startCommand(process.execPath, [BIN, ...args], {
    env: { ...inherited, XTLS_SERVER: server.service, XTLS_PASSWORD: server.password, ...env },
    stdin,
    label: `xtls ${args.join(" ")}`,
  });
}

/** Resolves once `run` printed `text` (stdout or stderr); fails with both outputs if it exits first or the deadline passes. */
export function waitFor(run: Run, text: string | RegExp, ms = deadlines.outputMs): Promise<void> {
  return run.waitFor(text, ms);
}

/** The account options of Romeo or Juliet of `tag` (their own identity and trust store under `dir`). */
export const accountArgs = (dir: string, who: "romeo" | "juliet", tag: string): string[] =>
  who === "romeo"
    ? ["--jid", "romeo@montague.lit", "--dir", join(dir, `${tag}-romeo`)]
    : ["--jid", "juliet@capulet.lit", "--resource", `balcony-${tag}`, "--dir", join(dir, `${tag}-juliet`)];

/** Makes Romeo and Juliet of `tag` verified contacts of each other (identities made, pinned by hand). */
export async function verifiedPair(
  server: { service: string; password: string },
  dir: string,
  tag: string,
): Promise<void> {
  const made = { romeo: "", juliet: "" };
  for (const who of ["romeo", "juliet"] as const) {
    const r = startCli(server, ["identity", "new", ...accountArgs(dir, who, tag), "--json"]);
    if ((await r.done) !== 0) throw new Error(`identity new failed: ${r.stderr()}`);
    made[who] = JSON.parse(r.stdout()).fingerprint;
  }
  for (const [who, peer, fp] of [
    ["romeo", "juliet@capulet.lit", made.juliet],
    ["juliet", "romeo@montague.lit", made.romeo],
  ] as const) {
    const r = startCli(server, ["trust", "verify", peer, fp, ...accountArgs(dir, who, tag)]);
    if ((await r.done) !== 0) throw new Error(`trust verify failed: ${r.stderr()}`);
  }
}

/** A shell word for `script -c`. */
const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/**
 * Runs `xtls ARGS` in a pseudo-terminal (util-linux `script`) of `columns` columns: stdin,
 * stdout and stderr are the terminal, so the CLI prompts without echo and wraps to its
 * width. Both outputs arrive merged in `stdout()`, with the terminal's `\r\n`; keys go in
 * through `child.stdin` (a carriage return ends a line). No XTLS_* variable is inherited.
 */
export function startInTerminal(
  args: string[],
  { columns = 80, env = {} }: { columns?: number; env?: Record<string, string> } = {},
): Run {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith("XTLS_") && k !== "NO_COLOR" && k !== "FORCE_COLOR",
    ),
  );
  const command = `stty cols ${columns} rows 40; exec ${[process.execPath, BIN, ...args].map(quote).join(" ")}`;
  return startCommand("script", ["-q", "-e", "-c", command, "/dev/null"], {
    env: { ...inherited, ...env },
    label: `xtls ${args.join(" ")} (in a ${columns}-column terminal)`,
  });
}
