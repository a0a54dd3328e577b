import { defineProject } from "vitest/config";
import { xtlsTestDefaults } from "./vitest.js";

// The commands of the READMEs start their own servers (other ports, other folders), so no
// shared Prosody here.
export default defineProject(xtlsTestDefaults(import.meta.url, { testTimeoutMs: 120_000 }));
