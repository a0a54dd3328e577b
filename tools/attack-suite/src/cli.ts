/**
 * The victims: the `xtls` command as a user runs it (apps/cli's dist/bin.js), spawned with
 * the suite's server, answers on stdin, its output collected for assertions. The same way
 * apps/cli/test/commands.test.ts runs it.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { prosody, REPO_ROOT, type StartedCommand, startCommand } from "@xtls/test-servers";

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

export interface CliRun extends StartedCommand {
  readonly args: readonly string[];
}

/**
 * Spawns `xtls ARGS`. `stdin`: a string is written and the input closed (an empty string is
 * a closed, empty input, so any prompt reads end of input); undefined leaves it open.
 * `kill()` sends SIGKILL: a victim left running is of no use to any later test.
 */
export function xtls(args: readonly string[], env: Record<string, string> = {}, stdin?: string): CliRun {
  const { NO_COLOR: _n, FORCE_COLOR: _f, XTLS_OTP: _o, ...inherited } = process.env;
  const run = startCommand(process.execPath, [XTLS_BIN, ...args], {
    env: { ...inherited, XTLS_SERVER: prosody.service, XTLS_PASSWORD: prosody.password, ...env },
    stdin,
    label: `xtls ${args.join(" ")}`,
  });
  return { ...run, args, kill: () => run.kill("SIGKILL") };
}
