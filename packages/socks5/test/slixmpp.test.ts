// Interop with an independent XEP-0065 implementation: slixmpp 1.8.3 (Debian's
// python3-slixmpp) through the project's Prosody. test/interop/s5b_peer.py is the peer:
// as Target it connects to our direct streamhost and echoes what it receives; as
// Requester it offers its server's proxy65 (the only streamhosts it can offer, docs/peers.md#slixmpp),
// activates it and sends random bytes.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { fromXmppClient } from "@xtls/core";
import { connectXmppClient, prosody, SYSTEM_PYTHON, type XmppClient } from "@xtls/test-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S5bStream, Socks5Bytestreams } from "../src/index.js";
import { payload, readAll, readExactly, sendAll, sha256 } from "./helpers.js";

const SCRIPT = fileURLToPath(new URL("./interop/s5b_peer.py", import.meta.url));
const MiB = 1024 * 1024;
const children: SlixPeer[] = [];
const clients: XmppClient[] = [];

/** One slixmpp process and the lines it prints. */
class SlixPeer {
  readonly jid: string;
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  #waiters: Array<() => void> = [];

  constructor(jid: string, env: Record<string, string>) {
    this.jid = jid;
    this.child = spawn(SYSTEM_PYTHON, [SCRIPT], {
      env: { ...process.env, SLIX_JID: jid, XMPP_PORT: String(prosody.c2sPort), ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const child = this.child;
    process.once("exit", () => child.kill("SIGKILL")); // even if the run is cut short
    child.stderr.on("data", (d: Buffer) => this.stderr.push(d.toString()));
    createInterface({ input: child.stdout }).on("line", (l) => {
      this.lines.push(l);
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** The first line starting with `prefix` (waiting for it if need be). */
  async line(prefix: string, timeoutMs = 30_000): Promise<string> {
    const t0 = Date.now();
    for (;;) {
      const found = this.lines.find((l) => l.startsWith(prefix));
      if (found) return found;
      const failed = this.lines.find((l) => l.startsWith("FAILED"));
      if (failed) throw new Error(`slixmpp: ${failed}; stderr: ${this.stderr.join("")}`);
      if (this.child.exitCode !== null || Date.now() - t0 > timeoutMs) {
        throw new Error(
          `no "${prefix}" line from slixmpp; stdout: ${this.lines.join(" | ")}; stderr: ${this.stderr.join("")}`,
        );
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
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

afterAll(async () => {
  for (const c of children) c.kill();
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

describe("raw XEP-0065 with slixmpp 1.8.3", () => {
  let romeo: Socks5Bytestreams;
  let slixTarget: SlixPeer;

  beforeAll(async () => {
    slixTarget = new SlixPeer(`juliet@capulet.lit/slix-${randomBytes(4).toString("hex")}`, {
      MODE: "target",
    });
    children.push(slixTarget);
    const client = await connectXmppClient({ username: "romeo", domain: "montague.lit" });
    clients.push(client);
    // Only our direct streamhost: slixmpp would connect to every streamhost at once and
    // keep the losers open.
    romeo = new Socks5Bytestreams(fromXmppClient(client), { proxies: false });
    expect(await slixTarget.line("READY")).toBe(`READY ${slixTarget.jid}`);
  }, 60_000);

  afterAll(async () => {
    await romeo?.close();
  });

  it("slixmpp as Target of our direct streamhost: 4 MiB to it and its echo back, SHA-256 verified", async () => {
    const ours = await romeo.open(slixTarget.jid, { sid: `direct-${randomBytes(4).toString("hex")}` });
    expect([ours.mediated, ours.role, ours.streamhost.jid]).toEqual([false, "requester", romeo.link.jid]);
    const data = payload(4 * MiB + 17);
    const [echoed] = await Promise.all([readAll(ours), sendAll(ours, data)]);
    expect(sha256(echoed)).toBe(sha256(data));
    expect(fields(await slixTarget.line("RECEIVED"))).toEqual({
      len: String(data.length),
      sha256: sha256(data),
    });
  }, 60_000);
});

describe("raw XEP-0065 with slixmpp 1.8.3 as Requester", () => {
  let juliet: Socks5Bytestreams;
  let slixRequester: SlixPeer;
  const streams: S5bStream[] = [];
  const SIZE = 4 * MiB + 3;

  beforeAll(async () => {
    const client = await connectXmppClient({ username: "juliet", domain: "capulet.lit" });
    clients.push(client);
    const link = fromXmppClient(client);
    const slixJid = `romeo@montague.lit/slix-${randomBytes(4).toString("hex")}`;
    juliet = new Socks5Bytestreams(link, { accept: ({ peer }) => peer === slixJid });
    juliet.on("stream", (s) => streams.push(s));
    slixRequester = new SlixPeer(slixJid, { MODE: "offer", TARGET: link.jid, SIZE: String(SIZE) });
    children.push(slixRequester);
    expect(await slixRequester.line("READY")).toBe(`READY ${slixJid}`);
  }, 60_000);

  afterAll(async () => {
    await juliet?.close();
  });

  it("slixmpp offers its proxy65 to us, activates it and sends 4 MiB; we reply 1 MiB; both SHA-256 verified", async () => {
    expect(await slixRequester.line("PROXIES")).toBe("PROXIES proxy.montague.lit");
    const t0 = Date.now();
    while (streams.length === 0 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 10));
    const theirs = streams[0]!;
    expect([theirs.mediated, theirs.role, theirs.streamhost.jid, theirs.peer]).toEqual([
      true,
      "target",
      "proxy.montague.lit",
      slixRequester.jid,
    ]);
    // proxy65 has no half-close: read the known length, then answer and close.
    const received = await readExactly(theirs, SIZE);
    const sent = fields(await slixRequester.line("SENT"));
    expect(sent).toEqual({ len: String(SIZE), sha256: sha256(received) });
    const reply = payload(MiB);
    const rest = readAll(theirs).catch(() => Buffer.alloc(0));
    await sendAll(theirs, reply);
    expect(fields(await slixRequester.line("RECEIVED"))).toEqual({ len: String(MiB), sha256: sha256(reply) });
    expect((await rest).length).toBe(0);
  }, 60_000);
});
