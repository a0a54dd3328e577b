// Mode Q between two real @xmpp/client connections through the project's Prosody
// (romeo@montague.lit and juliet@capulet.lit, two virtual hosts, no s2s).
import { createHash } from "node:crypto";
import { type Element, fromXmppClient, NS, type XmppJsLink, xml } from "@xtls/core";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { createIdentity, MemoryTrustStore, NodeTlsEngine, UntrustedCertificateError } from "@xtls/tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IqTunnel, IqTunnelService } from "../src/index.js";

const clients: XmppClient[] = [];
let romeo: XmppJsLink;
let juliet: XmppJsLink;
const romeoId = createIdentity("romeo@montague.lit");
const julietId = createIdentity("juliet@capulet.lit");

beforeAll(async () => {
  const [r, j] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit" }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
  ]);
  clients.push(r, j);
  romeo = fromXmppClient(r);
  juliet = fromXmppClient(j);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

async function services(options: { window?: number; wrongPin?: boolean } = {}) {
  const romeoTrust = new MemoryTrustStore();
  const julietTrust = new MemoryTrustStore();
  await romeoTrust.pin(
    "juliet@capulet.lit",
    options.wrongPin ? createIdentity("juliet@capulet.lit").fingerprint : julietId.fingerprint,
    {
      method: "manual",
    },
  );
  await julietTrust.pin("romeo@montague.lit", romeoId.fingerprint, { method: "manual" });
  const r = new IqTunnelService(romeo, {
    engine: new NodeTlsEngine({ identity: romeoId, trustStore: romeoTrust }),
    window: options.window,
  });
  const j = new IqTunnelService(juliet, {
    engine: new NodeTlsEngine({ identity: julietId, trustStore: julietTrust }),
    window: options.window,
  });
  return { r, j, dispose: async () => Promise.all([r.close(), j.close()]) };
}

describe("Mode Q through Prosody", () => {
  it("opens a tunnel between romeo@montague.lit and juliet@capulet.lit and carries stanzas both ways", async () => {
    const { r, j, dispose } = await services();
    const incoming = new Promise<IqTunnel>((resolve) => j.once("tunnel", resolve));
    const tunnel = await r.open(juliet.jid);
    const theirs = await incoming;
    expect(tunnel.channel?.protocol).toBe("TLSv1.3");
    expect(tunnel.peer?.fingerprint).toBe(julietId.fingerprint);
    expect(theirs.peer?.fingerprint).toBe(romeoId.fingerprint);
    const got = new Promise<Element>((resolve) => theirs.once("stanza", resolve));
    await tunnel.send(xml("message", { type: "chat" }, xml("body", {}, "I take thee at thy word")));
    const msg = await got;
    expect(msg.attrs.from).toBe(romeo.jid);
    expect(msg.attrs.to).toBe(juliet.jid);
    expect(msg.getChildText("body")).toBe("I take thee at thy word");
    const reply = new Promise<Element>((resolve) => tunnel.once("stanza", resolve));
    await theirs.send(xml("message", { type: "chat" }, xml("body", {}, "Wherefore art thou Romeo?")));
    expect((await reply).getChildText("body")).toBe("Wherefore art thou Romeo?");
    const closed = new Promise<Error | undefined>((resolve) => theirs.once("close", resolve));
    await tunnel.close();
    expect(await closed).toBeUndefined();
    await dispose();
  });

  it("carries 1 MiB of stanzas intact", async () => {
    const { r, j, dispose } = await services({ window: 8 });
    const incoming = new Promise<IqTunnel>((resolve) => j.once("tunnel", resolve));
    const tunnel = await r.open(juliet.jid);
    const theirs = await incoming;
    const sent = createHash("sha256");
    const received = createHash("sha256");
    let expected = 0;
    let count = 0;
    const done = new Promise<void>((resolve) =>
      theirs.on("stanza", (s) => {
        received.update(s.getChildText("body") ?? "");
        if (++count === expected) resolve();
      }),
    );
    let bytes = 0;
    const sends: Promise<void>[] = [];
    for (let i = 0; bytes < 1024 * 1024; i++) {
      const body = `${i} ${"Call me but love, and I'll be new baptized; ".repeat(40)}`;
      sent.update(body);
      bytes += body.length;
      expected++;
      sends.push(tunnel.send(xml("message", { id: `m${i}` }, xml("body", {}, body))));
    }
    await Promise.all(sends);
    await done;
    expect(received.digest("hex")).toBe(sent.digest("hex"));
    await tunnel.close();
    await dispose();
  }, 60_000);

  it("fails on both sides when the pinned fingerprint is wrong, and nothing is delivered", async () => {
    const { r, j, dispose } = await services({ wrongPin: true });
    const julietSide = new Promise<Error | undefined>((resolve) => {
      j.once("failed", ({ error }) => resolve(error));
      j.once("tunnel", (t) => {
        t.on("stanza", () => resolve(new Error("a stanza was delivered")));
        t.once("close", resolve);
      });
    });
    await expect(r.open(juliet.jid)).rejects.toBeInstanceOf(UntrustedCertificateError);
    expect(await julietSide).toBeInstanceOf(Error);
    expect((await julietSide)?.message).not.toContain("a stanza was delivered");
    await dispose();
  });

  it("advertises urn:xmpp:tmp:xtls in disco#info", async () => {
    const { dispose } = await services();
    const { queryDiscoInfo } = await import("@xtls/core");
    expect((await queryDiscoInfo(romeo, juliet.jid)).features).toContain(NS.XTLS_IQ);
    await dispose();
  });
});
