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
  return xmpp;
}
