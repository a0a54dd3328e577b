// The xtls commands as a user runs them: spawned binaries against the project's Prosody,
// answers to prompts given on stdin (not a terminal), exit codes checked.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromXmppClient, NS, xml } from "@xtls/core";
import { buildJingle } from "@xtls/jingle";
import { connectXmppClient, prosody } from "@xtls/test-servers";
import { formatFingerprint } from "@xtls/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const APP = join(import.meta.dirname, "..");
const BIN = join(APP, "dist", "bin.js");
let dir: string;

beforeAll(async () => {
  const r = spawnSync(
    join(APP, "..", "..", "node_modules", ".bin", "tsc"),
    ["-b", join(APP, "tsconfig.build.json")],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
  dir = await mkdtemp(join(tmpdir(), "xtls-cli-"));
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  done: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}, stdin?: string): Run {
  const { NO_COLOR: _n, FORCE_COLOR: _f, XTLS_OTP: _o, ...inherited } = process.env;
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...inherited, XTLS_SERVER: prosody.service, XTLS_PASSWORD: prosody.password, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  if (stdin !== undefined) child.stdin.end(stdin);
  const done = new Promise<number | null>((resolve) => child.on("close", resolve));
  return { child, stdout: () => out, stderr: () => err, done };
}

async function waitFor(run: Run, text: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!run.stderr().includes(text) && !run.stdout().includes(text)) {
    if (Date.now() - t0 > ms) throw new Error(`never printed "${text}"; stderr: ${run.stderr()}`);
    if (run.child.exitCode !== null)
      throw new Error(`exited ${run.child.exitCode} before "${text}": ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const account = (who: "romeo" | "juliet", tag: string) =>
  who === "romeo"
    ? ["--jid", "romeo@montague.lit", "--dir", join(dir, `${tag}-romeo`)]
    : ["--jid", "juliet@capulet.lit", "--resource", `balcony-${tag}`, "--dir", join(dir, `${tag}-juliet`)];

describe("xtls send / receive through Prosody", () => {
  it("first contact with a one-time password typed on stdin, a verified file; the second time no password is asked", async () => {
    const file = join(dir, "sonnet.bin");
    const bytes = randomBytes(200_000);
    await writeFile(file, bytes);
    const inbox = join(dir, "inbox-1");
    for (const round of [1, 2]) {
      // Round 1: the password comes from stdin (not a terminal); round 2: stdin is empty,
      // so any password prompt would answer "no password" and fail the session.
      const input = round === 1 ? "wherefore-1597\n" : "";
      const receiver = start(
        ["receive", ...account("juliet", "a"), "--into", inbox, "--yes", "--json"],
        {},
        input,
      );
      await waitFor(receiver, "waiting for files as");
      const sender = start(
        ["send", file, "--to", "juliet@capulet.lit/balcony-a", ...account("romeo", "a"), "--json"],
        {},
        input,
      );
      expect(await sender.done).toBe(0);
      expect(await receiver.done).toBe(0);
      const sent = JSON.parse(sender.stdout());
      expect(sent).toMatchObject({
        file: "sonnet.bin",
        size: 200_000,
        trust: round === 1 ? "srp" : "trust-store",
      });
      expect(sent.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
      const got = JSON.parse(receiver.stdout().trim().split("\n").at(-1)!);
      expect(got.sha256).toBe(sent.sha256);
      expect(round === 1 ? sender.stderr() : "").toMatch(
        round === 1 ? /One-time password agreed with them/ : /^$/,
      );
      expect(sender.stderr()).not.toContain("wherefore-1597");
    }
    const stored = await readdir(inbox);
    expect(stored.sort()).toEqual(["sonnet (1).bin", "sonnet.bin"]);
    expect(
      createHash("sha256")
        .update(await readFile(join(inbox, "sonnet.bin")))
        .digest("hex"),
    ).toBe(createHash("sha256").update(bytes).digest("hex"));
  }, 60_000);

  it("a wrong one-time password: both commands fail with exit code 3, nothing stored, nothing pinned", async () => {
    const file = join(dir, "note.txt");
    await writeFile(file, "Deny thy father and refuse thy name\n");
    const inbox = join(dir, "inbox-2");
    const receiver = start(["receive", ...account("juliet", "b"), "--into", inbox, "--yes"], {
      XTLS_OTP: "capulet",
    });
    await waitFor(receiver, "waiting for files as");
    const sender = start(["send", file, "--to", "juliet@capulet.lit/balcony-b", ...account("romeo", "b")], {
      XTLS_OTP: "montague",
    });
    expect(await sender.done).toBe(3);
    expect(sender.stderr().trim().split("\n").at(-1)).toMatch(
      /^xtls send: .*XTLS precondition failed, nothing was sent.*possible man-in-the-middle/,
    );
    expect(await receiver.done).toBe(3);
    expect(await readdir(inbox)).toEqual([]);
    const trust = start(["trust", "list", ...account("romeo", "b"), "--json"]);
    expect(await trust.done).toBe(0);
    expect(JSON.parse(trust.stdout())).toEqual({});
  }, 60_000);

  it("chat: lines typed on one side appear on the other; /quit ends it", async () => {
    const juliet = start(["chat", ...account("juliet", "a"), "--yes", "--json"]);
    await waitFor(juliet, "waiting for a chat as");
    const romeo = start(
      ["chat", "juliet@capulet.lit/balcony-a", ...account("romeo", "a")],
      {},
      "Did my heart love till now?\n/quit\n",
    );
    expect(await romeo.done).toBe(0);
    expect(await juliet.done).toBe(0);
    expect(romeo.stderr()).toMatch(/encrypted chat with juliet@capulet\.lit\/balcony-a — TLSv1\.3/);
    expect(JSON.parse(juliet.stdout().trim())).toEqual({
      from: expect.stringMatching(/^romeo@montague\.lit\//),
      body: "Did my heart love till now?",
    });
  }, 60_000);
});

describe("secure by default (through Prosody)", () => {
  it("chat --yes refuses a session offered without end-to-end security with one line on stderr, and keeps waiting", async () => {
    const juliet = start(["chat", ...account("juliet", "clear"), "--yes"]);
    await waitFor(juliet, "waiting for a chat as");
    const client = await connectXmppClient({ username: "mallory", domain: "montague.lit" });
    const mallory = fromXmppClient(client);
    try {
      const initiate = buildJingle({
        action: "session-initiate",
        sid: "in-the-clear",
        initiator: mallory.jid,
        contents: [
          {
            creator: "initiator",
            name: "xmlstream",
            description: xml("description", { xmlns: NS.JINGLE_XMLSTREAM }),
            transport: xml("transport", { xmlns: NS.JINGLE_IBB, sid: "ibb-clear", "block-size": "4096" }),
          },
        ],
      });
      await mallory.request(xml("iq", { type: "set", to: "juliet@capulet.lit/balcony-clear" }, initiate));
      const line = `xtls chat: refused a session from ${mallory.jid}: no end-to-end security was offered`;
      await waitFor(juliet, line);
      expect(
        juliet
          .stderr()
          .split("\n")
          .filter((l) => l.startsWith("xtls chat:")),
      ).toEqual([line]);
      expect(juliet.child.exitCode).toBeNull(); // still waiting for a real chat
    } finally {
      juliet.child.kill();
      await juliet.done;
      await client.stop().catch(() => {});
    }
  }, 60_000);

  it("a pinned peer presenting another certificate: exit 3, both fingerprints, how to re-verify, no password asked; --accept-new-key then accepts exactly that one", async () => {
    const made = start(["identity", "new", ...account("juliet", "kc"), "--json"]);
    expect(await made.done).toBe(0);
    const julietFp: string = JSON.parse(made.stdout()).fingerprint;
    const oldFp = "5e".repeat(32); // the certificate Romeo verified for Juliet before
    expect(
      await start(["trust", "verify", "juliet@capulet.lit", oldFp, ...account("romeo", "kc")]).done,
    ).toBe(0);
    const file = join(dir, "letter.txt");
    await writeFile(file, "Thou know'st the mask of night is on my face\n");
    const inbox = join(dir, "inbox-kc");
    // Each run of the receiver gets its own resource: the server may still hold the last one.
    const receive = (resource: string) =>
      start(
        [
          "receive",
          "--jid",
          "juliet@capulet.lit",
          "--resource",
          resource,
          "--dir",
          join(dir, "kc-juliet"),
        ].concat(["--into", inbox, "--yes"]),
        {},
        "rosaline\n",
      );
    let receiver = receive("balcony-kc");
    await waitFor(receiver, "waiting for files as");
    const sender = start(
      ["send", file, "--to", "juliet@capulet.lit/balcony-kc", ...account("romeo", "kc")],
      {},
      "rosaline\n",
    );
    expect(await sender.done).toBe(3);
    const err = sender.stderr();
    expect(err).toContain("the certificate of juliet@capulet.lit has CHANGED");
    expect(err).toContain(`pinned:    ${formatFingerprint(oldFp)}`);
    expect(err).toContain(`presented: ${formatFingerprint(julietFp)}`);
    expect(err).toContain("xtls trust forget juliet@capulet.lit");
    expect(err).toContain(`--accept-new-key ${formatFingerprint(julietFp)}`);
    expect(err).not.toContain("One-time password");
    if (receiver.child.exitCode === null) receiver.child.kill();
    await receiver.done;
    expect(receiver.stderr()).not.toContain("One-time password");
    expect(await readdir(inbox)).toEqual([]);

    // The user compared Juliet's new fingerprint with her: accepted by name, exactly that one.
    receiver = receive("balcony-kc2");
    await waitFor(receiver, "waiting for files as");
    const again = start(
      [
        "send",
        file,
        "--to",
        "juliet@capulet.lit/balcony-kc2",
        ...account("romeo", "kc"),
        "--accept-new-key",
        formatFingerprint(julietFp),
      ],
      {},
      "rosaline\n",
    );
    expect(await again.done).toBe(0);
    expect(await receiver.done).toBe(0);
    const trust = start(["trust", "list", ...account("romeo", "kc"), "--json"]);
    expect(await trust.done).toBe(0);
    expect(
      JSON.parse(trust.stdout())["juliet@capulet.lit"].map((e: { fingerprint: string }) => e.fingerprint),
    ).toEqual([julietFp]);
  }, 90_000);
});

describe("xtls trust and identity (no network)", () => {
  it("identity new/show, trust verify/list/forget/export", async () => {
    const me = ["--jid", "benvolio@montague.lit", "--dir", join(dir, "benvolio")];
    const none = start(["identity", "show", ...me]);
    expect(await none.done).toBe(1);
    const made = start(["identity", "new", ...me, "--json"]);
    expect(await made.done).toBe(0);
    const { fingerprint } = JSON.parse(made.stdout());
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const again = start(["identity", "new", ...me]);
    expect(await again.done).toBe(2); // refuses to replace without --force
    const shown = start(["identity", "show", ...me]);
    expect(await shown.done).toBe(0);
    expect(shown.stdout()).toContain(fingerprint.slice(0, 2).toUpperCase());

    const fp = "AB:".repeat(31) + "AB";
    expect(await start(["trust", "verify", "nurse@capulet.lit", fp, ...me]).done).toBe(0);
    const list = start(["trust", "list", ...me, "--json"]);
    expect(await list.done).toBe(0);
    expect(JSON.parse(list.stdout())["nurse@capulet.lit"][0]).toMatchObject({
      fingerprint: "ab".repeat(32),
      state: "verified",
      method: "manual",
    });
    const exported = start(["trust", "export", ...me]);
    expect(await exported.done).toBe(0);
    expect(JSON.parse(exported.stdout()).peers["nurse@capulet.lit"]).toHaveLength(1);
    expect(await start(["trust", "forget", "nurse@capulet.lit", ...me]).done).toBe(0);
    const after = start(["trust", "list", ...me, "--json"]);
    await after.done;
    expect(JSON.parse(after.stdout())).toEqual({});
    expect(await start(["trust", "verify", "nurse@capulet.lit", "not-a-fingerprint", ...me]).done).toBe(2);
  });

  it.each([
    [["send", "x", "--to", "juliet@capulet.lit"], 2, /full JID/],
    [
      ["send", "/nonexistent", "--to", "juliet@capulet.lit/balcony", "--jid", "romeo@montague.lit"],
      2,
      /not a readable file/,
    ],
    [["chat", "--jid", "not a jid"], 2, /--jid must be/],
    [
      [
        "send",
        import.meta.filename,
        "--to",
        "juliet@capulet.lit/x",
        "--jid",
        "romeo@montague.lit",
        "--server",
        "xmpp://127.0.0.1:1",
      ],
      5,
      /cannot log in/,
    ],
    [["receive", "--jid", "romeo@montague.lit", "--password", "wrong"], 5, /not-authorized/],
  ])("xtls %j → one line on stderr, exit %i", async (args, code, message) => {
    const r = start(args as string[]);
    expect(await r.done).toBe(code);
    expect(r.stderr().trim().split("\n")).toHaveLength(1);
    expect(r.stderr()).toMatch(message as RegExp);
  });

  it.each([["send"], ["receive"], ["chat"], ["trust"], ["identity"]])("xtls %s --help", async (command) => {
    const r = start([command, "--help"]);
    expect(await r.done).toBe(0);
    expect(r.stdout()).toContain(`xtls ${command}`);
    expect(r.stdout()).toContain("--jid JID");
  });
});
