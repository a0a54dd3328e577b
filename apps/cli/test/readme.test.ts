// Every command of this README's ```sh block, and the `pnpm demo` commands of the repository's
// README, run as written (`xtls` is this package's binary, dist/bin.js).
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { prosody, readmeCommands } from "@xtls/test-servers";
import { beforeAll, expect, it } from "vitest";

const APP = join(import.meta.dirname, "..");
const ROOT = join(APP, "..", "..");
const BIN = join(APP, "dist", "bin.js");

beforeAll(() => {
  const r = spawnSync(join(ROOT, "node_modules", ".bin", "tsc"), ["-b", join(APP, "tsconfig.build.json")], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}, 120_000);

function run(command: string, args: readonly string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const { NO_COLOR: _n, FORCE_COLOR: _f, ...env } = process.env;
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** What each command must print (a README command without an entry here fails the test). */
const STORY = "the words of the play, the file and the password appear 0 times";
const EXPECTED: Record<string, (stdout: string) => void> = {
  "xtls demo": (out) => expect(out).toContain(STORY),
  "xtls demo --server xmpp://127.0.0.1:15222": (out) => {
    expect(out).toContain("a real XMPP server");
    expect(out).toContain(STORY);
  },
  "xtls demo --mode q": (out) => expect(out).toContain("“I take thee at thy word:”"),
  "xtls demo --json": (out) =>
    expect(JSON.parse(out)).toMatchObject({ mode: "story", plaintextLeaks: 0, file: { verified: true } }),
  "xtls --help": (out) => expect(out).toContain("Usage:"),
  "pnpm demo": (out) => expect(out).toContain(STORY),
  "pnpm demo --server xmpp://127.0.0.1:15222": (out) => expect(out).toContain("a real XMPP server"),
};

const cli = readmeCommands(join(APP, "README.md"));
const root = readmeCommands(join(ROOT, "README.md"));
/** The root README's commands that run the demo; the `npm install -g pnpm@10 && pnpm install` before
 * `pnpm demo` is what `.ci/run` does before `pnpm test`. */
const demo = root
  .map((c) => ({ ...c, words: c.words.slice(c.words.lastIndexOf("&&") + 1) }))
  .filter((c) => c.words[0] === "pnpm" && c.words[1] === "demo" && !c.command.includes("example.org"));

it("the README points at the test server these tests use", () => {
  expect(prosody.service).toBe("xmpp://127.0.0.1:15222");
  expect(cli.map((c) => c.words[0])).toEqual(cli.map(() => "xtls"));
  expect(demo.map((c) => c.words.join(" "))).toEqual([
    "pnpm demo",
    "pnpm demo --server xmpp://127.0.0.1:15222",
  ]);
});

const cases = [
  ...cli.map((c) => ({ readme: "apps/cli/README.md", line: c.line, words: c.words })),
  ...demo.map((c) => ({ readme: "README.md", line: c.line, words: c.words })),
].map((c) => ({ ...c, command: c.words.join(" ") }));

it.each(cases)(
  "$readme line $line: `$command` exits 0 and prints what it says",
  async ({ words, command }) => {
    const check = EXPECTED[command];
    expect(check, `no expectation for ${command}`).toBeDefined();
    const r =
      words[0] === "xtls"
        ? await run(process.execPath, [BIN, ...words.slice(1)])
        : await run("pnpm", words.slice(1));
    expect(r.code, r.stderr).toBe(0);
    check!(r.stdout);
  },
  120_000,
);

it("README.md's command for another server, with the test server and its accounts in place of the placeholders", async () => {
  const example = root.find((c) => c.command.includes("chat.example.org"));
  expect(example, "README.md shows how to run the demo on your own server").toBeDefined();
  const own: Record<string, string> = {
    "xmpp://chat.example.org:5222": prosody.service,
    "alice@example.org": "romeo@montague.lit",
    "bob@example.org": "juliet@capulet.lit",
    "…": prosody.password,
  };
  const words = example!.words.map((w) => own[w] ?? w);
  expect(words.slice(0, 2)).toEqual(["pnpm", "demo"]);
  const r = await run("pnpm", words.slice(1));
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toContain("a real XMPP server");
  expect(r.stdout).toContain("romeo@montague.lit");
}, 120_000);
