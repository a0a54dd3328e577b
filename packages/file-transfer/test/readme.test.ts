// The README's example, as written there (paths moved to a temporary directory).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalRouter, type XmppLink } from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import { createJingleManager } from "@xtls/jingle";
import { XtlsSecurity } from "@xtls/jingle-xtls";
import { createIdentity, type Identity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { afterEach, expect, it } from "vitest";
import {
  advertiseFileTransfer,
  FileTransferApplication,
  type FileTransferResult,
  FileTransferService,
} from "../src/index.js";
import { entries, removeTempDirs, tempDir } from "./helpers.js";

afterEach(removeTempDirs);

it("runs the README example", async () => {
  const here = await tempDir();
  const inbox = join(here, "inbox");
  const notes = join(here, "notes.txt");
  await mkdir(inbox);
  await writeFile(notes, "Wherefore art thou Romeo?\n");
  const logged: string[] = [];
  const console = { log: (...args: unknown[]) => logged.push(args.join(" ")) };
  let received!: Promise<FileTransferResult>;

  // --- README begins ---
  async function endpoint(link: XmppLink, identity: Identity, peer: Identity) {
    const trustStore = new MemoryTrustStore();
    await trustStore.pin(peer.jid, peer.fingerprint, { method: "manual" }); // verified out of band
    const security = new XtlsSecurity({ engine: new NodeTlsEngine({ identity, trustStore }) });
    const transport = new IbbTransport({ ibb: new InBandBytestreams(link) });
    const manager = createJingleManager(link, {
      applications: [new FileTransferApplication()],
      transports: [transport],
      security: [security],
    });
    advertiseFileTransfer(link); // urn:xmpp:hashes:2, urn:xmpp:hash-function-text-names:sha-256
    return new FileTransferService(manager, { transports: [transport], security });
  }

  const router = new LocalRouter(); // or fromXmppClient(client) from @xtls/core
  const romeoId = createIdentity("romeo@montague.lit");
  const julietId = createIdentity("juliet@capulet.lit");
  const romeo = await endpoint(router.createLink("romeo@montague.lit/orchard"), romeoId, julietId);
  const juliet = await endpoint(router.createLink("juliet@capulet.lit/balcony"), julietId, romeoId);

  juliet.on("offer", async (offer) => {
    console.log(`${offer.peer} offers ${offer.name} (${offer.size} octets, ${offer.mediaType})`);
    const transfer = await offer.accept({ dir: inbox }); // or offer.decline()
    transfer.on("progress", ({ bytes, total, rate }) => console.log(`${bytes}/${total} at ${rate} B/s`));
    received = transfer.done;
    console.log("stored at", (await transfer.done).path); // only once size and sha-256 matched
  });

  const transfer = await romeo.sendFile("juliet@capulet.lit/balcony", notes);
  const { hash } = await transfer.done; // Juliet verified and stored it
  console.log("delivered,", hash.algo, hash.value);
  // --- README ends ---

  await received;
  expect(logged[0]).toBe("romeo@montague.lit/orchard offers notes.txt (26 octets, text/plain)");
  expect(logged).toContain("26/26 at 0 B/s");
  expect(logged).toContain(`stored at ${join(inbox, "notes.txt")}`);
  expect(logged.at(-1)).toMatch(/^delivered, sha-256 [A-Za-z0-9+/]{43}=$/);
  expect(await entries(inbox)).toEqual(["notes.txt"]);
  router.close();
});
