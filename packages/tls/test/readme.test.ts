// The README's examples, run verbatim (tools/test-servers/readme.js).
import { join } from "node:path";
import { readmeRunner } from "@xtls/test-servers";
import { afterAll, expect, it } from "vitest";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());

it("the README's examples type-check against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("block 1: mutual x509 over a Duplex pair; Juliet reads Romeo's words, then both close cleanly", async () => {
  const { logs } = await readme.run(1);
  expect(logs).toEqual(["TLSv1.3 true", "I take thee at thy word"]);
});

it("block 2: an X509Auth, an SrpAuth and a SasAuth are ChannelAuths", async () => {
  const { logs } = await readme.run(2);
  expect(logs).toEqual(["x509 srp sas"]);
});

it("block 3: first contact with srp pins both sides, so x509 is expected to work next time", async () => {
  const { logs } = await readme.run(3);
  expect(logs).toEqual(["srp", "trusted", "trusted"]);
});

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
