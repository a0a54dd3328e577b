// The server goes away under the xtls commands: a Prosody of this file's own (its own
// ports and directory, so killing it disturbs no other test's server) is SIGKILLed while
// `receive`, `send` and `chat` wait on it. Each command must end with exit code 5 and
// one line on stderr saying the connection was lost — never hang, never exit 13 (an
// unsettled top-level await) without a word.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deadlines } from "@xtls/test-servers/deadlines";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { accountArgs, buildCli, type Run, startCli, verifiedPair, waitFor } from "./spawn.js";

// @xtls/test-servers reads its port base and directory when it is imported: point it at
// a server of our own (100 ports above the shared one), then put the environment back.
const shared = { base: process.env.PROSODY_PORT_BASE, dir: process.env.XTLS_PROSODY_DIR };
const BASE = Number(process.env.PROSODY_PORT_BASE ?? 15000) + 100;
process.env.PROSODY_PORT_BASE = String(BASE);
process.env.XTLS_PROSODY_DIR = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  ".servers",
  `prosody-cli-faults-${BASE}`,
);
const { prosody, prosodyStatus, startProsody, stopProsody } = await import("@xtls/test-servers");
for (const [key, value] of [
  ["PROSODY_PORT_BASE", shared.base],
  ["XTLS_PROSODY_DIR", shared.dir],
] as const) {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

let dir: string;
const runs: Run[] = [];
const start = (args: string[], stdin?: string): Run => {
  const run = startCli(prosody, args, {}, stdin);
  runs.push(run);
  return run;
};
const account = (who: "romeo" | "juliet", tag: string) => accountArgs(dir, who, tag);

beforeAll(async () => {
  buildCli();
  dir = await mkdtemp(join(tmpdir(), "xtls-cli-faults-"));
}, deadlines.buildMs);
afterAll(async () => {
  await stopProsody();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await startProsody();
});
afterEach(async () => {
  for (const r of runs.splice(0)) if (r.child.exitCode === null) r.child.kill("SIGKILL");
  await stopProsody();
});

function kill(): void {
  const { pid } = prosodyStatus();
  if (pid) process.kill(pid, "SIGKILL");
}

/** The lines a command wrote on stderr that report a failure (`xtls <command>: …`). */
const failures = (run: Run, command: string) =>
  run
    .stderr()
    .split("\n")
    .filter((l) => l.startsWith(`xtls ${command}:`));

function expectLost(run: Run, command: string): void {
  expect(failures(run, command)).toEqual([
    expect.stringMatching(
      new RegExp(`^xtls ${command}: lost the connection to xmpp://127\\.0\\.0\\.1:${prosody.c2sPort} \\(`),
    ),
  ]);
}

describe("the server dies under the xtls commands", () => {
  it(
    "receive, idle: exit code 5 and one line",
    async () => {
      const receiver = start(["receive", ...account("juliet", "r"), "--into", join(dir, "inbox"), "--yes"]);
      await waitFor(receiver, "waiting for files as");
      kill();
      expect(await receiver.done, receiver.seen()).toBe(5);
      expectLost(receiver, "receive");
    },
    deadlines.commandsTestMs,
  );

  it(
    "send, waiting for the receiver's answer (and the receiver asking its user): both exit 5 with one line",
    async () => {
      await verifiedPair(prosody, dir, "s");
      // The receiver asks its user (stdin stays open, nobody answers): the offer is pending.
      const receiver = start(["receive", ...account("juliet", "s"), "--into", join(dir, "inbox-s")]);
      await waitFor(receiver, "waiting for files as");
      const sender = start(
        ["send", import.meta.filename, "--to", "juliet@capulet.lit/balcony-s", ...account("romeo", "s")],
        "",
      );
      await waitFor(receiver, "Accept?");
      kill();
      expect(await sender.done, sender.seen()).toBe(5);
      expectLost(sender, "send");
      expect(await receiver.done, receiver.seen()).toBe(5);
      expectLost(receiver, "receive");
    },
    deadlines.commandsTestMs,
  );

  it(
    "chat, waiting for a chat and in one: both exit 5 with one line",
    async () => {
      await verifiedPair(prosody, dir, "c");
      const juliet = start(["chat", ...account("juliet", "c"), "--yes"]);
      await waitFor(juliet, "waiting for a chat as");
      const lone = start(["chat", ...account("juliet", "c2"), "--resource", "balcony-c2"]);
      await waitFor(lone, "waiting for a chat as");
      const romeo = start(["chat", "juliet@capulet.lit/balcony-c", ...account("romeo", "c")]);
      await waitFor(romeo, "encrypted chat with juliet@capulet.lit/balcony-c");
      await waitFor(juliet, "encrypted chat with romeo@montague.lit/");
      kill();
      for (const run of [romeo, juliet, lone]) {
        expect(await run.done, run.stderr()).toBe(5);
        expectLost(run, "chat");
      }
    },
    deadlines.commandsTestMs,
  );
});
