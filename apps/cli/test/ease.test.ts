// Issue #16, the CLI's part: `xtls` as easy as magic-wormhole. Each test spawns the built
// binary as a user runs it (through the project's Prosody where a server is needed, in a
// pseudo-terminal — util-linux `script` — where a terminal is involved) and asserts what
// the user sees.
import { spawn } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deadlines, prosody } from "@xtls/test-servers";
import { startCommand } from "@xtls/test-servers/processes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accountArgs,
  BIN,
  buildCli,
  type Run,
  startCli,
  startInTerminal,
  verifiedPair,
  waitFor,
} from "./spawn.js";

let dir: string;

beforeAll(async () => {
  buildCli();
  dir = await mkdtemp(join(tmpdir(), "xtls-cli-ease-"));
}, deadlines.buildMs);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const start = (args: string[], env: Record<string, string> = {}, stdin?: string): Run =>
  startCli(prosody, args, env, stdin);
const account = (who: "romeo" | "juliet", tag: string) => accountArgs(dir, who, tag);
/** `xtls ARGS` piped, with no XTLS_* variable (the demo on its embedded router). */
const startLocal = (args: string[]): Run =>
  startCommand(process.execPath, [BIN, ...args], {
    env: Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !k.startsWith("XTLS_") && k !== "NO_COLOR" && k !== "FORCE_COLOR",
      ),
    ) as Record<string, string>,
    label: `xtls ${args.join(" ")}`,
  });

/** Lines as a terminal shows them: each carriage-return redraw on its own, colours gone. */
function screenLines(output: string): string[] {
  return (
    output
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping terminal escapes.
      .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, "")
      .split(/\r?\n/)
      .flatMap((l) => l.split("\r"))
  );
}

/** A colon-separated fingerprint (formatFingerprint), whole or cut with "…". */
const COLON_FP = /([0-9A-F]{2}:){7,31}[0-9A-F]{2}/;

