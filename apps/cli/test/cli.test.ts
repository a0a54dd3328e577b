// The xtls binary, spawned as a user would run it.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { prosody } from "@xtls/test-servers";
import { beforeAll, describe, expect, it } from "vitest";

const APP = join(import.meta.dirname, "..");
const BIN = join(APP, "dist", "bin.js");

beforeAll(() => {
  // The binary runs from dist/: build it (incremental, one tsc for the CLI and its packages).
  const r = spawnSync(
    join(APP, "..", "..", "node_modules", ".bin", "tsc"),
    ["-b", join(APP, "tsconfig.build.json")],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}, 120_000);

function xtls(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    const t0 = Date.now();
    const { NO_COLOR: _n, FORCE_COLOR: _f, ...inherited } = process.env;
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...inherited, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

describe("xtls demo", () => {
  it("runs the whole story by default: first contact with a password, a chat, a verified file, a second session without password", async () => {
    const r = await xtls(["demo"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const order = [
      "1. Two strangers",
      "verified by srp, now pinned",
      "juliet ⇐ “M'lady, I would be pleased to make your acquaintance.”",
      "romeo  ⇐ “Art thou not Romeo, and a Montague?”",
      "offers balcony-scene.txt (1.0 MiB, text/plain)",
      "100% 1.0 MiB/1.0 MiB",
      "matches",
      "trusted from the trust-store; passwords asked this time: 0",
      "the words of the play, the file and the password appear 0 times",
    ];
    const at = order.map((s) => r.stdout.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it("runs the draft's flow (Jingle + XTLS + IBB + XML stream) with --mode jingle, exit 0", async () => {
    const r = await xtls(["demo", "--mode", "jingle"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stdout).toContain("what the network carried");
    // The draft's order: initiate with his fingerprint, accept with hers, the choice, then IBB.
    const order = [
      "jingle session-initiate: xmlstream, ibb, xtls fp",
      "jingle session-accept: xmlstream, ibb, xtls fp",
      "jingle security-info: xtls [x509]",
      "IBB <open sid=",
      "TLS 1.3 handshake — the first bytes on IBB",
      "transport reported open",
      "“M'lady, I would be pleased to make your acquaintance.”",
      "“Art thou not Romeo, and a Montague?”",
      "⇐ <presence>",
      "iq result inside the stream (XEP-0092)",
      "jingle session-terminate <success/>",
    ];
    const at = order.map((s) => r.stdout.indexOf(s));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(r.stdout).toMatch(/TLSv1\.3, TLS_AES_\w+/);
    expect(r.stdout.match(/SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/g)?.length).toBeGreaterThanOrEqual(4);
    expect(r.stdout).toMatch(/\d+ IBB <data\/> IQs carried \d+ bytes/);
    expect(r.stdout).toContain("the words of the play appear 0 times");
    expect(r.stdout).not.toContain("\u001b["); // piped: no colours
  });

  it("runs the draft's flow over SOCKS5 with --transport s5b (candidates, nomination, TLS on the TCP connection)", async () => {
    const r = await xtls(["demo", "--mode", "jingle", "--transport", "s5b", "--width", "160"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("jingle session-initiate: xmlstream, s5b, xtls fp");
    expect(r.stdout).toContain("jingle transport-info: s5b");
    expect(r.stdout).toContain("TLS 1.3 handshake — the first bytes on SOCKS5");
    expect(r.stdout).toContain("the TLS records went over a SOCKS5 connection, not through XMPP");
    expect(r.stdout).toContain("“Art thou not Romeo, and a Montague?”");
  });

  it("runs the Mode Q story with --mode q", async () => {
    const r = await xtls(["demo", "--mode", "q"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("<data method='x509'>");
    expect(r.stdout).toContain("“I take thee at thy word:”");
    expect(r.stdout).toContain("“What man art thou that thus bescreen'd in night”");
    expect(r.stdout).toContain("the words of the play appear 0 times");
    expect(r.stdout).not.toContain("jingle");
  });

  it("prints a JSON summary with --json", async () => {
    const story = JSON.parse((await xtls(["demo", "--json"])).stdout);
    expect(story).toMatchObject({
      mode: "story",
      protocol: "TLSv1.3",
      plaintextLeaks: 0,
      firstContact: { method: "srp", passwordsAsked: 2 },
      file: { name: "balcony-scene.txt", size: 1048576, verified: true },
      secondSession: { trust: "trust-store", passwordsAsked: 0 },
    });
    const r = await xtls(["demo", "--json", "--mode", "jingle"]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ mode: "jingle", protocol: "TLSv1.3", plaintextLeaks: 0 });
    expect(summary.phases).toEqual(["connecting", "securing", "established", "ended"]);
    expect(summary.received.juliet).toEqual(["M'lady, I would be pleased to make your acquaintance."]);
    expect(summary.received.romeo).toEqual(["Art thou not Romeo, and a Montague?"]);
    expect(summary.fingerprints.romeo).toMatch(/^[0-9a-f]{64}$/);
    expect(summary.dataIqs).toBeGreaterThan(4);
    const q = JSON.parse((await xtls(["demo", "--json", "--mode", "q"])).stdout);
    expect(q).toMatchObject({ mode: "q", plaintextLeaks: 0 });
    expect(q.received.juliet[0]).toContain("I take thee at thy word:");
  });

  it("uses colours when asked", async () => {
    expect((await xtls(["demo", "--color", "--mode", "jingle"])).stdout).toContain("\u001b[");
    expect((await xtls(["demo", "--mode", "q"], { FORCE_COLOR: "1" })).stdout).toContain("\u001b[");
  });

  it.each([["story"], ["jingle"], ["q"]])(
    "runs through a real server (the project's Prosody) in mode %s",
    async (mode) => {
      const r = await xtls(["demo", "--server", prosody.service, "--mode", mode]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("a real XMPP server");
      expect(r.stdout).toContain(mode === "q" ? "“I take thee at thy word:”" : "“M'lady, I would be pleased");
      expect(r.stdout).toMatch(/the words of the play.* appear 0 times/);
    },
  );

  it("fails with one line and exit code 1 when the server is unreachable or the password wrong", async () => {
    const unreachable = await xtls(["demo", "--server", "xmpp://127.0.0.1:1"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim().split("\n")).toHaveLength(1);
    expect(unreachable.stderr).toMatch(/^xtls demo: /);
    const wrong = await xtls(["demo", "--server", prosody.service, "--password", "nope"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^xtls demo: .*not-authorized/);
  });
});

describe("xtls usage", () => {
  it("shows help and version, exit 0", async () => {
    const help = await xtls(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("xtls demo");
    expect((await xtls(["demo", "--help"])).stdout).toContain("--server URL");
    expect((await xtls(["--version"])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each([
    [[], 2],
    [["bogus"], 2],
    [["demo", "--bogus"], 2],
    [["demo", "--server", "localhost:5222"], 2],
    [["demo", "--width", "-3"], 2],
    [["demo", "--mode", "s5b"], 2],
    [["demo", "--transport", "tcp"], 2],
  ])("xtls %j exits %i", async (args, code) => {
    const r = await xtls(args);
    expect(r.code).toBe(code);
  });
});
