import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

const defaults = xtlsTestDefaults(import.meta.url, { testTimeoutMs: 30 * 60_000 });

// Both cores: the fuzz files are independent and CPU-bound.
export default defineProject({ ...defaults, test: { ...defaults.test, maxWorkers: 2 } });