describe("small correctness items", () => {
  it(
    "receive with a bare --jid binds the documented default resource xtls-cli",
    async () => {
      const r = start(["receive", "--jid", "juliet@capulet.lit", "--dir", join(dir, "res-juliet")]);
      try {
        await waitFor(r, "waiting for files as");
        expect(r.stderr()).toContain("waiting for files as juliet@capulet.lit/xtls-cli ");
        expect(await start(["receive", "--help"]).done).toBe(0);
      } finally {
        await r.kill();
      }
    },
    deadlines.commandsTestMs,
  );

  it.each([["send"], ["receive"], ["chat"], ["trust"], ["identity"], ["demo"]])(
    "xtls %s --foo: exit 2 and one line naming the option",
    async (command) => {
      const r = start([command, "--foo"]);
      expect(await r.done, r.seen()).toBe(2);
      expect(r.stderr()).toBe(`xtls: unknown option --foo (see xtls ${command} --help)\n`);
      expect(r.stdout()).toBe("");
    },
  );

  it("xtls demo --mode jingle | head -1: head gets the first line, xtls exits 0 without a word", async () => {
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        "bash",
        [
          "-c",
          `"${process.execPath}" "${BIN}" demo --mode jingle | head -1; echo "xtls exited \${PIPESTATUS[0]}" >&2`,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", () => resolve({ stdout, stderr }));
    });
    expect(r.stdout).toMatch(/^XTLS demo — Jingle \+ XTLS[^\n]*\n$/);
    expect(r.stderr).toBe("xtls exited 0\n");
  });

  it("receive --help is titled with --into (where files go), not --dir", async () => {
    const r = start(["receive", "--help"]);
    expect(await r.done).toBe(0);
    expect(r.stdout().split("\n")[0]).toBe(
      "xtls receive [--into DIR] — wait for files, store them once verified",
    );
    expect(r.stdout()).toMatch(/^ {2}--into DIR +where files go/m);
  });

  /** Romeo, verified with Juliet of `tag`, sends a 3-byte file to her `receive --yes`. */
  async function sendTiny(tag: string): Promise<{ sender: Run; receiver: Run }> {
    await verifiedPair(prosody, dir, tag);
    const inbox = join(dir, `inbox-${tag}`);
    const file = join(dir, "tiny.txt");
    await writeFile(file, "hi\n");
    const receiver = start(["receive", ...account("juliet", tag), "--into", inbox, "--yes"]);
    await waitFor(receiver, "waiting for files as");
    const sender = start([
      "send",
      file,
      "--to",
      `juliet@capulet.lit/balcony-${tag}`,
      ...account("romeo", tag),
    ]);
    expect(await sender.done, sender.seen()).toBe(0);
    expect(await receiver.done, receiver.seen()).toBe(0);
    expect(await readdir(inbox)).toEqual(["tiny.txt"]);
    return { sender, receiver };
  }

  it(
    "a 3-byte file: rates in whole bytes per second, no 46.15384615384615 B/s",
    async () => {
      const { sender, receiver } = await sendTiny("rate");
      // The progress lines of both sides (piped: one per quarter).
      const progress = [sender, receiver].flatMap((r) =>
        r
          .stderr()
          .split("\n")
          .filter((l) => l.startsWith("tiny.txt ")),
      );
      expect(progress.length).toBeGreaterThan(0);
      for (const line of progress) expect(line).toMatch(/ 3 B\/3 B \d+ (B|KiB|MiB)\/s ETA /);
      for (const line of progress) expect(line).not.toMatch(/\d\.\d{2,}/);
    },
    deadlines.commandsTestMs,
  );

  it(
    "fingerprints only as colon-separated hex: send, receive, identity show, trust list, and the demo's three modes",
    async () => {
      const { sender, receiver } = await sendTiny("fp");
      const identity = start(["identity", "show", ...account("romeo", "fp")]);
      const trust = start(["trust", "list", ...account("romeo", "fp")]);
      expect(await identity.done).toBe(0);
      expect(await trust.done).toBe(0);
      const demos: Run[] = [];
      for (const mode of ["jingle", "q", "story"]) {
        const r = startLocal(["demo", "--mode", mode]);
        expect(await r.done, r.seen()).toBe(0);
        demos.push(r);
      }
      const [demo, q, story] = demos as [Run, Run, Run];
      const fileHash = "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4"; // sha256("hi\n")
      for (const r of [sender, receiver, identity, trust, demo, q, story]) {
        const text = `${r.stdout()}${r.stderr()}`;
        // No fingerprint cut as bare hex ("3fa2b1c9d0e4f5a6…", "fp 3fa2b1c9"), and no whole
        // one as bare hex: a 64-digit run is only ever a file's SHA-256 (tiny.txt's, or the
        // story's file, "SHA-256 <hex> matches").
        expect(text.match(/(?<![0-9A-Fa-f:])[0-9a-fA-F]{8,}…/g) ?? [], r.seen()).toEqual([]);
        expect(text.match(/fp [0-9a-f]{8}/g) ?? [], r.seen()).toEqual([]);
        expect(
          (text.match(/(?<![0-9A-Fa-f])[0-9a-fA-F]{64}(?![0-9A-Fa-f])/g) ?? []).filter(
            (h) => h !== fileHash && !text.includes(`SHA-256 ${h} matches`),
          ),
          r.seen(),
        ).toEqual([]);
      }
      expect(receiver.stderr()).toMatch(new RegExp(`certificate ${COLON_FP.source}`));
      expect(sender.stdout()).toMatch(new RegExp(`peer certificate ${COLON_FP.source}`));
      expect(identity.stdout()).toMatch(new RegExp(`SHA-256 ${COLON_FP.source}`));
      for (const r of [demo, q, story]) expect(r.stdout()).toMatch(new RegExp(`${COLON_FP.source}…`));
    },
    deadlines.commandsTestMs,
  );

  it(
    "an offline peer (no such resource) is reported as offline, exit 6, not as declined (4) nor refused",
    async () => {
      await verifiedPair(prosody, dir, "off");
      const file = join(dir, "letter.txt");
      await writeFile(file, "Wherefore art thou Romeo?\n");
      const sender = start([
        "send",
        file,
        "--to",
        "juliet@capulet.lit/nobody-home",
        ...account("romeo", "off"),
        "--json",
      ]);
      expect(await sender.done, sender.seen()).toBe(6);
      const last = sender.stderr().trim().split("\n").at(-1)!;
      expect(last).toMatch(/^xtls send: juliet@capulet\.lit\/nobody-home is offline/);
      expect(last).not.toMatch(/refused|declined/);
      expect(JSON.parse(sender.stdout())).toEqual({ error: expect.stringMatching(/is offline/), code: 6 });
      // A peer that declines is still "declined", exit 4.
      const receiver = start(
        [
          "receive",
          ...account("juliet", "off"),
          "--resource",
          "balcony-off",
          "--into",
          join(dir, "inbox-off"),
        ],
        {},
      );
      await waitFor(receiver, "waiting for files as");
      const declined = start([
        "send",
        file,
        "--to",
        "juliet@capulet.lit/balcony-off",
        ...account("romeo", "off"),
        "--json",
      ]);
      await waitFor(receiver, "Accept? [y/N]");
      receiver.child.stdin.end("n\n");
      expect(await declined.done, declined.seen()).toBe(4);
      expect(JSON.parse(declined.stdout())).toEqual({ error: expect.stringMatching(/declined/), code: 4 });
      await receiver.kill();
    },
    deadlines.commandsTestMs,
  );

  it.each([
    [["send", "--json"], 2],
    [["send", "--json", "--bogus"], 2],
    [["trust", "verify", "x@y", "nope", "--jid", "romeo@montague.lit", "--json"], 2],
    [["receive", "--jid", "romeo@montague.lit", "--server", "xmpp://127.0.0.1:1", "--json"], 5],
    [["demo", "--json", "--server", "xmpp://127.0.0.1:1"], 1],
  ])("xtls %j fails with one JSON object { error, code: %i } on stdout", async (args, code) => {
    const r = start(args as string[], { XTLS_DIR: join(dir, "json-failures") });
    expect(await r.done, r.seen()).toBe(code);
    const lines = r.stdout().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({ error: expect.any(String), code });
  });
});

