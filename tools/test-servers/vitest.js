import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { deadlines } from "./deadlines.js";

const GLOBAL_SETUP = fileURLToPath(new URL("./global-setup.js", import.meta.url));
// Resolve workspace packages to their TypeScript sources: no build needed to test.
const CONDITIONS = ["@xtls/source", "module", "node", "development|production"];

/**
 * Test workers of one package's vitest run: `pnpm test` (scripts/test.mjs) sets
 * XTLS_TEST_WORKERS so that all the packages it runs at once never ask for more workers than
 * the machine has cores; a package run by hand keeps vitest's own default.
 */
const workers = Number(process.env.XTLS_TEST_WORKERS) || undefined;

/** The vitest project config every XTLS package uses. */
export function xtlsTestDefaults(configUrl, options = {}) {
  const root = dirname(fileURLToPath(configUrl));
  const ci = process.env.CI === "true" || process.env.CI === "1";
  return {
    resolve: { conditions: CONDITIONS },
    ssr: { resolve: { conditions: CONDITIONS, externalConditions: ["@xtls/source"] } },
    test: {
      name: options.name ?? basename(root),
      root,
      include: ["test/**/*.test.ts"],
      testTimeout: options.testTimeoutMs ?? deadlines.testMs,
      hookTimeout: deadlines.hookMs,
      // vitest's default for expect.poll is 1 s: a busy machine missed it.
      expect: { poll: { timeout: deadlines.pollMs } },
      ...(workers ? { maxWorkers: workers } : {}),
      globalSetup: options.prosody ? [GLOBAL_SETUP] : [],
      reporters: ["default", "json"],
      // XTLS_VITEST_JSON: a nested run (a README command run by a test) must not overwrite the
      // package's own report, which `pnpm test` sums up.
      outputFile: { json: process.env.XTLS_VITEST_JSON ?? "test-results/vitest.json" },
      ...(ci ? { retry: 0 } : {}),
    },
  };
}
