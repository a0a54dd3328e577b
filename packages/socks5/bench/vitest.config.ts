// `npx vitest run -c bench/vitest.config.ts` (from packages/socks5): throughput, not a test.
import { xtlsTestDefaults } from "@xtls/test-servers/vitest";
import { defineProject } from "vitest/config";

const base = xtlsTestDefaults(new URL("../vitest.config.ts", import.meta.url).href, {
  prosody: true,
  testTimeoutMs: 900_000,
});

export default defineProject({
  ...base,
  test: { ...base.test, name: "socks5-bench", include: ["bench/**/*.run.ts"], reporters: ["default"] },
});
