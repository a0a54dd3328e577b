// The library across federation (@xtls/client's facade and @xtls/iq-tunnel): romeo@montague.lit
// on the Prosody, juliet@capulet.lit on the ejabberd, every stanza over s2s, STARTTLS with the
// suite's CA (NODE_EXTRA_CA_CERTS, set by vitest.config.ts for the test processes). A 1 MiB
// file over IBB (every block an IQ through both servers), a file over SOCKS5 through the
// proxy65 of the other domain (the activation IQ crosses s2s), and a Mode Q tunnel.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createXtls, type Xtls, type XtlsOptions } from "@xtls/client";
import { type Element, fromXmppClient, NS, streamManagementSettled, xml } from "@xtls/core";
import { type IqTunnel, IqTunnelService } from "@xtls/iq-tunnel";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { createIdentity, MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { capulet, type FederatedServer, montague } from "../src/servers.js";

const missing = inject("federationMissing");
const MiB = 1024 * 1024;
const sha256 = async (data: Buffer) =>
  (await import("node:crypto")).createHash("sha256").update(data).digest("hex");

let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "xtls-federation-facade-"));
  await mkdir(join(dir, "inbox"));
});

afterEach(async () => {
  await Promise.allSettled(
    cleanups
      .splice(0)
      .reverse()
      .map((c) => c()),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function connect(server: FederatedServer, username: string): Promise<XmppClient> {
  const client = await connectXmppClient({
    service: server.service,
    domain: server.domain,
    username,
    password: server.password,
    // @xmpp/client's default of 2 s per login step (the stream restart after STARTTLS) timed
    // out on a loaded machine.
    timeout: 10_000,
  });
  await streamManagementSettled(client);
  cleanups.push(() => client.stop());
  return client;
}

async function pair(options: XtlsOptions = {}) {
  const [r, j] = await Promise.all([connect(montague, "romeo"), connect(capulet, "juliet")]);
  let asked = 0;
  const askPassword = async () => {
    asked++;
    return "wherefore-1597";
  };
  const juliet: Xtls = await createXtls(j, { dir: join(dir, "juliet"), askPassword, ...options });
  const romeo: Xtls = await createXtls(r, { dir: join(dir, "romeo"), askPassword, ...options });
  cleanups.push(() => Promise.allSettled([romeo.close(), juliet.close()]));
  const refused: unknown[] = [];
  juliet.on("file", (offer) => void offer.accept({ dir: join(dir, "inbox") }).catch((e) => refused.push(e)));
  return { romeo, juliet, refused, asked: () => asked };
}

describe.skipIf(missing)(
  "@xtls/client across federation (Prosody montague.lit ⇄ ejabberd capulet.lit)",
  () => {
    it("a 1 MiB file over IBB only: first contact with srp, SHA-256 verified", async () => {
      const { romeo, juliet, refused } = await pair({ socks5: false });
      const data = randomBytes(MiB);
      await writeFile(join(dir, "ibb.bin"), data);
      const t0 = Date.now();
      const transfer = await romeo.sendFile(juliet.link.jid, join(dir, "ibb.bin"));
      const result = await transfer.done;
      const ms = Date.now() - t0;
      expect(transfer.session?.transportNamespace).toBe(NS.JINGLE_IBB);
      expect(result.size).toBe(MiB);
      expect(await sha256(await readFile(join(dir, "inbox", "ibb.bin")))).toBe(await sha256(data));
      expect(refused).toEqual([]);
      process.stderr.write(`[federation] 1 MiB over IBB across s2s (first contact included): ${ms} ms\n`);
    });

    it("a file over SOCKS5 through the proxy65 of montague.lit (Prosody), which juliet@capulet.lit reaches across domains; no password the second time", async () => {
      const { romeo, juliet, refused, asked } = await pair({
        socks5: {
          streamhost: false,
          proxies: [
            {
              jid: montague.proxy ?? "proxy.montague.lit",
              host: montague.address,
              port: montague.proxy65Port,
            },
          ],
        },
      });
      const data = randomBytes(512 * 1024);
      await writeFile(join(dir, "s5b.bin"), data);
      const transfer = await romeo.sendFile(juliet.link.jid, join(dir, "s5b.bin"));
      await transfer.done;
      expect(transfer.session?.transportNamespace).toBe(NS.JINGLE_S5B);
      expect(await sha256(await readFile(join(dir, "inbox", "s5b.bin")))).toBe(await sha256(data));
      expect(asked()).toBe(0); // pinned by the first test's srp, kept on disk
      expect(refused).toEqual([]);
    });

    it("through the proxy65 of capulet.lit (ejabberd, `access: local`), which refuses romeo@montague.lit, the transfer falls back to IBB and the file still arrives", async () => {
      const { romeo, juliet, refused } = await pair({
        socks5: {
          streamhost: false,
          proxies: [
            { jid: capulet.proxy ?? "proxy.capulet.lit", host: capulet.address, port: capulet.proxy65Port },
          ],
        },
      });
      const data = randomBytes(256 * 1024);
      await writeFile(join(dir, "fallback.bin"), data);
      const transfer = await romeo.sendFile(juliet.link.jid, join(dir, "fallback.bin"));
      await transfer.done;
      expect(transfer.session?.transportNamespace).toBe(NS.JINGLE_IBB);
      expect(await sha256(await readFile(join(dir, "inbox", "fallback.bin")))).toBe(await sha256(data));
      expect(refused).toEqual([]);
    });
  },
);

describe.skipIf(missing)("Mode Q (urn:xmpp:tmp:xtls) across federation", () => {
  it("a tunnel opens (TLS 1.3, both certificates pinned), a message each way and an IQ through it, then closes cleanly", async () => {
    const [r, j] = await Promise.all([connect(montague, "romeo"), connect(capulet, "juliet")]);
    const side = (client: XmppClient) => {
      const link = fromXmppClient(client);
      const identity = createIdentity(link.jid);
      const trust = new MemoryTrustStore();
      return { link, identity, trust, engine: new NodeTlsEngine({ identity, trustStore: trust }) };
    };
    const romeo = side(r);
    const juliet = side(j);
    await romeo.trust.pin(juliet.identity.jid, juliet.identity.fingerprint, { method: "manual" });
    await juliet.trust.pin(romeo.identity.jid, romeo.identity.fingerprint, { method: "manual" });
    const romeoService = new IqTunnelService(romeo.link, { engine: romeo.engine });
    const julietService = new IqTunnelService(juliet.link, { engine: juliet.engine });
    cleanups.push(() => Promise.allSettled([romeoService.close(), julietService.close()]));
    const incoming = new Promise<IqTunnel>((resolve, reject) => {
      julietService.once("tunnel", resolve);
      julietService.once("failed", ({ error }: { error: unknown }) => reject(error));
    });
    const ours = await romeoService.open(juliet.link.jid);
    const theirs = await incoming;
    expect(ours.channel?.protocol).toBe("TLSv1.3");
    expect(ours.peer?.fingerprint).toBe(juliet.identity.fingerprint);
    expect(theirs.peer?.fingerprint).toBe(romeo.identity.fingerprint);
    const next = (t: IqTunnel) => new Promise<Element>((resolve) => t.once("stanza", resolve));
    theirs.handle("get", "jabber:iq:version", "query", () =>
      xml("query", { xmlns: "jabber:iq:version" }, xml("name", {}, "federation suite")),
    );
    const atJuliet = next(theirs);
    await ours.send(
      xml(
        "message",
        { type: "chat" },
        xml("body", {}, "With love's light wings did I o'er-perch these walls"),
      ),
    );
    expect((await atJuliet).getChildText("body")).toBe(
      "With love's light wings did I o'er-perch these walls",
    );
    const atRomeo = next(ours);
    await theirs.send(
      xml("message", { type: "chat" }, xml("body", {}, "If they do see thee, they will murder thee")),
    );
    expect((await atRomeo).getChildText("body")).toBe("If they do see thee, they will murder thee");
    const version = await ours.request(
      xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:version" })),
    );
    expect(version.getChild("query", "jabber:iq:version")?.getChildText("name")).toBe("federation suite");
    const closed = new Promise<Error | undefined>((resolve) => theirs.once("close", resolve));
    await ours.close();
    expect(await closed).toBeUndefined();
  });
});
