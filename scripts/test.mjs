#!/usr/bin/env node
// `pnpm test`: references (scripts/check-references.mjs), lint, typecheck and every package's
// tests, against one shared Prosody that this script installs (when missing, as root) and starts
// on 127.0.0.1. Ends with one summary line over all packages, after a table of where the time
// went.
//
// Why it schedules the packages itself (instead of `turbo run test`, which starts every
// package's vitest at once, each with a worker per core): on the 2-core machines CI and most
// laptops have, that drove the load to ~15 and tests that spawn the CLI or log in to Prosody
// missed their deadlines (fresh clones failed in 3 to 10 packages). Here the machine is never
// asked for more test workers than it has cores (`XTLS_TEST_WORKERS`, read by every package's
// vitest config), in two stages:
//   1. functional: the packages' own tests, `cores` packages at a time with one worker each,
//      the longest first;
//   2. heavy: the suites that load the machine by design (`"xtlsTest": { "stage": "heavy" }` in
//      their package.json: load and fault suites, ejabberd, fuzz at 10⁴, the browser), one at a
//      time with every core, so they share the machine with nothing else.
//
// `pnpm test core cli` runs only those packages (by folder or package name), in the same stages.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureChromiumInstalled } from "../apps/web/scripts/chromium.js";
import { ensureEjabberdInstalled } from "../tools/test-servers/ejabberd.js";
import { acquireProsody, ensureProsodyInstalled, releaseProsody } from "../tools/test-servers/prosody.js";
import { ensureSlixmppInstalled } from "../tools/test-servers/slixmpp.js";
import { checkReferences } from "./check-references.mjs";
import { checkSecurityTable } from "./security-table.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const t0 = Date.now();
const cores = Math.max(1, Number(process.env.XTLS_TEST_CORES) || availableParallelism());

const timesFile = join(root, ".servers", "test-times.json");
/** Each package's wall time in the last whole run here, to start the longest first. */
const lastTimes = (() => {
  try {
    return Object.fromEntries(
      JSON.parse(readFileSync(timesFile, "utf8")).packages.map((p) => [p.name, p.secs]),
    );
  } catch {
    return {};
  }
})();

/** Every workspace package with a `test` script. */
const packages = ["packages", "apps", "tools"]
  .flatMap((d) => (existsSync(join(root, d)) ? readdirSync(join(root, d)).map((p) => join(root, d, p)) : []))
  .filter((dir) => existsSync(join(dir, "package.json")))
  .map((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const testDir = join(dir, "test");
    return {
      dir,
      name: manifest.name,
      short: basename(dir),
      script: manifest.scripts?.["test"],
      stage: manifest.xtlsTest?.stage === "heavy" ? "heavy" : "functional",
      // How long its tests take: the last run's wall time here, else the package's own hint
      // (`xtlsTest.weight`, seconds on an idle 2-core machine), else a second per test file.
      weight:
        lastTimes[manifest.name] ??
        manifest.xtlsTest?.weight ??
        (existsSync(testDir) ? readdirSync(testDir).filter((f) => f.endsWith(".test.ts")).length : 0),
    };
  })
  .filter((p) => p.script);

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !packages.some((p) => p.name === w || p.short === w));
if (unknown.length) {
  console.error(
    `pnpm test: no package ${unknown.join(", ")} (known: ${packages.map((p) => p.short).join(" ")})`,
  );
  process.exit(2);
}
const selected = wanted.length
  ? packages.filter((p) => wanted.includes(p.name) || wanted.includes(p.short))
  : packages;
for (const p of selected) rmSync(join(p.dir, "test-results"), { recursive: true, force: true });

const runSync = (cmd, args) =>
  spawnSync(cmd, args, { stdio: "inherit", cwd: root, env: process.env }).status ?? 1;

/** Runs one package's `test` script with `workers` vitest workers, its output prefixed by its name. */
function runPackage(p, workers) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn("sh", ["-c", p.script], {
      cwd: p.dir,
      env: {
        ...process.env,
        PATH: `${join(p.dir, "node_modules", ".bin")}:${bin("")}:${process.env.PATH}`,
        XTLS_TEST_WORKERS: String(workers),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const prefix = `${p.name}:test: `;
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ]) {
      let rest = "";
      from.setEncoding("utf8");
      from.on("data", (chunk) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop();
        if (lines.length) to.write(lines.map((l) => prefix + l).join("\n") + "\n");
      });
      from.on("end", () => rest && to.write(`${prefix}${rest}\n`));
    }
    child.on("close", (code, signal) =>
      resolve({ p, code: code ?? 1, signal, secs: (Date.now() - started) / 1000 }),
    );
  });
}

