// A file transfer through the project's Prosody between two real @xmpp/client
// connections (romeo@montague.lit and juliet@capulet.lit), over IBB inside XTLS.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fromXmppClient, NS, queryDiscoInfo } from "@xtls/core";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { digestOf, type FileTransferProgress, isPartialName } from "../src/index.js";
import {
  content,
  entries,
  nextOffer,
  type Party,
  partyOn,
  removeTempDirs,
  tempDir,
  until,
} from "./helpers.js";

const clients: XmppClient[] = [];
let romeo: Party;
let juliet: Party;

beforeAll(async () => {
  const [r, j] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit" }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
  ]);
  clients.push(r, j);
  romeo = await partyOn(fromXmppClient(r), { pins: ["juliet@capulet.lit"] });
  juliet = await partyOn(fromXmppClient(j), { pins: ["romeo@montague.lit"] });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

afterEach(removeTempDirs);

describe("file transfer through Prosody", () => {
  it("discovers file-transfer support with sha-256 on the peer", async () => {
    const info = await queryDiscoInfo(romeo.link, juliet.link.jid);
    expect(info.features).toEqual(
      expect.arrayContaining([
        NS.JFT,
        NS.HASHES,
        "urn:xmpp:hash-function-text-names:sha-256",
        NS.XTLS_JINGLE,
      ]),
    );
  });

  it("offers, accepts and moves 512 KiB over IBB inside XTLS, verified and stored", async () => {
    const outbox = await tempDir();
    const inbox = await tempDir();
    const bytes = content(512 * 1024, 5);
    const source = join(outbox, "letter from Verona.pdf");
    await writeFile(source, bytes);

    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(juliet.link.jid, source);
    const offer = await offered;
    expect(offer.peer).toBe(romeo.link.jid);
    expect(offer).toMatchObject({
      name: "letter from Verona.pdf",
      size: bytes.length,
      mediaType: "application/pdf",
    });
    const receiving = await offer.accept({ dir: inbox });
    const progress: FileTransferProgress[] = [];
    receiving.on("progress", (p) => progress.push(p));

    const [ours, theirs] = await Promise.all([sending.done, receiving.done]);
    const digest = digestOf("sha-256", bytes).toString("base64");
    expect(ours.hash.value).toBe(digest);
    expect(theirs.hash.value).toBe(digest);
    expect(theirs.path).toBe(join(inbox, "letter from Verona.pdf"));
    expect(await readFile(theirs.path!)).toEqual(bytes);
    expect((await entries(inbox)).filter(isPartialName)).toEqual([]);
    expect(progress.at(-1)).toMatchObject({ bytes: bytes.length, total: bytes.length });
    await Promise.all([sending.session!.done, receiving.session!.done]);
    await until(() => romeo.ibb.streams.length === 0 && juliet.ibb.streams.length === 0);
  }, 120_000);

  it("a declined offer tells the sender", async () => {
    const outbox = await tempDir();
    const source = join(outbox, "unwanted.txt");
    await writeFile(source, "no, thank you");
    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(juliet.link.jid, source);
    await (await offered).decline("not now");
    await expect(sending.done).rejects.toMatchObject({ code: "declined", by: "peer" });
    await expect(sending.done).rejects.toThrow(/declined the file: not now/);
  });
});
