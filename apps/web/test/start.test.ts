// The README's command, run as a person would: it builds, starts the agent and prints
// the two pages' addresses, which serve the page; Ctrl-C (SIGINT) stops it cleanly.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { prosody } from "@xtls/test-servers";
import { expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..", "..");

it.each([
  { command: "start", args: [], network: "the embedded in-process router" },
  {
    command: `start --server ${prosody.service}`,
    args: ["--server", prosody.service],
    network: prosody.service,
  },
])(
  "pnpm --filter @xtls/web-demo $command prints Romeo's and Juliet's addresses on 127.0.0.1",
  async ({ args, network }) => {
    const child = spawn("pnpm", ["--filter", "@xtls/web-demo", "start", ...args], {
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