/** Runs `list` at most `parallel` at a time, longest first. */
async function stage(list, parallel, workers) {
  const queue = [...list].sort((a, b) => b.weight - a.weight);
  const results = [];
  await Promise.all(
    Array.from({ length: Math.min(parallel, queue.length) }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) results.push(await runPackage(p, workers));
    }),
  );
  return results;
}

// Every spec reference resolves inside the repository (docs/protocol/, public sections): needs
// no test results, so it runs first, with the lint.
const references = checkReferences(root);
for (const problem of references.problems) console.error(problem);
if (references.problems.length > 0)
  console.error(
    `references: ${references.problems.length} that do not resolve (node scripts/check-references.mjs); the run fails`,
  );
else console.log(`references: ${references.checked} in ${references.files} tracked files, all resolve`);

let status = runSync(bin("biome"), ["check", "."]);
if (references.problems.length > 0) status = 1;
const timings = [];
if (status === 0) {
  ensureProsodyInstalled();
  ensureSlixmppInstalled();
  ensureEjabberdInstalled();
  ensureChromiumInstalled();
  // Every package type-checked as one program (tsconfig.typecheck.json says why); a type
  // error fails the run but does not stop it.
  const typecheck = runSync(bin("tsc"), ["-p", "tsconfig.typecheck.json"]);
  if (typecheck !== 0) console.error("typecheck failed (tsc -p tsconfig.typecheck.json)");
  await acquireProsody(process.pid);
  try {
    console.log(
      `\npnpm test: ${cores} cores — functional packages ${cores} at a time, one worker each; then the heavy suites one at a time with ${cores} workers`,
    );
    const functional = selected.filter((p) => p.stage === "functional");
    const heavy = selected.filter((p) => p.stage === "heavy");
    const s1 = Date.now();
    timings.push(...(await stage(functional, cores, 1)).map((r) => ({ ...r, stage: "functional" })));
    const functionalSecs = (Date.now() - s1) / 1000;
    const s2 = Date.now();
    timings.push(...(await stage(heavy, 1, cores)).map((r) => ({ ...r, stage: "heavy" })));
    const heavySecs = (Date.now() - s2) / 1000;
    if (timings.some((t) => t.code !== 0) || typecheck !== 0) status = 1;
    console.log(
      `\nWhere the time went (wall seconds): functional stage ${functionalSecs.toFixed(1)}, heavy stage ${heavySecs.toFixed(1)}`,
    );
    for (const t of [...timings].sort((a, b) => b.secs - a.secs))
      console.log(
        `  ${t.secs.toFixed(1).padStart(7)}  ${t.stage.padEnd(10)} ${t.p.name}${t.code === 0 ? "" : `  (exit ${t.signal ?? t.code})`}`,
      );
    mkdirSync(dirname(timesFile), { recursive: true });
    if (wanted.length === 0)
      writeFileSync(
        timesFile,
        JSON.stringify(
          {
            cores,
            at: new Date().toISOString(),
            functionalSecs,
            heavySecs,
            packages: timings.map((t) => ({ name: t.p.name, stage: t.stage, secs: t.secs, exit: t.code })),
          },
          null,
          2,
        ),
      );
  } finally {
    await releaseProsody(process.pid);
  }
}

// One line over every package's vitest report.
const totals = { files: 0, tests: 0, passed: 0, failed: 0, skipped: 0, packages: 0 };
const failedPackages = [];
for (const { dir } of selected) {
  const report = join(dir, "test-results", "vitest.json");
  if (!existsSync(report)) continue;
  const r = JSON.parse(readFileSync(report, "utf8"));
  totals.packages++;
  totals.files += r.numTotalTestSuites ?? 0;
  totals.tests += r.numTotalTests ?? 0;
  totals.passed += r.numPassedTests ?? 0;
  totals.failed += r.numFailedTests ?? 0;
  totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if ((r.numFailedTests ?? 0) > 0 || r.success === false) failedPackages.push(relative(root, dir));
}
for (const t of timings)
  if (t.code !== 0 && !failedPackages.includes(relative(root, t.p.dir)))
    failedPackages.push(relative(root, t.p.dir));
// SECURITY.md's table: every attack names tests that ran and passed (whole runs only; a
// filtered run does not run them all).
if (status === 0 && wanted.length === 0) {
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
