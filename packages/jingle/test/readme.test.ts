// The README's example, run verbatim (tools/test-servers/readme.js).
import { join } from "node:path";
import { readmeRunner } from "@xtls/test-servers";
import { afterAll, expect, it } from "vitest";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());

it("the README's example type-checks against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("block 1: a session with home-made plug-ins goes connecting → established → ended, both lines exchanged", async () => {
  const { logs } = await readme.run(1);
  expect(logs.slice(0, 2)).toEqual(["connecting", "established"]);
  expect(logs.slice(2, 4).sort()).toEqual([
    "juliet@capulet.lit/balcony: Good night, good night!",
    "romeo@montague.lit/orchard: Parting is such sweet sorrow",
  ]);
  expect(logs.slice(4)).toEqual(["ended"]);
});

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
