// Interop with an independent XEP-0047 implementation: slixmpp 1.8.3 (Debian's
// python3-slixmpp) through the project's Prosody. test/interop/ibb_echo.py accepts our
// bytestream, reports the SHA-256 of what it received, and echoes the bytes back over a
// bytestream of its own, so both directions are checked against a foreign peer.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { fromXmppClient } from "@xtls/core";
import { connectXmppClient, prosody, SYSTEM_PYTHON, type XmppClient } from "@xtls/test-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IbbStream, InBandBytestreams } from "../src/index.js";
import { payload, readAll, sendAll, sha256 } from "./helpers.js";

const SCRIPT = fileURLToPath(new URL("./interop/ibb_echo.py", import.meta.url));
const SLIX_JID = `juliet@capulet.lit/slix-${randomBytes(4).toString("hex")}`; // distinct per run

let child: ChildProcessWithoutNullStreams | undefined;
let client: XmppClient | undefined;
let romeo: InBandBytestreams;
const lines: string[] = [];
const stderr: string[] = [];
let lineWaiters: Array<() => void> = [];

/** The first line of slixmpp's output that starts with `prefix` (waiting for it if need be). */
async function line(prefix: string, timeoutMs = 30_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const found = lines.find((l) => l.startsWith(prefix));
    if (found) return found;
    const failed = lines.find((l) => l.startsWith("FAILED"));
    if (failed) throw new Error(`slixmpp: ${failed}`);
    if (child?.exitCode !== null || Date.now() - t0 > timeoutMs) {
      throw new Error(
        `no "${prefix}" line from slixmpp; stdout: ${lines.join(" | ")}; stderr: ${stderr.join("")}`,
      );
    }
    await new Promise<void>((resolve) => {
      lineWaiters.push(resolve);
      setTimeout(resolve, 100);
    });
  }
}

/** The `key=value` fields of a line. */
function fields(l: string): Record<string, string> {
  return Object.fromEntries(
    l
      .split(" ")
      .slice(1)
      .map((f) => f.split("=") as [string, string]),
  );
}

beforeAll(async () => {
  child = spawn(SYSTEM_PYTHON, [SCRIPT], {
    env: { ...process.env, SLIX_JID, XMPP_PORT: String(prosody.c2sPort) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  process.once("exit", () => child?.kill("SIGKILL")); // even if the run is cut short
  child.stderr.on("data", (d: Buffer) => stderr.push(d.toString()));
  createInterface({ input: child.stdout }).on("line", (l) => {
    lines.push(l);
    const waiters = lineWaiters;
    lineWaiters = [];
    for (const wake of waiters) wake();
  });
  client = await connectXmppClient({ username: "romeo", domain: "montague.lit" });
  romeo = new InBandBytestreams(fromXmppClient(client), {
    // Only slixmpp's echoes of our own bytestreams.
    accept: ({ peer, sid }) => peer === SLIX_JID && sid.endsWith("-echo"),
  });
  expect(await line("READY")).toBe(`READY ${SLIX_JID}`);
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  await romeo?.close().catch(() => {});
  await client?.stop().catch(() => {});
});

/** Sends `data` to slixmpp over a bytestream we open, and reads back its echo. */
async function roundTrip(sid: string, data: Buffer, blockSize?: number) {
  const echo = new Promise<IbbStream>((resolve) => {
    const onStream = (s: IbbStream) => {
      if (s.sid !== `${sid}-echo`) return;
      romeo.off("stream", onStream);
      resolve(s);
    };
    romeo.on("stream", onStream);
  });
  const ours = await romeo.open(SLIX_JID, { sid, blockSize });
  await sendAll(ours, data);
  const done = fields(await line(`DONE sid=${sid} `));
  const theirs = await echo;
  const echoed = await readAll(theirs);
  await line(`ECHOED sid=${sid}-echo`);
  return { ours, theirs, done, echoed, opened: fields(await line(`OPEN sid=${sid} `)) };
}

describe("raw XEP-0047 with slixmpp 1.8.3", () => {
  it("1 MiB to slixmpp and 1 MiB back from it, over IQs, SHA-256 verified both ways", async () => {
    const data = payload(1024 * 1024 + 5);
    const sid = `iq-${randomBytes(4).toString("hex")}`;
    const { ours, theirs, done, echoed, opened } = await roundTrip(sid, data);
    expect(opened).toMatchObject({ block: "4096", stanza: "iq" });
    expect(done).toEqual({ sid, len: String(data.length), sha256: sha256(data) });
    expect([theirs.peer, theirs.stanza, theirs.blockSize]).toEqual([SLIX_JID, "iq", 4096]);
    expect(sha256(echoed)).toBe(sha256(data));
    expect(ours.stanzasOut).toBe(Math.ceil(data.length / 4096));
  }, 60_000);

  it("slixmpp's echo in <message/> stanzas (stanza='message') is received intact", async () => {
    const data = payload(1024 * 1024);
    const sid = `msg-${randomBytes(4).toString("hex")}`;
    const { theirs, done, echoed } = await roundTrip(sid, data);
    expect(done.sha256).toBe(sha256(data));
    expect(theirs.stanza).toBe("message");
    expect(sha256(echoed)).toBe(sha256(data));
  }, 60_000);

  it("slixmpp's resource-constraint (its limit is 8192) makes open() halve 32767 → 16383 → 8191", async () => {
    const data = payload(300_000);
    const sid = `rc-${randomBytes(4).toString("hex")}`;
    const { ours, theirs, done, echoed, opened } = await roundTrip(sid, data, 32767);
    expect(ours.blockSize).toBe(8191);
    expect(opened.block).toBe("8191");
    expect(theirs.blockSize).toBe(8191);
    expect(done.sha256).toBe(sha256(data));
    expect(sha256(echoed)).toBe(sha256(data));
  }, 60_000);
});
