// vitest globalSetup for packages with Prosody integration tests: shares one server
// across every test process (see prosody.js).
import { acquireProsody, releaseProsody } from "./prosody.js";

export default async function setup() {
  if (process.env.XTLS_SKIP_PROSODY === "1") return;
  await acquireProsody();
  return async () => {
    await releaseProsody();
  };
}
