// vitest globalSetup: shares one test ejabberd across every test process (see
// tools/test-servers/ejabberd.js), like @xtls/test-servers/global-setup does for Prosody.
import { acquireEjabberd, releaseEjabberd } from "@xtls/test-servers";

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.XTLS_SKIP_EJABBERD === "1") return undefined;
  await acquireEjabberd();
  return async () => {
    await releaseEjabberd();
  };
}
