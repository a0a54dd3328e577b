import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

// The usual XTLS project config, with the shared test Prosody (@xtls/client's README example
// logs in to it). One test file: the steps share one registry and one install per consumer,
// in order. The longest step is an npm install of @xmpp/client's tree on a cold cache.
const defaults = xtlsTestDefaults(import.meta.url, { prosody: true, testTimeoutMs: 300_000 });
export default defineProject({ ...defaults, test: { ...defaults.test, fileParallelism: false } });
