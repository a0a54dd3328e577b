import { fileURLToPath } from "node:url";
import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";
import { CA_FILE } from "./src/servers.js";

// The suite's own servers (src/servers.js: a Prosody for montague.lit, an ejabberd for
// capulet.lit, federated, STARTTLS required), never the shared ones. Test processes trust the
// suite's CA the way a user's Node would: NODE_EXTRA_CA_CERTS, read by each worker as it starts
// (the global setup writes the file before any worker starts).
process.env.NODE_EXTRA_CA_CERTS = CA_FILE;

const defaults = xtlsTestDefaults(import.meta.url, { name: "federation-suite", testTimeoutMs: 120_000 });
export default defineProject({
  ...defaults,
  test: {
    ...defaults.test,
    globalSetup: [fileURLToPath(new URL("./test/global-setup.ts", import.meta.url))],
    // One file at a time: they share the two servers and the accounts.
    fileParallelism: false,
  },
});
