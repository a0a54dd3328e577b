import { randomBytes } from "node:crypto";
import { deadlines } from "./deadlines.js";
import { prosody } from "./prosody.js";

/**
 * Starts an xmpp.js client under the login deadline. A login that does not finish fails
 * with what was seen: the client's status changes and the last stanzas both ways.
 */
export async function startWithin(xmpp, what, ms = deadlines.loginMs) {
  const seen = [];
  const note = (line) => {
    seen.push(line);
    if (seen.length > 12) seen.shift();
  };
  const onStatus = (status) => note(`status ${status}`);
  const onIn = (el) => note(`in  ${String(el).slice(0, 300)}`);
  const onOut = (el) => note(`out ${String(el).slice(0, 300)}`);
  xmpp.on("status", onStatus);
  xmpp.on("element", onIn);
  xmpp.on("send", onOut);
  let timer;
  try {
    await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`${what}: login not done within ${ms} ms; last seen:\n  ${seen.join("\n  ")}`));
          xmpp.stop().catch(() => {});
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    xmpp.removeListener("status", onStatus);
    xmpp.removeListener("element", onIn);
    xmpp.removeListener("send", onOut);
  }
}

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
  await startWithin(xmpp, `${username}@${domain} at ${extra.service ?? prosody.service}`);
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
