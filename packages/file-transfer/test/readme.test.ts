// The README's example, run verbatim (tools/test-servers/readme.js) in a temporary directory
// that holds ./notes.txt and ./inbox.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readmeRunner } from "@xtls/test-servers";
import { afterAll, afterEach, expect, it } from "vitest";
import { entries, removeTempDirs, tempDir } from "./helpers.js";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());
afterEach(removeTempDirs);

it("the README's example type-checks against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("runs the README example: Juliet is offered notes.txt, stores it once verified, Romeo learns its hash", async () => {
  const here = await tempDir();
  await mkdir(join(here, "inbox"));
  await writeFile(join(here, "notes.txt"), "Wherefore art thou Romeo?\n");

  const { logs } = await readme.run(1, { cwd: here });

  expect(logs[0]).toBe("romeo@montague.lit/orchard offers notes.txt (26 octets, text/plain)");
  expect(logs).toContain("26/26 at 0 B/s");
  expect(logs).toContain(`stored at ${join(here, "inbox", "notes.txt")}`);
  expect(logs.at(-1)).toMatch(/^delivered, sha-256 [A-Za-z0-9+/]{43}=$/);
  expect(await entries(join(here, "inbox"))).toEqual(["notes.txt"]);
});

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
