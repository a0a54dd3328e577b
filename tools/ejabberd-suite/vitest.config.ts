import { fileURLToPath } from "node:url";
import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

// The usual XTLS project config, with ejabberd instead of Prosody: the global setup
// starts (or shares) the test ejabberd and stops it after the last test process.
const defaults = xtlsTestDefaults(import.meta.url, { name: "ejabberd-suite" });
export default defineProject({
  ...defaults,
  test: {
    ...defaults.test,
    globalSetup: [fileURLToPath(new URL("./test/global-setup.ts", import.meta.url))],
  },
});
