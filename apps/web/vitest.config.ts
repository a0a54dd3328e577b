import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

export default defineProject(xtlsTestDefaults(import.meta.url, { prosody: true, testTimeoutMs: 60_000 }));
