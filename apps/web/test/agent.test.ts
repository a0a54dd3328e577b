// The agent's WebSocket protocol, spoken by a plain WebSocket client instead of a page:
// first contact, chat, a file with backpressured upload, and the doors that stay shut
// (wrong key, foreign origin, foreign Host, a peer's file served as a page).
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatFingerprint } from "@xtls/tls";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  type AgentMessage,
  type PageMessage,
  startWebDemo,
  UPLOAD_CHUNK,
  type WebDemo,
} from "../src/index.js";

let demo: WebDemo | undefined;
afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

/** A page, as the agent sees it: JSON in, JSON and binary frames out. */
class FakePage {
  readonly seen: AgentMessage[] = [];
  readonly #waiters: Array<() => void> = [];
  constructor(readonly ws: WebSocket) {
    ws.on("message", (data, binary) => {
      if (binary) return;
      this.seen.push(JSON.parse(String(data)) as AgentMessage);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<FakePage> {
    const u = new URL(url);
    const ws = new WebSocket(`ws://${u.host}/ws${u.search}`, { headers: { origin: u.origin, ...headers } });
    const page = new FakePage(ws);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return page;
  }

  send(message: PageMessage): void {
    this.ws.send(JSON.stringify(message));
  }

  /** The first message (from the start) of `type` matching `test`. */
  async next<T extends AgentMessage["type"]>(
    type: T,
    test: (m: Extract<AgentMessage, { type: T }>) => boolean = () => true,
  ): Promise<Extract<AgentMessage, { type: T }>> {
    for (;;) {
      const found = this.seen.find(
        (m): m is Extract<AgentMessage, { type: T }> =>
          m.type === type && test(m as Extract<AgentMessage, { type: T }>),
      );
      if (found) return found;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

describe("the agent's WebSocket protocol", () => {
  it("first contact with a one-time password, a chat both ways, and a file with its SHA-256", async () => {
    demo = await startWebDemo();
    const romeo = await FakePage.open(demo.urls.romeo);
    const juliet = await FakePage.open(demo.urls.juliet);
    expect((await romeo.next("welcome")).peer.jid).toBe(demo.people.juliet.jid);

    romeo.send({ type: "open-chat", method: "password" });
    const request = await juliet.next("chat-request");
    juliet.send({ type: "chat-answer", id: request.id, accept: true });
    const [rp, jp] = await Promise.all([romeo.next("prompt-password"), juliet.next("prompt-password")]);
    expect(rp.fingerprint).toBe(demo.people.juliet.fingerprint);
    romeo.send({ type: "password", id: rp.id, password: "wherefore-1597" });
    juliet.send({ type: "password", id: jp.id, password: "wherefore-1597" });
    const [ro, jo] = await Promise.all([romeo.next("chat-open"), juliet.next("chat-open")]);
    expect(ro.peer).toMatchObject({ fingerprint: demo.people.juliet.fingerprint, source: "srp" });
    expect(jo.peer).toMatchObject({ fingerprint: demo.people.romeo.fingerprint, source: "srp" });
    expect(ro.tls.protocol).toBe("TLSv1.3");

    romeo.send({ type: "say", text: "Did my heart love till now?" });
    expect((await juliet.next("message")).body).toBe("Did my heart love till now?");

    // A file of 5 chunks and a bit, sent as binary frames only as fast as acknowledged.
    const file = randomBytes(5 * UPLOAD_CHUNK + 1234);
    romeo.send({ type: "send-file", upload: 7, name: "sonnet.bin", size: file.length, mediaType: "" });
    const start = await romeo.next("transfer-start", (m) => m.upload === 7);
    for (let at = 0; at < file.length; at += UPLOAD_CHUNK) {
      const chunk = file.subarray(at, at + UPLOAD_CHUNK);
      const frame = Buffer.alloc(4 + chunk.length);
      frame.writeUInt32BE(7, 0);
      chunk.copy(frame, 4);
      romeo.ws.send(frame);
    }
    const offer = await juliet.next("file-offer");
    expect(offer).toMatchObject({ name: "sonnet.bin", size: file.length });
    juliet.send({ type: "file-answer", id: offer.id, accept: true });
    const sha256 = createHash("sha256").update(file).digest("hex");
    const [sent, got] = await Promise.all([
      romeo.next("transfer-done", (m) => m.id === start.id),
      juliet.next("transfer-done", (m) => m.id === offer.id),
    ]);
    expect(sent.sha256).toBe(sha256);
    expect(got.sha256).toBe(sha256);
    // The file transfer found Romeo already pinned (by the password, above).
    expect(got.peer).toMatchObject({
      fingerprint: demo.people.romeo.fingerprint,
      source: "pinned",
      method: "srp",
    });
    expect((await romeo.next("upload-ack", (m) => m.bytes === file.length)).upload).toBe(7);

    // The download: the same octets, as an attachment, never as a page.
    const res = await fetch(`${demo.origin}${got.href}`);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(Buffer.from(await res.arrayBuffer()).equals(file)).toBe(true);
    // …and only with Juliet's key.
    const stolen = (got.href ?? "").replace(/key=[^&]+/, `key=${demo.people.romeo.key}`);
    expect((await fetch(`${demo.origin}${stolen}`)).status).toBe(404);
  });

  it("a page reload replays the session: the new page sees the chat and its messages", async () => {
    demo = await startWebDemo();
    const romeo = await FakePage.open(demo.urls.romeo);
    const juliet = await FakePage.open(demo.urls.juliet);
    romeo.send({ type: "open-chat", method: "code" });
    juliet.send({ type: "chat-answer", id: (await juliet.next("chat-request")).id, accept: true });
    const [rs, js] = await Promise.all([romeo.next("prompt-sas"), juliet.next("prompt-sas")]);
    expect(rs.digits).toMatch(/^\d{6}$/);
    expect(js.digits).toBe(rs.digits);
    expect(js.emoji).toEqual(rs.emoji);
    romeo.send({ type: "sas", id: rs.id, match: true });
    juliet.send({ type: "sas", id: js.id, match: true });
    expect((await juliet.next("chat-open")).peer.source).toBe("sas");
    romeo.send({ type: "say", text: "Forswear it, sight!" });
    await juliet.next("message");
    juliet.ws.close();
    const again = await FakePage.open(demo.urls.juliet);
    expect((await again.next("message")).body).toBe("Forswear it, sight!");
    expect((await again.next("chat-open")).peer.source).toBe("sas");
  });

  it("a declined chat and a withdrawn one: both pages are told, nothing stays pending", async () => {
    demo = await startWebDemo();
    const romeo = await FakePage.open(demo.urls.romeo);
    const juliet = await FakePage.open(demo.urls.juliet);
    romeo.send({ type: "open-chat", method: "password" });
    const first = await juliet.next("chat-request");
    juliet.send({ type: "chat-answer", id: first.id, accept: false });
    expect((await romeo.next("chat-failed")).error).toBe("Juliet declined.");

    romeo.send({ type: "open-chat", method: "code" });
    const second = await juliet.next("chat-request", (m) => m.id !== first.id);
    romeo.send({ type: "close-chat" });
    const withdrawn = await romeo.next("chat-failed", (m) => m.error !== "Juliet declined.");
    expect(withdrawn.error).toBe("You cancelled it.");
    await juliet.next("prompt-closed", (m) => m.id === second.id);
    expect(juliet.seen.filter((m) => m.type === "prompt-password" || m.type === "prompt-sas")).toEqual([]);
  });

  it("a pinned peer presenting another certificate: the page shows the CHANGED alarm with both fingerprints; no password is asked", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xtls-web-kc-"));
    try {
      // First contact by password: each pins the other (kept in dir/<name>/).
      demo = await startWebDemo({ dir });
      let romeo = await FakePage.open(demo.urls.romeo);
      let juliet = await FakePage.open(demo.urls.juliet);
      romeo.send({ type: "open-chat", method: "password" });
      juliet.send({ type: "chat-answer", id: (await juliet.next("chat-request")).id, accept: true });
      const [rp, jp] = await Promise.all([romeo.next("prompt-password"), juliet.next("prompt-password")]);
      romeo.send({ type: "password", id: rp.id, password: "wherefore-1597" });
      juliet.send({ type: "password", id: jp.id, password: "wherefore-1597" });
      await Promise.all([romeo.next("chat-open"), juliet.next("chat-open")]);
      const verified = demo.people.juliet.fingerprint;
      await demo.close();

      // Juliet's side now has another key (a man in the middle, or she replaced hers).
      await rm(join(dir, "juliet", "identity"), { recursive: true });
      demo = await startWebDemo({ dir });
      const presented = demo.people.juliet.fingerprint;
      expect(presented).not.toBe(verified);
      romeo = await FakePage.open(demo.urls.romeo);
      juliet = await FakePage.open(demo.urls.juliet);
      romeo.send({ type: "open-chat", method: "password" });
      juliet.send({ type: "chat-answer", id: (await juliet.next("chat-request")).id, accept: true });
      const failed = await romeo.next("chat-failed");
      expect(failed.error).toContain("certificate has CHANGED");
      expect(failed.error).toContain(formatFingerprint(verified));
      expect(failed.error).toContain(formatFingerprint(presented));
      expect(failed.error).toContain("possible man-in-the-middle");
      expect(romeo.seen.filter((m) => m.type === "prompt-password" || m.type === "prompt-sas")).toEqual([]);
      expect(romeo.seen.filter((m) => m.type === "chat-open")).toEqual([]);
    } finally {
      await demo?.close();
      demo = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a wrong key, a foreign origin and a foreign Host", async () => {
    demo = await startWebDemo();
    const wrongKey = demo.urls.romeo.replace(/key=[^&]+/, "key=guess");
    await expect(FakePage.open(wrongKey)).rejects.toThrow(/403/);
    await expect(FakePage.open(demo.urls.romeo, { origin: "http://evil.example" })).rejects.toThrow(/403/);
    await expect(FakePage.open(demo.urls.romeo, { host: "evil.example" })).rejects.toThrow(/403/);
    const page = await fetch(demo.origin);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(demo.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
