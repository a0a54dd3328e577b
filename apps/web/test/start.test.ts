// The README's command, run as a person would: it builds, starts the agent and prints
// the two pages' addresses, which serve the page; Ctrl-C (SIGINT) stops it cleanly.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { prosody, readmeCommands } from "@xtls/test-servers";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");

// The README's commands, word for word.
const commands = readmeCommands(join(import.meta.dirname, "..", "README.md")).map(({ command, words }) => {
  const server = words.indexOf("--server");
  return { command, words, network: server < 0 ? "the embedded in-process router" : words[server + 1] };
});

it("the README's commands start the demo, on the embedded router and on the test server", () => {
  expect(commands.map((c) => c.command)).toEqual([
    "pnpm --filter @xtls/web-demo start",
    `pnpm --filter @xtls/web-demo start --server ${prosody.service}`,
  ]);
});

it.each(commands)(
  "$command prints Romeo's and Juliet's addresses on 127.0.0.1",
  async ({ words, network }) => {
    const child = spawn(words[0]!, words.slice(1), {
      cwd: ROOT,
      detached: true, // its own process group, so that SIGINT reaches pnpm and the agent, like Ctrl-C
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    try {
      const urls = await new Promise<{ romeo: string; juliet: string }>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          stdout += d;
          const romeo = /Romeo .*?(http:\/\/\S+)/.exec(stdout)?.[1];
          const juliet = /Juliet .*?(http:\/\/\S+)/.exec(stdout)?.[1];
          if (romeo && juliet) resolve({ romeo, juliet });
        });
        void exited.then((code) => reject(new Error(`it exited (${code}) first:\n${stdout}${stderr}`)));
      });
      expect(stdout).toContain(`XTLS web demo on ${network}`);
      for (const [name, url] of Object.entries(urls)) {
        expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/\\?as=${name}&key=[\\w-]+$`));
        const page = await fetch(url);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('<script type="module" src="/app.js"></script>');
      }
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGINT");
    }
    await exited;
    expect(stderr).not.toMatch(/Error/);
  },
  180_000,
);
