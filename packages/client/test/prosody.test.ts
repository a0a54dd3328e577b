// The facade through the project's Prosody, against a peer (or a server) that does not play
// by the rules: a session offered in the clear.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Element, fromXmppClient, NS, type XmppLink, xml } from "@xtls/core";
import { buildJingle, parseJingle } from "@xtls/jingle";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createXtls, type RefusedSession, type Xtls } from "../src/index.js";

const clients: XmppClient[] = [];
const dirs: string[] = [];
const open: Xtls[] = [];

async function account(username: string, domain: string): Promise<XmppLink> {
  const client = await connectXmppClient({ username, domain });
  clients.push(client);
  return fromXmppClient(client);
}

async function xtlsFor(link: XmppLink, dir?: string): Promise<Xtls> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), "xtls-client-")));
  if (!dir) dirs.push(d);
  const x = await createXtls(link, { dir: d });
  open.push(x);
  return x;
}

/** Every `<jingle/>` IQ-set `link` receives, as parsed actions. */
function jingleInbox(link: XmppLink): { actions: ReturnType<typeof parseJingle>[] } {
  const inbox = { actions: [] as ReturnType<typeof parseJingle>[] };
  link.handle("set", NS.JINGLE, "jingle", async (iq) => {
    inbox.actions.push(parseJingle(iq.payload));
  });
  return inbox;
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close().catch(() => {})));
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("no application byte without end-to-end security (through Prosody)", () => {
  it("a session-initiate for a chat without <security/> is refused with security-error; no accept, no chat event", async () => {
    const juliet = await xtlsFor(await account("juliet", "capulet.lit"));
    const mallory = await account("mallory", "montague.lit");
    const inbox = jingleInbox(mallory);
    const chats: string[] = [];
    // Like `xtls chat --yes`: every chat that reaches the application is accepted.
    juliet.on("chat", (incoming) => {
      chats.push(incoming.peer);
      void incoming.accept().catch(() => {});
    });
    const refused = new Promise<RefusedSession>((resolve) => juliet.once("refused", resolve));
    const sid = "cleartext-please";
    const initiate: Element = buildJingle({
      action: "session-initiate",
      sid,
      initiator: mallory.jid,
      contents: [
        {
          creator: "initiator",
          name: "xmlstream",
          description: xml("description", { xmlns: NS.JINGLE_XMLSTREAM }),
          transport: xml("transport", { xmlns: NS.JINGLE_IBB, sid: "ibb-1", "block-size": "4096" }),
        },
      ],
    });
    // Acknowledged (XEP-0166 §6.3), then terminated.
    await mallory.request(xml("iq", { type: "set", to: juliet.link.jid }, initiate));
    expect(await refused).toEqual({
      peer: mallory.jid,
      sid,
      reason: { condition: "security-error", text: "no end-to-end security was offered" },
    });
    // Her stanzas keep their order: an accept would have come before the terminate.
    await until(() => inbox.actions.some((j) => j.action === "session-terminate"), "Juliet's terminate");
    expect(inbox.actions.map((j) => [j.action, j.sid, j.reason?.condition])).toEqual([
      ["session-terminate", sid, "security-error"],
    ]);
    expect(chats).toEqual([]);
  });
});
