// The README's examples, run verbatim (tools/test-servers/readme.js).
import { join } from "node:path";
import { readmeRunner } from "@xtls/test-servers";
import { afterAll, expect, it } from "vitest";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());

it("the README's examples type-check against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("block 1: Juliet advertises XTLS; the session is secured before the XML stream carries the message", async () => {
  const { logs } = await readme.run(1);
  expect(logs).toEqual(["connecting", "securing", "established", "Wherefore art thou Romeo?", "ended"]);
});

it("block 2: first contact asks both users for the password (srp), the second session asks nobody", async () => {
  const { logs } = await readme.run(2);
  expect(logs.slice(0, 2).sort()).toEqual([
    "One-time password agreed with juliet@capulet.lit/balcony:",
    "One-time password agreed with romeo@montague.lit/orchard:",
  ]);
  expect(logs.slice(2)).toEqual([
    "first session: Juliet pinned as verified by srp",
    "second session: Juliet pinned as verified by srp",
  ]);
});

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
