import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

const defaults = xtlsTestDefaults(import.meta.url, { testTimeoutMs: 30 * 60_000 });

// Both cores when run by hand (the fuzz files are independent and CPU-bound); under `pnpm test`
// the workers it is given (XTLS_TEST_WORKERS, already in the defaults).
export default defineProject({
  ...defaults,
  test: { ...defaults.test, maxWorkers: defaults.test?.maxWorkers ?? 2 },
});
