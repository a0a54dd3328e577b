// The README's example, run verbatim (tools/test-servers/readme.js).
import { join } from "node:path";
import { readmeRunner } from "@xtls/test-servers";
import { afterAll, expect, it } from "vitest";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());

it("the README's example type-checks against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("block 1: Juliet receives Romeo's message through the tunnel, from restored to his full JID", async () => {
  const { logs } = await readme.run(1);
  expect(logs).toEqual(["romeo@montague.lit/orchard I take thee at thy word"]);
});

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
