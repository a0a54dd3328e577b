// The README's example, exactly as written there (checked below), run against the project's
// Prosody in a temporary directory.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error -- @xmpp/client ships no type declarations.
import { client } from "@xmpp/client";
import { prosody, readmeBlocks } from "@xtls/test-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createXtls } from "../src/index.js";

const README = join(import.meta.dirname, "..", "README.md");
const ROOT_README = join(import.meta.dirname, "..", "..", "..", "README.md");
const SELF = import.meta.filename;
let cwd: string;
let dir: string;

beforeAll(async () => {
  cwd = process.cwd();
  dir = await mkdtemp(join(tmpdir(), "xtls-client-readme-"));
  process.chdir(dir);
  await writeFile("sonnet.txt", "Shall I compare thee to a summer's day?\n");
});

afterAll(async () => {
  process.chdir(cwd);
  await rm(dir, { recursive: true, force: true });
});

/** The code between `// begin <name>` and `// end <name>` in this file. */
async function marked(name: string): Promise<string> {
  const text = await readFile(SELF, "utf8");
  const start = text.indexOf(`// begin ${name}\n`) + `// begin ${name}\n`.length;
  return text.slice(start, text.indexOf(`// end ${name}`, start));
}

/** Code without imports, comments and formatting (the formatter may wrap lines and add trailing commas). */
function normalise(code: string): string {
  return code
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("import ") && !l.startsWith("//"))
    .join("")
    .replace(/\s+/g, "")
    .replace(/,([)}\]])/g, "$1");
}

it("the README example runs: a first-contact chat and a verified file, then the next session needs no password", async () => {
  const received: string[] = [];
  const console = { log: (s: string) => received.push(s) };
  {
    // --- README block 2 (Juliet) ---
    const xmpp = client({
      service: prosody.service,
      domain: "capulet.lit",
      username: "juliet",
      password: "secret",
      resource: "balcony",
    });
    xmpp.on("error", () => {});
    await xmpp.start();
    // begin juliet
    const xtls = await createXtls(xmpp, { dir: "./juliet", askPassword: async () => "wherefore-1597" });
    xtls.on("chat", async (incoming) => (await incoming.accept()).on("message", (m) => console.log(m.body)));
    xtls.on("file", (offer) => offer.accept({ dir: "./inbox" }));
    // end juliet
    await import("node:fs/promises").then((fs) => fs.mkdir("./inbox", { recursive: true }));
    cleanups.push(() => xmpp.stop());
  }
  // begin romeo
  const xmpp = client({
    service: "xmpp://127.0.0.1:15222",
    domain: "montague.lit",
    username: "romeo",
    password: "secret",
  });
  await xmpp.start();

  const xtls = await createXtls(xmpp, { dir: "./romeo", askPassword: async () => "wherefore-1597" });
  const chat = await xtls.openChat("juliet@capulet.lit/balcony");
  await (await xtls.sendFile("juliet@capulet.lit/balcony", "./sonnet.txt")).done;
  // end romeo
  cleanups.push(() => xmpp.stop());

  await chat.send("Shall I compare thee to a summer's day?");
  await expect.poll(() => received.length).toBeGreaterThan(0);
  expect(received).toEqual(["Shall I compare thee to a summer's day?"]);
  expect(await readFile("./inbox/sonnet.txt", "utf8")).toBe("Shall I compare thee to a summer's day?\n");
  expect(chat.peerIdentity?.trust.source).toBe("srp");
  await chat.close();

  // Both pinned each other on disk; the next chat is x509, no password asked.
  const trust = JSON.parse(await readFile("./romeo/trust.json", "utf8"));
  expect(JSON.stringify(trust)).toContain('"method":"srp"');
  const again = await xtls.openChat("juliet@capulet.lit/balcony");
  expect(again.peerIdentity?.trust.source).toBe("trust-store");
  await again.close();
  for (const c of cleanups.splice(0)) await c().catch(() => {});

  // What ran is what the README says (whitespace and imports aside).
  const readme = readmeBlocks(README).map((b) => normalise(b.code));
  const ran = [await marked("romeo"), await marked("juliet")].map(normalise);
  expect(ran).toEqual(readme);
  // The repository's README shows the same example (Romeo's side), character for character.
  expect(readmeBlocks(ROOT_README)[0]?.code).toBe(readmeBlocks(README)[0]?.code);
}, 60_000);

const cleanups: Array<() => Promise<unknown>> = [];
