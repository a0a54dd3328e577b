// The README's examples, run verbatim (tools/test-servers/readme.js); the PEP one against
// the project's Prosody.
import { join } from "node:path";
import { fromXmppClient } from "@xtls/core";
import { connectXmppClient, readmeRunner } from "@xtls/test-servers";
import { afterAll, expect, it } from "vitest";
import { deletePublishedCertificates } from "../src/index.js";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());

it("the README's examples type-check against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("block 1: Juliet learns Romeo's user certificate through his verified laptop, then trusts his phone, not a forgery", async () => {
  const { logs } = await readme.run(1);
  expect(logs).toEqual(["1 true", "true", "false"]);
});

it("block 2: certificates published in PEP are read back, and pepResolver trusts a device the user certificate signed", async () => {
  try {
    const { logs } = await readme.run(2);
    expect(logs).toEqual(["true", "true"]);
  } finally {
    // The test server keeps PEP items: leave Juliet's node empty for the next run.
    const juliet = await connectXmppClient({ username: "juliet", domain: "capulet.lit" });
    await deletePublishedCertificates(fromXmppClient(juliet)).catch(() => {});
    await juliet.stop();
  }
}, 60_000);

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
