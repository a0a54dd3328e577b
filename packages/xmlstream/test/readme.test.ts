// The README's example, run verbatim (tools/test-servers/readme.js).
import { join } from "node:path";
import { readmeRunner } from "@xtls/test-servers";
import { afterAll, expect, it } from "vitest";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());

it("the README's example type-checks against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("block 1: a message each way, stamped with the sender's full JID, then Juliet closes the stream", async () => {
  const { logs } = await readme.run(1);
  expect(logs).toEqual([
    "romeo@montague.lit/orchard M'lady, I would be pleased to make your acquaintance.",
    "juliet@capulet.lit/balcony Art thou not Romeo, and a Montague?",
    "closed peer",
  ]);
});

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
