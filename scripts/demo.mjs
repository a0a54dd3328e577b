#!/usr/bin/env node
// `pnpm demo [options]`: builds the CLI and the packages it uses (incrementally, one tsc
// process), then runs `xtls demo` with the options given.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", ".bin", "tsc");
const build = spawnSync(tsc, ["-b", join(root, "apps", "cli", "tsconfig.build.json")], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(
  process.execPath,
  [join(root, "apps", "cli", "dist", "bin.js"), "demo", ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
process.exit(run.status ?? 1);
