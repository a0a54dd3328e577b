// vitest globalSetup: the suite's own federated servers (src/servers.js), started for this run
// and stopped after it. When the machine lacks something (not root and no Prosody/ejabberd,
// no loopback test address), it says exactly what and the tests are skipped, not failed.
import type { TestProject } from "vitest/node";
import { federationLogs, missing, startFederation, stopFederation } from "../src/servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    federationMissing: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const { ensureInstalled } = await import("../src/servers.js");
  ensureInstalled();
  const lacks = await missing();
  project.provide("federationMissing", lacks ?? "");
  if (lacks) {
    process.stderr.write(`[federation] SKIPPED: ${lacks}\n`);
    return undefined;
  }
  try {
    await startFederation();
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${federationLogs()}`);
  }
  return async () => {
    await stopFederation();
  };
}
