#!/usr/bin/env node
// `pnpm bench [--quick] [--only a,b]`: builds the benchmark and the packages it measures
// (incrementally, one tsc), then runs it with a GC it can trigger (heap per idle tunnel)
// and room for 10k tunnels.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", ".bin", "tsc");
const build = spawnSync(tsc, ["-b", join(root, "bench", "tsconfig.build.json")], { stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const run = spawnSync(
  process.execPath,
  [
    "--expose-gc",
    "--max-old-space-size=8192",
    join(root, "bench", "dist", "run.js"),
    ...process.argv.slice(2),
  ],
  { stdio: "inherit" },
);
process.exit(run.status ?? 1);
