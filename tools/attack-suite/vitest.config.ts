import { fileURLToPath } from "node:url";
import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

// A Prosody of this suite's own (other ports, other directory) with the compromised-server
// module (prosody/mod_xtls_divert.lua) loaded: no other package's tests may ever run through
// it, and the fault test kills it.
process.env.PROSODY_PORT_BASE = "24000";
process.env.XTLS_PROSODY_DIR = fileURLToPath(new URL("../../.servers/prosody-attack", import.meta.url));
process.env.PROSODY_EXTRA_PLUGIN_DIR = fileURLToPath(new URL("./prosody", import.meta.url));
process.env.PROSODY_EXTRA_MODULES = "xtls_divert";

const defaults = xtlsTestDefaults(import.meta.url, { prosody: true, testTimeoutMs: 180_000 });
export default defineProject({
  ...defaults,
  // One file at a time: they share the one server and its one diversion switch.
  test: { ...defaults.test, fileParallelism: false },
});
