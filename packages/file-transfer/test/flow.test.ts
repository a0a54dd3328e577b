// XEP-0234 file transfer inside XTLS on the embedded router: Jingle + XtlsSecurity +
// IBB, the digest delivered in the tunnel, the file stored only once verified.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { LocalRouter, NS, queryDiscoInfo } from "@xtls/core";
import type { ContentContext } from "@xtls/jingle";
import { pairOnRouter } from "@xtls/testkit/parties";
import { afterEach, describe, expect, it } from "vitest";
import {
  digestOf,
  type FileTransferProgress,
  type FileTransferState,
  type IncomingFileTransfer,
  isPartialName,
} from "../src/index.js";
import {
  content,
  entries,
  JULIET,
  nextOffer,
  partyOn,
  ROMEO,
  removeTempDirs,
  tempDir,
  until,
} from "./helpers.js";

let router: LocalRouter;
afterEach(async () => {
  router?.close();
  await removeTempDirs();
});

async function scene() {
  router = new LocalRouter();
  return pairOnRouter(router, [ROMEO, JULIET], partyOn);
}

describe("file transfer over IBB inside XTLS on the embedded router", () => {
  it("offers, accepts, transfers, verifies the in-tunnel sha-256 and stores the file under its name", async () => {
    const { wire, romeo, juliet } = await scene();
    const outbox = await tempDir();
    const inbox = await tempDir();
    const bytes = Buffer.concat([Buffer.from("BALCONY-SCENE-MARKER "), content(300 * 1024 - 21)]);
    const source = join(outbox, "balcony.txt");
    await writeFile(source, bytes);
    const date = new Date("1597-01-01T00:00:00Z");

    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(JULIET, source, { date, desc: "the second act" });
    const offer = await offered;
    expect(offer.peer).toBe(ROMEO);
    expect(offer.name).toBe("balcony.txt");
    expect(offer.size).toBe(bytes.length);
    expect(offer.mediaType).toBe("text/plain");
    expect(offer.date?.toISOString()).toBe(date.toISOString());
    expect(offer.desc).toBe("the second act");
    expect(offer.hashAlgorithm).toBe("sha-256");

    const receiving = await offer.accept({ dir: inbox });
    const sent: FileTransferProgress[] = [];
    const received: FileTransferProgress[] = [];
    const states: FileTransferState[] = [];
    sending.on("progress", (p) => sent.push(p));
    receiving.on("progress", (p) => received.push(p));
    receiving.on("state", (s) => states.push(s));

    const [ours, theirs] = await Promise.all([sending.done, receiving.done]);
    const digest = digestOf("sha-256", bytes).toString("base64");
    expect(ours).toMatchObject({ name: "balcony.txt", size: bytes.length, peer: JULIET });
    expect(ours.hash).toEqual({ algo: "sha-256", value: digest });
    expect(theirs).toMatchObject({ name: "balcony.txt", size: bytes.length, peer: ROMEO });
    expect(theirs.hash).toEqual(ours.hash);
    expect(theirs.path).toBe(join(inbox, "balcony.txt"));
    expect(await readFile(join(inbox, "balcony.txt"))).toEqual(bytes);
    expect(await entries(inbox)).toEqual(["balcony.txt"]);
    expect(states).toEqual(["transferring", "verifying", "completed"]);

    // Progress on both sides: growing, ending at the size.
    for (const series of [sent, received]) {
      expect(series.length).toBeGreaterThan(0);
      expect(series.at(-1)).toMatchObject({ bytes: bytes.length, total: bytes.length });
      expect(series.map((p) => p.bytes)).toEqual([...series.map((p) => p.bytes)].sort((a, b) => a - b));
      expect(series.every((p) => p.rate >= 0)).toBe(true);
    }

    await Promise.all([sending.session!.done, receiving.session!.done]);
    expect(romeo.manager.sessions).toEqual([]);
    expect(juliet.manager.sessions).toEqual([]);
    await until(() => romeo.ibb.streams.length === 0 && juliet.ibb.streams.length === 0);

    // The offer named the algorithm only; the digest and the octets never crossed the
    // router in the clear.
    const initiate = wire.find(
      (e) => e.stanza.getChild("jingle", NS.JINGLE)?.attrs.action === "session-initiate",
    )!;
    const content0 = initiate.stanza.getChild("jingle", NS.JINGLE)!.getChild("content")!;
    expect(content0.attrs.senders).toBe("initiator");
    const file = content0.getChild("description", NS.JFT)!.getChild("file")!;
    expect(file.getChild("hash-used", NS.HASHES)?.attrs.algo).toBe("sha-256");
    expect(file.getChild("hash", NS.HASHES)).toBeUndefined();
    expect(content0.getChild("security", NS.XTLS_JINGLE)).toBeDefined();
    const hex = digestOf("sha-256", bytes).toString("hex");
    for (const e of wire) {
      expect(e.wire).not.toContain(digest);
      expect(e.wire).not.toContain(hex);
      expect(e.wire).not.toContain("BALCONY-SCENE-MARKER");
      expect(e.wire).not.toContain(Buffer.from("BALCONY-SCENE-MARKER ").toString("base64").slice(0, 24));
      expect(e.stanza.getChild("jingle", NS.JINGLE)?.attrs.action).not.toBe("session-info");
    }
    const terminates = wire.filter(
      (e) => e.stanza.getChild("jingle", NS.JINGLE)?.attrs.action === "session-terminate",
    );
    expect(
      terminates.map((e) => e.stanza.getChild("jingle")!.getChild("reason")!.getChildElements()[0]!.name),
    ).toEqual(["success"]);
  });

  it("sends a stream of known size, and a second file of the same name lands beside the first", async () => {
    const { romeo, juliet } = await scene();
    const inbox = await tempDir();
    await writeFile(join(inbox, "notes.txt"), "already here");
    const bytes = Buffer.from("XTLS test file\n");
    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(JULIET, Readable.from([bytes]), {
      name: "notes.txt",
      size: bytes.length,
      mediaType: "text/plain",
    });
    const receiving = await (await offered).accept({ dir: inbox });
    const [ours, theirs] = await Promise.all([sending.done, receiving.done]);
    // docs/protocol/test-vectors.md#file-hash-and-ibb-chunk
    expect(ours.hash.value).toBe("VWQaMhDZ35QyjjcYPHj87IirujN/Hrpay97Do27R0hI=");
    expect(theirs.path).toBe(join(inbox, "notes (1).txt"));
    expect(await readFile(join(inbox, "notes.txt"), "utf8")).toBe("already here");
    expect(await readFile(join(inbox, "notes (1).txt"), "utf8")).toBe("XTLS test file\n");
    expect((await entries(inbox)).filter(isPartialName)).toEqual([]);
  });

  it("transfers an empty file", async () => {
    const { romeo, juliet } = await scene();
    const outbox = await tempDir();
    const inbox = await tempDir();
    await writeFile(join(outbox, "empty.bin"), "");
    const offered = nextOffer(juliet);
    const sending = await romeo.files.sendFile(JULIET, join(outbox, "empty.bin"));
    const offer = await offered;
    expect(offer.size).toBe(0);
    const receiving = await offer.accept({ path: join(inbox, "renamed.bin") });
    const [, theirs] = await Promise.all([sending.done, receiving.done]);
    expect(theirs.path).toBe(join(inbox, "renamed.bin"));
    expect(await readFile(join(inbox, "renamed.bin"))).toEqual(Buffer.alloc(0));
    expect(await entries(inbox)).toEqual(["renamed.bin"]);
  });

  it("the application format alone accepts into its directory, for code that drives the manager", async () => {
    router = new LocalRouter();
    const inbox = await tempDir();
    const romeo = await partyOn(router.createLink(ROMEO), { pins: [JULIET] });
    const juliet = await partyOn(router.createLink(JULIET), { pins: [ROMEO], autoAcceptDir: inbox });
    juliet.files.close();
    const accepted = new Promise<IncomingFileTransfer>((resolve) => {
      juliet.manager.on("incoming", async ({ session, description, application }) => {
        const ctx = { sid: session.sid, role: "responder", peer: session.peer } as unknown as ContentContext;
        const transfer = (await application!.accept(ctx, description)) as IncomingFileTransfer;
        transfer.attach(session);
        await session.accept({ application: transfer });
        resolve(transfer);
      });
    });
    const bytes = Buffer.from("Parting is such sweet sorrow");
    const sending = await romeo.files.sendFile(JULIET, Readable.from([bytes]), {
      name: "sorrow.txt",
      size: bytes.length,
    });
    const receiving = await accepted;
    const [, theirs] = await Promise.all([sending.done, receiving.done]);
    expect(theirs.path).toBe(join(inbox, "sorrow.txt"));
    expect(await readFile(join(inbox, "sorrow.txt"))).toEqual(bytes);
  });

  it("advertises the file-transfer, hashes and sha-256 features", async () => {
    const { romeo } = await scene();
    const info = await queryDiscoInfo(romeo.link, JULIET);
    expect(info.features).toEqual(
      expect.arrayContaining([
        NS.JINGLE,
        NS.JFT,
        NS.HASHES,
        "urn:xmpp:hash-function-text-names:sha-256",
        NS.XTLS_JINGLE,
        NS.JINGLE_IBB,
      ]),
    );
  });
});
