import { fileURLToPath } from "node:url";
import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

// A Prosody of this suite's own (other ports, other directory): the fault tests kill it,
// which must not disturb the shared one the other packages' tests use at the same time.
process.env.PROSODY_PORT_BASE = "17000";
process.env.XTLS_PROSODY_DIR = fileURLToPath(new URL("../../.servers/prosody-faults", import.meta.url));

const defaults = xtlsTestDefaults(import.meta.url, { testTimeoutMs: 180_000 });
export default defineProject({
  ...defaults,
  // One file at a time: they share (and kill) the one server.
  test: { ...defaults.test, fileParallelism: false },
});