describe("the terminal's width", () => {
  it("--width 60: every line of the demo (jingle, q, story) within 60 columns", async () => {
    for (const [mode, line] of [
      ["jingle", "“Art thou not Romeo, and a Montague?”"],
      ["q", "“I take thee at thy word:”"],
      ["story", "passwords asked this time: 0"],
    ] as const) {
      const r = startLocal(["demo", "--mode", mode, "--width", "60"]);
      expect(await r.done, r.seen()).toBe(0);
      const long = screenLines(r.stdout()).filter((l) => l.length > 60);
      expect(long, mode).toEqual([]);
      expect(r.stdout()).toContain(line);
    }
  });

  it(
    "a 40-column terminal: the demo's transcript, the story and the help wrap to 40 columns",
    async () => {
      for (const args of [
        ["demo", "--mode", "jingle"],
        ["demo"],
        ["--help"],
        ["demo", "--help"],
        ["send", "--help"],
        ["receive", "--help"],
      ]) {
        const r = startInTerminal(args, { columns: 40 });
        expect(await r.exited(), r.seen()).toBe(0);
        const lines = screenLines(r.stdout());
        expect(lines.length).toBeGreaterThan(5);
        expect(
          lines.filter((l) => l.length > 40),
          `xtls ${args.join(" ")}`,
        ).toEqual([]);
      }
    },
    deadlines.commandsTestMs,
  );
});

