#!/usr/bin/env node
// `pnpm test`: lint, typecheck and every package's tests (turbo, in parallel), against one
// shared Prosody that this script installs (when missing, as root) and starts on 127.0.0.1.
// Ends with one summary line over all packages.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureChromiumInstalled } from "../apps/web/scripts/chromium.js";
import { ensureEjabberdInstalled } from "../tools/test-servers/ejabberd.js";
import { acquireProsody, ensureProsodyInstalled, releaseProsody } from "../tools/test-servers/prosody.js";
import { ensureSlixmppInstalled } from "../tools/test-servers/slixmpp.js";
import { checkSecurityTable } from "./security-table.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const t0 = Date.now();
const workspaces = ["packages", "apps", "tools"].flatMap((d) =>
  existsSync(join(root, d)) ? readdirSync(join(root, d)).map((p) => join(root, d, p)) : [],
);
for (const dir of workspaces) rmSync(join(dir, "test-results"), { recursive: true, force: true });

const run = (cmd, args) =>
  spawnSync(cmd, args, { stdio: "inherit", cwd: root, env: process.env }).status ?? 1;

let status = run(bin("biome"), ["check", "."]);
if (status === 0) {
  ensureProsodyInstalled();
  ensureSlixmppInstalled();
  ensureEjabberdInstalled();
  ensureChromiumInstalled();
  // Every package type-checked as one program (tsconfig.typecheck.json says why), then
  // every package's tests, in parallel; a type error fails the run but does not stop it.
  const typecheck = run(bin("tsc"), ["-p", "tsconfig.typecheck.json"]);
  if (typecheck !== 0) console.error("typecheck failed (tsc -p tsconfig.typecheck.json)");
  await acquireProsody(process.pid);
  try {
    status = run(bin("turbo"), ["run", "test", "--continue", "--output-logs=full", ...process.argv.slice(2)]);
    if (typecheck !== 0) status = 1;
  } finally {
    await releaseProsody(process.pid);
  }
}

// One line over every package's vitest report.
const totals = { files: 0, tests: 0, passed: 0, failed: 0, skipped: 0, packages: 0 };
const failedPackages = [];
for (const dir of workspaces) {
  const report = join(dir, "test-results", "vitest.json");
  if (!existsSync(report)) continue;
  const r = JSON.parse(readFileSync(report, "utf8"));
  totals.packages++;
  totals.files += r.numTotalTestSuites ?? 0;
  totals.tests += r.numTotalTests ?? 0;
  totals.passed += r.numPassedTests ?? 0;
  totals.failed += r.numFailedTests ?? 0;
  totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if ((r.numFailedTests ?? 0) > 0 || r.success === false) failedPackages.push(dir.slice(root.length + 1));
}
// SECURITY.md's table: every attack names tests that ran and passed (whole runs only; a
// filtered run does not run them all).
if (status === 0 && process.argv.length <= 2) {
  const security = checkSecurityTable(root);
  for (const problem of security.problems) console.error(problem);
  if (security.problems.length > 0) status = 1;
  else console.log(`SECURITY.md: ${security.rows} attacks, the ${security.refs} tests they name all passed`);
}

const secs = ((Date.now() - t0) / 1000).toFixed(1);
const verdict = status === 0 && totals.failed === 0 ? "PASS" : "FAIL";
console.log(
  `\n${verdict}: ${totals.tests} tests in ${totals.packages} packages — ${totals.passed} passed, ${totals.failed} failed, ` +
    `${totals.skipped} skipped (${secs} s)${failedPackages.length ? `; failing: ${failedPackages.join(", ")}` : ""}`,
);
process.exit(status === 0 && totals.failed === 0 ? 0 : 1);
