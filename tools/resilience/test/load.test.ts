// Load: 100 concurrent encrypted file transfers through Prosody (every hash verified), and
// 1,000 concurrent chats on the embedded router for a minute (no message lost or
// duplicated). XTLS_LOAD_SECONDS shortens the chat run for a quick local check.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Chat, createXtls, type Xtls } from "@xtls/client";
import { LocalRouter, xml } from "@xtls/core";
import { connectXmppClient, startProsody, stopProsody, type XmppClient } from "@xtls/test-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "xtls-load-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("load", () => {
  it("100 concurrent encrypted file transfers through Prosody: every file stored, every SHA-256 verified", async () => {
    await startProsody();
    const clients: XmppClient[] = [];
    const parties: Xtls[] = [];
    try {
      const [r, j] = await Promise.all([
        connectXmppClient({ username: "romeo", domain: "montague.lit" }),
        connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
      ]);
      clients.push(r, j);
      // In-band bytestreams: every byte goes through the server.
      const romeo = await createXtls(r, { socks5: false });
      // A burst of 100 offers from one account: Juliet takes them all at once (the default
      // of 8 pending per account would have most of them retried after resource-constraint).
      const juliet = await createXtls(j, { socks5: false, maxPendingPerPeer: 128, maxPending: 256 });
      parties.push(romeo, juliet);
      await romeo.trustStore.pin("juliet@capulet.lit", juliet.fingerprint, { method: "manual" });
      await juliet.trustStore.pin("romeo@montague.lit", romeo.fingerprint, { method: "manual" });
      const inbox = join(dir, "inbox");
      await mkdir(inbox);
      const stored = new Map<string, string>();
      const julietErrors: string[] = [];
      juliet.files.on("refused", ({ error }) => julietErrors.push(`refused: ${String(error)}`));
      let offers = 0;
      juliet.on("file", (offer) => {
        offers++;
        void offer
          .accept({ dir: inbox })
          .then((t) => t.done)
          .then((result) => stored.set(result.name, result.path!))
          .catch((error: unknown) => julietErrors.push(String(error)));
      });
      const files = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const path = join(dir, `letter-${i}.bin`);
          const bytes = randomBytes(8 * 1024 + i);
          await writeFile(path, bytes);
          return { path, name: `letter-${i}.bin`, sha256: createHash("sha256").update(bytes).digest("hex") };
        }),
      );
      const results = await Promise.allSettled(
        files.map(async (f) => (await romeo.sendFile(juliet.link.jid, f.path)).done),
      );
      const failed = results.filter((x) => x.status === "rejected");
      expect({
        sender: failed.map((x) => String((x as PromiseRejectedResult).reason)),
        receiver: julietErrors,
        offers,
      }).toEqual({ sender: [], receiver: [], offers: 100 });
      for (let i = 0; i < 200 && stored.size < 100; i++) await new Promise((res) => setTimeout(res, 10));
      expect(stored.size).toBe(100);
      for (const f of files) {
        const got = await readFile(stored.get(f.name)!);
        expect(createHash("sha256").update(got).digest("hex")).toBe(f.sha256);
      }
    } finally {
      await Promise.allSettled(parties.map((p) => p.close()));
      await Promise.allSettled(clients.map((c) => c.stop()));
      await stopProsody();
    }
  });

  it("1,000 concurrent chats on the embedded router for a minute: no message lost, duplicated or reordered", async () => {
    const seconds = Number(process.env.XTLS_LOAD_SECONDS ?? 60);
    const router = new LocalRouter();
    const romeo = await createXtls(router.createLink("romeo@montague.lit/orchard"), { socks5: false });
    const juliet = await createXtls(router.createLink("juliet@capulet.lit/balcony"), { socks5: false });
    try {
      await romeo.trustStore.pin("juliet@capulet.lit", juliet.fingerprint, { method: "manual" });
      await juliet.trustStore.pin("romeo@montague.lit", romeo.fingerprint, { method: "manual" });
      // What Juliet received, per chat (its thread id): the sequence numbers, in order.
      const received = new Map<string, number[]>();
      juliet.on("chat", (incoming) => {
        void incoming.accept().then((chat) =>
          chat.on("message", (m) => {
            const thread = m.stanza.getChildText("thread") ?? "?";
            const list = received.get(thread) ?? [];
            list.push(Number(m.body));
            received.set(thread, list);
          }),
        );
      });
      // Open 1,000 chats, a few at a time like a client would.
      const chats: Chat[] = [];
      for (let i = 0; i < 1000; i += 16) {
        chats.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(16, 1000 - i) }, () => romeo.openChat(juliet.link.jid)),
          )),
        );
      }
      expect(chats).toHaveLength(1000);
      // For `seconds`: every chat sends its next number about once a second.
      const sent = new Array<number>(chats.length).fill(0);
      const until = Date.now() + seconds * 1000;
      while (Date.now() < until) {
        const round = Date.now();
        await Promise.all(
          chats.map((chat, i) =>
            chat.send(
              xml(
                "message",
                { type: "chat" },
                xml("thread", {}, `t${i}`),
                xml("body", {}, String(sent[i]!++)),
              ),
            ),
          ),
        );
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - round))));
      }
      const total = sent.reduce((a, b) => a + b, 0);
      for (let i = 0; i < 500; i++) {
        const got = [...received.values()].reduce((a, l) => a + l.length, 0);
        if (got >= total) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(received.size).toBe(1000);
      for (let i = 0; i < chats.length; i++) {
        expect(received.get(`t${i}`)).toEqual(Array.from({ length: sent[i]! }, (_, k) => k));
      }
      expect(Math.min(...sent)).toBeGreaterThanOrEqual(Math.max(1, Math.floor(seconds / 2)));
      await Promise.all(chats.map((c) => c.close()));
    } finally {
      await Promise.allSettled([romeo.close(), juliet.close()]);
      router.close();
    }
  }, 240_000);
});
