// @xtls/client against ejabberd: first contact with a password (srp), an encrypted chat and
// verified file transfers — over SOCKS5 (the default) and over IBB only — then the next
// session needs no password. Identities and trust stores on disk, as in the README.

import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createXtls, type Xtls } from "@xtls/client";
import { NS } from "@xtls/core";
import { MiB, sha256 } from "@xtls/testkit/streams";
import { cleanUp, onCleanup } from "@xtls/testkit/support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, until, watchDrops } from "./helpers.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "xtls-ejabberd-client-"));
  await mkdir(join(dir, "inbox"));
});

afterAll(async () => {
  await cleanUp();
  await rm(dir, { recursive: true, force: true });
});

async function pair(options: { socks5?: false } = {}) {
  const [r, j] = await Promise.all([
    connect("romeo", "montague.lit"),
    connect("juliet", "capulet.lit", { resource: `balcony-${randomBytes(3).toString("hex")}` }),
  ]);
  const drops = [watchDrops(r), watchDrops(j)];
  let asked = 0;
  const askPassword = async () => {
    asked++;
    return "wherefore-1597";
  };
  const juliet: Xtls = await createXtls(j, { dir: join(dir, "juliet"), askPassword, ...options });
  const romeo: Xtls = await createXtls(r, { dir: join(dir, "romeo"), askPassword, ...options });
  onCleanup(() => Promise.allSettled([romeo.close(), juliet.close()]));
  const chats: string[] = [];
  juliet.on("chat", async (incoming) => (await incoming.accept()).on("message", (m) => chats.push(m.body)));
  const refused: unknown[] = [];
  juliet.on("file", (offer) => void offer.accept({ dir: join(dir, "inbox") }).catch((e) => refused.push(e)));
  return { romeo, juliet, chats, drops, refused, asked: () => asked };
}

describe("@xtls/client through ejabberd", () => {
  it("first contact with srp: a chat, then a 1 MiB file over SOCKS5, SHA-256 verified", async () => {
    const { romeo, juliet, chats, drops, refused, asked } = await pair();
    const chat = await romeo.openChat(juliet.link.jid);
    expect(chat.peerIdentity?.trust.source).toBe("srp");
    await chat.send("Shall I compare thee to a summer's day?");
    await until(() => chats.length === 1);
    expect(chats).toEqual(["Shall I compare thee to a summer's day?"]);
    await chat.close();
    expect(asked()).toBe(2); // once per side

    const data = randomBytes(MiB);
    await writeFile(join(dir, "sonnet-18.bin"), data);
    const transfer = await romeo.sendFile(juliet.link.jid, join(dir, "sonnet-18.bin"));
    const result = await transfer.done;
    expect(transfer.session?.transportNamespace).toBe(NS.JINGLE_S5B);
    expect(result.size).toBe(MiB);
    expect(sha256(await readFile(join(dir, "inbox", "sonnet-18.bin")))).toBe(sha256(data));
    expect(asked()).toBe(2); // pinned after the chat: no password for the file
    expect(refused).toEqual([]);
    expect(drops.map((d) => d.dropped)).toEqual([false, false]);
  }, 60_000);

  it("the next connection needs no password (trust on disk); a 2 MiB file over IBB only", async () => {
    const { romeo, juliet, drops, refused, asked } = await pair({ socks5: false });
    const again = await romeo.openChat(juliet.link.jid);
    expect(again.peerIdentity?.trust.source).toBe("trust-store");
    await again.close();
    const data = randomBytes(2 * MiB);
    await writeFile(join(dir, "sonnet-116.bin"), data);
    const transfer = await romeo.sendFile(juliet.link.jid, join(dir, "sonnet-116.bin"));
    await transfer.done;
    expect(transfer.session?.transportNamespace).toBe(NS.JINGLE_IBB);
    expect(sha256(await readFile(join(dir, "inbox", "sonnet-116.bin")))).toBe(sha256(data));
    expect(asked()).toBe(0);
    expect(refused).toEqual([]);
    expect(drops.map((d) => d.dropped)).toEqual([false, false]);
  }, 60_000);
});
