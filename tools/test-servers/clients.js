import { randomBytes } from "node:crypto";
import { prosody } from "./prosody.js";

/**
 * A started `@xmpp/client` 0.14 connection to the test Prosody. The resource is random
 * unless given, so parallel tests never kick each other off.
 */
export async function connectXmppClient({
  username,
  domain,
  resource,
  password = prosody.password,
  ...extra
}) {
  const { client } = await import("@xmpp/client");
  const xmpp = client({
    service: prosody.service,
    domain,
    username,
    password,
    resource: resource ?? `t${randomBytes(4).toString("hex")}`,
    ...extra,
  });
  xmpp.reconnect.stop();
  xmpp.on("error", () => {}); // surfaced through start() or the link's close events
  await xmpp.start();
  // start() resolves before stream management is enabled; traffic in between leaves
  // xmpp.js's inbound count too low (see streamManagementSettled in @xtls/core).
  const sm = xmpp.streamManagement;
  const t0 = Date.now();
  while (sm && !sm.enabled && Date.now() - t0 < 5000) {
    if (!sm.enableSent && Date.now() - t0 > 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  return xmpp;
}
