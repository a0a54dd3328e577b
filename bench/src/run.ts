/**
 * `pnpm bench [--quick] [--only ibb,latency,scale,modeq,parser]`: runs the scenarios, prints a
 * table, writes `bench/results/<full|quick>.json`, and (full runs) refreshes the table in
 * `bench/README.md` between its markers. Every number that has a target is a ratio against
 * a baseline measured in the same process run, or an absolute target from the issue.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromXmppClient } from "@xtls/core";
import {
  acquireProsody,
  connectXmppClient,
  ensureProsodyInstalled,
  releaseProsody,
  type XmppClient,
} from "@xtls/test-servers";
import type { BenchContext, Row, ScenarioResult } from "./context.js";
import { ibbScenario } from "./ibb.js";
import { latencyScenario } from "./latency.js";
import { modeQScenario } from "./modeq.js";
import { parserScenario } from "./parser.js";
import { s5bScenario } from "./s5b.js";
import { scaleScenario } from "./scale.js";
import { fmt } from "./stats.js";

const BENCH = join(dirname(fileURLToPath(import.meta.url)), "..");
const SCENARIOS: Record<string, (ctx: BenchContext) => Promise<ScenarioResult>> = {
  s5b: s5bScenario,
  latency: latencyScenario,
  ibb: ibbScenario,
  modeq: modeQScenario,
  scale: scaleScenario,
  parser: parserScenario,
};

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const onlyArg = args.find((a) => a.startsWith("--only="))?.slice(7) ?? args[args.indexOf("--only") + 1];
const only =
  args.includes("--only") || args.some((a) => a.startsWith("--only=")) ? onlyArg?.split(",") : undefined;
const names = Object.keys(SCENARIOS).filter((n) => !only || only.includes(n));
if (only?.some((n) => !SCENARIOS[n])) {
  process.stderr.write(`bench: unknown scenario in --only (known: ${Object.keys(SCENARIOS).join(", ")})\n`);
  process.exit(2);
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const clients: XmppClient[] = [];
const ctx: BenchContext = {
  quick,
  log,
  async prosodyPair() {
    const [r, j] = await Promise.all([
      connectXmppClient({ username: "romeo", domain: "montague.lit" }),
      connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
    ]);
    clients.push(r, j);
    return {
      romeo: fromXmppClient(r),
      juliet: fromXmppClient(j),
      close: async () => {
        await Promise.allSettled([r.stop(), j.stop()]);
      },
    };
  },
};

const started = new Date();
const t0 = performance.now();
ensureProsodyInstalled();
await acquireProsody(process.pid);
const results: ScenarioResult[] = [];
try {
  for (const name of names) {
    log(`${name}…`);
    results.push(await SCENARIOS[name]!(ctx));
  }
} finally {
  await Promise.allSettled(clients.map((c) => c.stop()));
  await releaseProsody(process.pid);
}

const machine = {
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  openssl: process.versions.openssl,
  prosody: prosodyVersion(),
};
const report = {
  date: started.toISOString(),
  mode: quick ? "quick" : "full",
  seconds: (performance.now() - t0) / 1000,
  machine,
  scenarios: results,
};
mkdirSync(join(BENCH, "results"), { recursive: true });
// A partial run (--only) gets its own file: it must not replace the full or quick record.
const jsonFile = join(BENCH, "results", `${report.mode}${only ? `-${names.join("+")}` : ""}.json`);
writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
const table = renderTable(results);
process.stdout.write(`\n${table}\n`);
if (!quick && !only) updateReadme(table, report);
const targets = results.flatMap((r) => r.rows).filter((r) => r.met !== undefined);
process.stdout.write(
  `bench: ${report.mode} run in ${report.seconds.toFixed(0)} s; targets met ${targets.filter((r) => r.met).length}/${targets.length}; ${jsonFile}\n`,
);
// Pending timers of closed clients must not keep the process alive.
process.exit(0);

/**
 * The results as a Markdown table, its columns padded the way the repository's formatter
 * (biome) pads them, so that a full run leaves bench/README.md as `pnpm test` lints it.
 */
function renderTable(scenarios: readonly ScenarioResult[]): string {
  const rows = [["scenario", "case", "result", "baseline (same run)", "ratio", "target"]];
  for (const s of scenarios) for (const r of s.rows) rows.push(renderRow(s.title, r));
  const widths = rows[0]!.map((_, c) => Math.max(3, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, c) => cell.padEnd(widths[c]!)).join(" | ")} |`;
  return [line(rows[0]!), line(widths.map((w) => "-".repeat(w))), ...rows.slice(1).map(line)].join("\n");
}

function renderRow(title: string, r: Row): string[] {
  const spread = r.spreadPct !== undefined ? ` ±${r.spreadPct.toFixed(0)}%` : "";
  const result = `${fmt(r.value)} ${r.metric}${spread}${r.runs ? ` (n=${r.runs})` : ""}`;
  const baseline = r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)}` : "";
  const ratio = r.ratio !== undefined ? `${fmt(r.ratio)}×` : "";
  const target = r.target ? `${r.met ? "met" : "**missed**"}: ${r.target}` : "";
  return [title, r.case, result, baseline, ratio, target];
}

function updateReadme(table: string, r: typeof report): void {
  const file = join(BENCH, "README.md");
  const text = readFileSync(file, "utf8");
  const begin = "<!-- results:begin -->";
  const end = "<!-- results:end -->";
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`bench/README.md lacks the ${begin} … ${end} markers`);
  const m = r.machine;
  const block = [
    begin,
    "",
    `Latest full run: ${r.date.slice(0, 10)}, ${r.seconds.toFixed(0)} s — ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node}, OpenSSL ${m.openssl}, Prosody ${m.prosody}.`,
    "",
    table,
    "",
    end,
  ].join("\n");
  writeFileSync(file, text.slice(0, a) + block + text.slice(b + end.length));
}

function prosodyVersion(): string {
  try {
    // dpkg-query's own format syntax, not a template.
    const format = ["$", "{Version}"].join("");
    const out = execFileSync("dpkg-query", ["-W", "-f", format, "prosody"], { encoding: "utf8" });
    return out.trim();
  } catch {
    return "unknown";
  }
}