describe("a terminal asks", () => {
  it(
    "no password given on a terminal: it is asked without echo, then the command logs in",
    async () => {
      const r = startInTerminal(
        ["receive", "--jid", "juliet@capulet.lit", "--resource", "pw", "--dir", join(dir, "pw-juliet")],
        { env: { XTLS_SERVER: prosody.service } },
      );
      try {
        await r.waitFor("Password for juliet@capulet.lit: ");
        r.child.stdin.write(`${prosody.password}\r`);
        await r.waitFor("waiting for files as juliet@capulet.lit/pw");
        expect(r.stdout()).not.toContain(prosody.password);
      } finally {
        await r.kill();
      }
    },
    deadlines.commandsTestMs,
  );

  it("no password and no terminal: exit 2 with one line, as before", async () => {
    const r = startCli({ service: prosody.service, password: "" }, [
      "receive",
      "--jid",
      "juliet@capulet.lit",
      "--dir",
      join(dir, "pw-none"),
    ]);
    expect(await r.done, r.seen()).toBe(2);
    expect(r.stderr()).toMatch(/^xtls receive: the account's password is missing/);
  });
});

describe("first contact with a generated one-time code", () => {
  it(
    "send to a stranger: the sender shows a code, the receiver types it, the file arrives verified by srp; the next time no code",
    async () => {
      const file = join(dir, "code.txt");
      await writeFile(file, "Parting is such sweet sorrow\n");
      const inbox = join(dir, "inbox-code");
      const receiver = start(["receive", ...account("juliet", "code"), "--into", inbox, "--json"]);
      await waitFor(receiver, "waiting for files as");
      const sender = start(
        ["send", file, "--to", "juliet@capulet.lit/balcony-code", ...account("romeo", "code"), "--json"],
        {},
        "",
      );
      await waitFor(sender, /Tell juliet@capulet\.lit this one-time code: \d{4}-\d{4}\n/);
      const code = sender.stderr().match(/one-time code: (\d{4}-\d{4})/)![1]!;
      await waitFor(receiver, "Accept? [y/N]");
      receiver.child.stdin.write("y\n");
      await waitFor(receiver, "One-time password or code they gave you: ");
      expect(receiver.stderr()).toMatch(
        new RegExp(`First contact with romeo@montague\\.lit/\\S+ \\(certificate ${COLON_FP.source}\\)\\.`),
      );
      receiver.child.stdin.end(`${code}\n`);
      expect(await sender.done, sender.seen()).toBe(0);
      expect(await receiver.done, receiver.seen()).toBe(0);
      expect(JSON.parse(sender.stdout())).toMatchObject({ file: "code.txt", trust: "srp" });
      expect(await readdir(inbox)).toEqual(["code.txt"]);
      // Pinned now: the next send shows no code.
      const again = start(
        ["receive", ...account("juliet", "code"), "--into", inbox, "--yes", "--json"],
        {},
        "",
      );
      await waitFor(again, "waiting for files as");
      const second = start(
        ["send", file, "--to", "juliet@capulet.lit/balcony-code", ...account("romeo", "code"), "--json"],
        {},
        "",
      );
      expect(await second.done, second.seen()).toBe(0);
      expect(await again.done, again.seen()).toBe(0);
      expect(second.stderr()).not.toContain("one-time code");
      expect(JSON.parse(second.stdout())).toMatchObject({ trust: "trust-store" });
    },
    deadlines.commandsTestMs,
  );

  it(
    "a wrongly typed code fails the first contact on both sides with exit 3, nothing stored",
    async () => {
      const file = join(dir, "code2.txt");
      await writeFile(file, "A rose by any other name\n");
      const inbox = join(dir, "inbox-code2");
      const receiver = start(["receive", ...account("juliet", "code2"), "--into", inbox, "--json"]);
      await waitFor(receiver, "waiting for files as");
      const sender = start(
        ["send", file, "--to", "juliet@capulet.lit/balcony-code2", ...account("romeo", "code2"), "--json"],
        {},
        "",
      );
      await waitFor(sender, /one-time code: \d{4}-\d{4}/);
      const code = sender.stderr().match(/one-time code: (\d{4})-(\d{4})/)!;
      const wrong = `${code[1]}-${String((Number(code[2]) + 1) % 10000).padStart(4, "0")}`;
      await waitFor(receiver, "Accept? [y/N]");
      receiver.child.stdin.write("y\n");
      await waitFor(receiver, "One-time password or code they gave you: ");
      receiver.child.stdin.end(`${wrong}\n`);
      expect(await sender.done, sender.seen()).toBe(3);
      expect(await receiver.done, receiver.seen()).toBe(3);
      expect(await readdir(inbox)).toEqual([]);
      // --json: each side's failure is one JSON object on stdout.
      for (const r of [sender, receiver]) {
        expect(JSON.parse(r.stdout()), r.seen()).toEqual({ error: expect.any(String), code: 3 });
      }
    },
    deadlines.commandsTestMs,
  );
});

describe("first contact in a chat with a generated one-time code", () => {
  it(
    "chat JID to a stranger: the code is shown, typed by the other side, and the chat opens verified by srp",
    async () => {
      const juliet = start(["chat", ...account("juliet", "cc"), "--json"]);
      await waitFor(juliet, "waiting for a chat as");
      const romeo = start(
        ["chat", "juliet@capulet.lit/balcony-cc", ...account("romeo", "cc")],
        {},
        "Did my heart love till now?\n/quit\n",
      );
      await waitFor(romeo, /Tell juliet@capulet\.lit this one-time code: \d{4}-\d{4}\n/);
      const code = romeo.stderr().match(/one-time code: (\d{4}-\d{4})/)![1]!;
      await waitFor(juliet, "wants to chat. Accept? [y/N]");
      juliet.child.stdin.write("y\n");
      await waitFor(juliet, "One-time password or code they gave you: ");
      // Typed without the dash: a code counts by its digits.
      juliet.child.stdin.write(`${code.replace("-", "")}\n`);
      expect(await romeo.done, romeo.seen()).toBe(0);
      expect(await juliet.exited(), juliet.seen()).toBe(0);
      expect(romeo.stderr()).toMatch(new RegExp(`their certificate ${COLON_FP.source} \\(srp\\)`));
      expect(JSON.parse(juliet.stdout().trim())).toMatchObject({ body: "Did my heart love till now?" });
    },
    deadlines.commandsTestMs,
  );
});

describe("server discovery", () => {
  let dns: Socket;
  let dnsPort: number;
  const asked: string[] = [];

  beforeAll(async () => {
    // A DNS server of the test's own on 127.0.0.1 (UDP): capulet.lit's _xmpp-client._tcp
    // SRV records name a dead port first (priority 0) and the test Prosody's (priority 10);
    // anything else is NXDOMAIN.
    dns = createSocket("udp4");
    dns.on("message", (query, from) => {
      const { id, name, type, question } = parseQuery(query);
      asked.push(`${name} ${type}`);
      const srv = name.toLowerCase() === "_xmpp-client._tcp.capulet.lit" && type === 33;
      const answers = srv
        ? [srvRecord(0, 5, 1, "localhost"), srvRecord(10, 5, prosody.c2sPort, "localhost")]
        : [];
      dns.send(dnsAnswer(id, question, answers, srv ? 0 : 3), from.port, from.address);
    });
    await new Promise<void>((resolve) => dns.bind(0, "127.0.0.1", resolve));
    dnsPort = dns.address().port;
  });
  afterAll(() => dns.close());

  it(
    "no --server: the domain's SRV records are looked up (XTLS_DNS_SERVER), the dead target skipped, the next one logged in to",
    async () => {
      const r = start(
        ["receive", "--jid", "juliet@capulet.lit", "--resource", "srv", "--dir", join(dir, "srv-juliet")],
        { XTLS_SERVER: "", XTLS_DNS_SERVER: `127.0.0.1:${dnsPort}` },
      );
      try {
        await waitFor(r, "waiting for files as juliet@capulet.lit/srv");
        expect(asked).toContain("_xmpp-client._tcp.capulet.lit 33");
      } finally {
        await r.kill();
      }
    },
    deadlines.commandsTestMs,
  );

  it("no SRV record: the fallback <domain>:5222 is tried, and the error names it (exit 5)", async () => {
    const r = start(["receive", "--jid", "romeo@montague.lit", "--dir", join(dir, "srv-romeo")], {
      XTLS_SERVER: "",
      XTLS_DNS_SERVER: `127.0.0.1:${dnsPort}`,
    });
    expect(await r.done, r.seen()).toBe(5);
    expect(asked).toContain("_xmpp-client._tcp.montague.lit 33");
    expect(r.stderr()).toMatch(
      /^xtls receive: cannot log in to xmpp:\/\/montague\.lit:5222 as romeo@montague\.lit/,
    );
  });
});

describe("xtls login", () => {
  it(
    "login --save-password stores the account (file mode 0600); later commands need no flag and no variable",
    async () => {
      const home = join(dir, "home-romeo");
      const login = start(["login", "--jid", "romeo@montague.lit", "--save-password"], { HOME: home });
      expect(await login.done, login.seen()).toBe(0);
      expect(login.stdout()).toMatch(/^logged in as romeo@montague\.lit\/xtls-cli; saved to /);
      const path = join(home, ".config", "xtls", "account.json");
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
        jid: "romeo@montague.lit",
        server: prosody.service,
        password: prosody.password,
      });
      // No --jid, no XTLS_* variable: what login stored.
      const r = startInTerminal(["receive"], { env: { HOME: home } });
      try {
        await r.waitFor("waiting for files as romeo@montague.lit/xtls-cli");
        expect(r.stdout()).not.toContain("Password for");
      } finally {
        await r.kill();
      }
      const logout = startInTerminal(["logout"], { env: { HOME: home } });
      expect(await logout.exited()).toBe(0);
      await expect(stat(path)).rejects.toThrow();
    },
    deadlines.commandsTestMs,
  );

  it(
    "login on a terminal asks the password without echo and does not store it; later commands ask it again",
    async () => {
      const home = join(dir, "home-juliet");
      const login = startInTerminal(
        ["login", "--jid", "juliet@capulet.lit", "--server", prosody.service, "--resource", "home"],
        { env: { HOME: home } },
      );
      await login.waitFor("Password for juliet@capulet.lit: ");
      login.child.stdin.write(`${prosody.password}\r`);
      expect(await login.exited(), login.seen()).toBe(0);
      const screen = screenLines(login.stdout()).join("\n");
      expect(screen).toContain("logged in as juliet@capulet.lit/home");
      expect(screen).toContain("the password is not saved");
      expect(screen).not.toContain(prosody.password);
      const path = join(home, ".config", "xtls", "account.json");
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(path, "utf8"))).toEqual({
        jid: "juliet@capulet.lit",
        server: prosody.service,
        resource: "home",
      });
      const r = startInTerminal(["receive", "--into", join(dir, "inbox-home")], { env: { HOME: home } });
      try {
        await r.waitFor("Password for juliet@capulet.lit: ");
        r.child.stdin.write(`${prosody.password}\r`);
        await r.waitFor("waiting for files as juliet@capulet.lit/home");
      } finally {
        await r.kill();
      }
    },
    deadlines.commandsTestMs,
  );
});

