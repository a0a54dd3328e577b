import type { UserConfig } from "vitest/config";
export interface XtlsTestOptions {
  /** The package has integration tests against the shared test Prosody. */
  prosody?: boolean;
  name?: string;
  testTimeoutMs?: number;
}
export function xtlsTestDefaults(configUrl: string, options?: XtlsTestOptions): UserConfig;
