// Every shell command shown in a README of the repository is run by a test, by `.ci/run`, or
// by `pnpm test` (scripts/test.mjs runs every package's `test` script) — or says here
// why not. The commands that no other test runs are run here: this package's server scripts
// (on private ports and folders, so the shared test servers are untouched) and the fuzz
// suite's quick and replay commands.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { portOpen as accepts, type ReadmeCommand, readmeCommands } from "../index.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "xtls-readme-commands-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Who runs each command, by README and command as the README writes it (comments aside). */
const RUN_BY: Record<string, Record<string, string>> = {
  "README.md": {
    "npm install -g pnpm@10 && pnpm install && pnpm demo":
      "apps/cli/test/readme.test.ts (the install steps: .ci/run, before pnpm test)",
    "npm install -g pnpm@10 && pnpm install && pnpm test": ".ci/run",
    "pnpm demo --server xmpp://127.0.0.1:15222": "apps/cli/test/readme.test.ts",
    "pnpm demo --server xmpp://chat.example.org:5222 --romeo alice@example.org --juliet bob@example.org --romeo-password '…' --juliet-password '…'":
      "apps/cli/test/readme.test.ts (with the test server and its accounts for the placeholders)",
    "npm install @xtls/tls": "tools/registry-suite/test/registry.test.ts (from the suite's own registry)",
    "npm install @xtls/client @xmpp/client":
      "tools/registry-suite/test/registry.test.ts (from the suite's own registry)",
  },
  "apps/cli/README.md": {
    "xtls demo": "apps/cli/test/readme.test.ts",
    "xtls demo --server xmpp://127.0.0.1:15222": "apps/cli/test/readme.test.ts",
    "xtls demo --mode q": "apps/cli/test/readme.test.ts",
    "xtls demo --json": "apps/cli/test/readme.test.ts",
    "xtls --help": "apps/cli/test/readme.test.ts",
  },
  "apps/web/README.md": {
    "pnpm --filter @xtls/web-demo start": "apps/web/test/start.test.ts",
    "pnpm --filter @xtls/web-demo start --server xmpp://127.0.0.1:15222": "apps/web/test/start.test.ts",
  },
  "bench/README.md": {
    "pnpm bench": ".ci/run",
    "pnpm bench --quick": ".ci/run",
    "pnpm bench --quick --only latency": "here",
  },
  "tools/attack-suite/README.md": {
    "pnpm --filter @xtls/attack-suite test": "pnpm test",
  },
  "tools/registry-suite/README.md": {
    "pnpm --filter @xtls/registry-suite test": "pnpm test",
  },
  "tools/ejabberd-suite/README.md": {
    "pnpm --filter @xtls/ejabberd-suite test": "pnpm test",
  },
  "tools/fuzz/README.md": {
    "pnpm --filter @xtls/fuzz test": "pnpm test",
    "pnpm fuzz": ".ci/run",
    "FUZZ_RUNS=500 pnpm --filter @xtls/fuzz test": "here",
    'FUZZ_SEED=-557679829 FUZZ_PATH="80:0:1" pnpm --filter @xtls/fuzz test -t "Jingle"': "here",
  },
  "tools/test-servers/README.md": {
    "node tools/test-servers/bin/servers.js start": "here",
    "node tools/test-servers/bin/ejabberd.js start": "here",
  },
};

/** Every README.md of the repository. */
function readmes(dir = ROOT): string[] {
  const skip = new Set(["node_modules", "dist", ".git", ".servers", ".turbo", "test-results", ".readme"]);
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return skip.has(e.name) ? [] : readmes(join(dir, e.name));
    return e.name === "README.md" ? [join(dir, e.name)] : [];
  });
}

const found = readmes().flatMap((file) =>
  readmeCommands(file).map((c) => ({ ...c, readme: relative(ROOT, file) })),
);

describe("every command of every README", () => {
  it("is accounted for, and every entry here is still in its README", () => {
    const listed = Object.entries(RUN_BY).flatMap(([readme, commands]) =>
      Object.keys(commands).map((command) => `${readme}: ${command}`),
    );
    expect(found.map((c) => `${c.readme}: ${c.command}`).sort()).toEqual(listed.sort());
  });

  it.each(found)("$readme line $line: $command", ({ readme, command, words }) => {
    const by = RUN_BY[readme]?.[command] ?? "";
    if (by === ".ci/run") {
      expect(readFileSync(join(ROOT, ".ci", "run"), "utf8")).toContain(command);
    } else if (by === "pnpm test") {
      // scripts/test.mjs runs every package's `test` script.
      expect(words.slice(0, 2)).toEqual(["pnpm", "--filter"]);
      expect(words.slice(3)).toEqual(["test"]);
      const pkg = readdirSync(join(ROOT, "tools"))
        .map((d) => join(ROOT, "tools", d, "package.json"))
        .filter((f) => existsSync(f))
        .map((f) => JSON.parse(readFileSync(f, "utf8")))
        .find((p) => p.name === words[2]);
      expect(pkg?.scripts?.test).toBeDefined();
      expect(readFileSync(join(ROOT, "scripts", "test.mjs"), "utf8")).toContain('"test"');
    } else if (by !== "here") {
      // A test that takes its commands from the README.
      const test = by.split(" ")[0]!;
      expect(readFileSync(join(ROOT, test), "utf8")).toContain("readmeCommands(");
    }
  });
});

// --- the commands run here -------------------------------------------------------------

