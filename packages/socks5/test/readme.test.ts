// The README's examples, run verbatim (tools/test-servers/readme.js).
import { join } from "node:path";
import { readmeRunner } from "@xtls/test-servers";
import { afterAll, expect, it } from "vitest";

const readme = readmeRunner({ readme: join(import.meta.dirname, "..", "README.md") });
afterAll(() => readme.cleanup());

it("the README's examples type-check against the API", async () => {
  expect(await readme.typecheck()).toEqual([]);
}, 120_000);

it("block 1: Juliet connects to Romeo's streamhost and pipes what he sent to stdout", async () => {
  const { stdout, logs } = await readme.run(1);
  expect(stdout).toBe("Did my heart love till now?\n");
  expect(logs).toEqual([]);
});

it("block 2: under Jingle the session runs over S5B, secured by XTLS, and Juliet reads the message", async () => {
  const { logs } = await readme.run(2);
  expect(logs).toEqual(["urn:xmpp:jingle:transports:s5b:1 true", "Did my heart love till now?"]);
});

it("every ts block of the README ran", () => {
  expect(readme.notRun()).toEqual([]);
});