// --- a DNS server in a few lines (RFC 1035), for the SRV test ---------------------------

function parseQuery(msg: Buffer): { id: number; name: string; type: number; question: Buffer } {
  const labels: string[] = [];
  let at = 12;
  while (msg[at]! !== 0) {
    const len = msg[at]!;
    labels.push(msg.subarray(at + 1, at + 1 + len).toString("ascii"));
    at += 1 + len;
  }
  const end = at + 1 + 4;
  return {
    id: msg.readUInt16BE(0),
    name: labels.join("."),
    type: msg.readUInt16BE(at + 1),
    question: msg.subarray(12, end),
  };
}

function encodeName(name: string): Buffer {
  return Buffer.concat([
    ...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])),
    Buffer.from([0]),
  ]);
}

function srvRecord(priority: number, weight: number, port: number, target: string): Buffer {
  const rdata = Buffer.concat([Buffer.alloc(6), encodeName(target)]);
  rdata.writeUInt16BE(priority, 0);
  rdata.writeUInt16BE(weight, 2);
  rdata.writeUInt16BE(port, 4);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  head.writeUInt16BE(33, 2); // SRV
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(60, 6); // TTL
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function dnsAnswer(id: number, question: Buffer, answers: Buffer[], rcode: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8180 | rcode, 2); // a response, recursion desired and available
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}