function command(readme: string, start: string): ReadmeCommand {
  const c = found.find((f) => f.readme === readme && f.command.startsWith(start));
  if (!c) throw new Error(`${readme} no longer shows ${start}`);
  return c;
}

/** Runs a command's words from the repository root: leading NAME=value words go to the environment. */
function run(words: readonly string[], env: Record<string, string> = {}) {
  const assignments = words.slice(
    0,
    words.findIndex((w) => !/^[A-Za-z_]\w*=/.test(w)),
  );
  const argv = words.slice(assignments.length);
  const vars = Object.fromEntries(
    assignments.map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]),
  );
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      env: { ...process.env, ...vars, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The sub-commands a `# or a | b | c` comment names, after the one written out. */
function alternatives(c: ReadmeCommand): string[] {
  const m = /^or (.+)$/.exec(c.comment ?? "");
  return m ? m[1]!.split("|").map((s) => s.trim()) : [];
}

// Port bases in use while `pnpm test` runs its packages in parallel: 15000 the shared Prosody,
// 16000 the ejabberd suite, 17000 the fault suite's own Prosody. These private instances take
// 19000 and 18000, so they never collide with them (17000 did, once, in a fresh-clone CI run).
describe("tools/test-servers/README.md, on a private instance (other ports and folder)", () => {
  const servers: { start: string; env: Record<string, string>; c2s: number; others: string[] }[] = [
    {
      start: "node tools/test-servers/bin/servers.js start",
      env: { XTLS_PROSODY_DIR: join(tmp, "prosody"), PROSODY_PORT_BASE: "19000" },
      c2s: 19222,
      others: ["stop", "status", "install"],
    },
    {
      start: "node tools/test-servers/bin/ejabberd.js start",
      env: { XTLS_EJABBERD_DIR: join(tmp, "ejabberd"), XTLS_EJABBERD_PORT_BASE: "18000" },
      c2s: 18222,
      others: ["stop", "status", "install", "log"],
    },
  ];
  afterAll(async () => {
    for (const s of servers)
      await run([...command("tools/test-servers/README.md", s.start).words.slice(0, 2), "stop"], s.env);
  });

  it.each(servers)(
    "$start, then each of $others",
    async ({ start, env, c2s, others }) => {
      const c = command("tools/test-servers/README.md", start);
      expect(alternatives(c)).toEqual(others);
      const sub = (name: string) => run([...c.words.slice(0, -1), name], env);

      const started = await run(c.words, env);
      expect(started.code, started.stderr).toBe(0);
      expect(await accepts(c2s)).toBe(true);
      const status = await sub("status");
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ running: true, c2sPort: c2s });
      if (others.includes("log")) expect((await sub("log")).code).toBe(0);
      const stopped = await sub("stop");
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(await accepts(c2s)).toBe(false);
      expect(JSON.parse((await sub("status")).stdout)).toMatchObject({ running: false });
      const installed = await sub("install"); // installed already: nothing to do
      expect(installed.code, installed.stderr).toBe(0);
    },
    120_000,
  );
});

describe("bench/README.md", () => {
  it("pnpm bench --quick --only latency: runs that scenario, writes its own results file, leaves the others alone", async () => {
    const results = join(ROOT, "bench", "results");
    const committed = readFileSync(join(results, "full.json"), "utf8");
    const partial = join(results, "quick-latency.json");
    rmSync(partial, { force: true });
    const r = await run(command("bench/README.md", "pnpm bench --quick --only").words);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stdout).toMatch(/bench: quick run in \d+ s; targets met \d+\/3; .*quick-latency\.json/);
    const json = JSON.parse(readFileSync(partial, "utf8"));
    expect(json.scenarios.map((x: { name: string }) => x.name)).toEqual(["latency"]);
    expect(readFileSync(join(results, "full.json"), "utf8")).toBe(committed);
  }, 300_000);
});

describe("tools/fuzz/README.md", () => {
  // A nested vitest run writes its report elsewhere: the fuzz package's own one is what
  // `pnpm test` sums up.
  const report = (name: string) => ({ XTLS_VITEST_JSON: join(tmp, `${name}.json`) });
  const passed = (name: string) => JSON.parse(readFileSync(join(tmp, `${name}.json`), "utf8"));

  it("FUZZ_RUNS=500 …: a quick look at every property", async () => {
    const r = await run(command("tools/fuzz/README.md", "FUZZ_RUNS=500").words, report("quick"));
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const json = passed("quick");
    expect(json.success).toBe(true);
    expect(json.numPassedTests).toBeGreaterThan(20);
  }, 600_000);

  const passedNames = (name: string): string[] =>
    passed(name)
      .testResults.flatMap(
        (f: { assertionResults: { status: string; fullName: string }[] }) => f.assertionResults,
      )
      .filter((t: { status: string }) => t.status === "passed")
      .map((t: { fullName: string }) => t.fullName);

  it("FUZZ_SEED=… FUZZ_PATH=… -t Jingle: replays that case, and the Jingle properties pass", async () => {
    const r = await run(command("tools/fuzz/README.md", "FUZZ_SEED=").words, report("replay"));
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(passed("replay").success).toBe(true);
    expect(passedNames("replay").filter((n) => n.includes("Jingle")).length).toBeGreaterThan(0);
  }, 600_000);

  // `… test -- -t "Jingle"` (as the README once said) handed `--` to vitest, which then
  // ignored `-t` and ran every property.
  it("FUZZ_SEED=… FUZZ_PATH=… -t Jingle runs only the Jingle properties", () => {
    expect(passedNames("replay").every((n) => n.includes("Jingle"))).toBe(true);
  });
});
