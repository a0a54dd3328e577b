// Certificates in PEP through the project's Prosody, and a session from a device nobody
// verified, trusted because the person's verified user certificate signed it.
import { fromXmppClient, type XmppLink, xml } from "@xtls/core";
import { IbbTransport, InBandBytestreams } from "@xtls/ibb";
import { createJingleManager } from "@xtls/jingle";
import { XtlsSecurity } from "@xtls/jingle-xtls";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { MemoryTrustStore, NodeTlsEngine } from "@xtls/tls";
import { XmlStreamApplication, XmlStreamSession } from "@xtls/xmlstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createUserCertificate,
  deletePublishedCertificates,
  fetchPublishedCertificates,
  issueDeviceIdentity,
  pepResolver,
  publishCertificates,
} from "../src/index.js";
import { createIdentity } from "./helpers.js";

const clients: XmppClient[] = [];
let romeoClient: XmppClient;
let julietClient: XmppClient;
let romeo: XmppLink;
let juliet: XmppLink;
const user = createUserCertificate("romeo@montague.lit");
const phone = issueDeviceIdentity(user);
const laptop = issueDeviceIdentity(user);
// Published too, but not signed by Romeo's user certificate.
const stranger = createIdentity("romeo@montague.lit");

beforeAll(async () => {
  [romeoClient, julietClient] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit", resource: "laptop" }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
  ]);
  clients.push(romeoClient, julietClient);
  romeo = fromXmppClient(romeoClient);
  juliet = fromXmppClient(julietClient);
  // Juliet subscribes to Romeo's presence, and he approves: his PEP node is for contacts.
  romeoClient.on("stanza", (s: { is(n: string): boolean; attrs: Record<string, string> }) => {
    if (s.is("presence") && s.attrs.type === "subscribe")
      void romeoClient.send(xml("presence", { to: (s.attrs.from ?? "").split("/")[0], type: "subscribed" }));
  });
  // Subscription requests reach available resources only (the test server stores none offline).
  await Promise.all([romeoClient.send(xml("presence")), julietClient.send(xml("presence"))]);
  await julietClient.send(xml("presence", { to: "romeo@montague.lit", type: "subscribe" }));
  await deletePublishedCertificates(romeo).catch(() => {}); // a clean node, whatever ran before
  await publishCertificates(romeo, [
    { certificate: user.certificate, jid: user.jid },
    { certificate: phone.certificate },
    { certificate: laptop.certificate },
    { certificate: stranger.certificate },
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

async function readable(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await fetchPublishedCertificates(juliet, "romeo@montague.lit").catch(() => [])).length >= 4) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("Romeo's PEP node never became readable for Juliet");
}

describe("certificates in PEP", () => {
  it("a contact reads them; a stranger (no subscription) cannot", async () => {
    await readable();
    const keys = await fetchPublishedCertificates(juliet, "romeo@montague.lit");
    expect(keys.map((k) => k.certificate.fingerprint256.replaceAll(":", "").toLowerCase()).sort()).toEqual(
      [user.fingerprint, phone.fingerprint, laptop.fingerprint, stranger.fingerprint].sort(),
    );
    expect(keys.find((k) => k.jid)?.jid).toBe("romeo@montague.lit");
    const nurse = await connectXmppClient({ username: "nurse", domain: "capulet.lit" });
    clients.push(nurse);
    await expect(
      fetchPublishedCertificates(fromXmppClient(nurse), "romeo@montague.lit"),
    ).rejects.toBeDefined();
  });

  it("Juliet, who verified Romeo's user certificate, accepts a session from his laptop she never saw", async () => {
    await readable();
    const julietTrust = new MemoryTrustStore();
    await julietTrust.pin("romeo@montague.lit", user.fingerprint, { method: "srp" });
    const romeoTrust = new MemoryTrustStore();
    const julietIdentity = createIdentity("juliet@capulet.lit");
    await romeoTrust.pin("juliet@capulet.lit", julietIdentity.fingerprint, { method: "manual" });

    const party = (link: XmppLink, security: XtlsSecurity) => {
      const transport = new IbbTransport({ ibb: new InBandBytestreams(link) });
      const manager = createJingleManager(link, {
        applications: [new XmlStreamApplication()],
        transports: [transport],
        security: [security],
      });
      return { manager, transport, security };
    };
    const r = party(
      romeo,
      new XtlsSecurity({ engine: new NodeTlsEngine({ identity: laptop, trustStore: romeoTrust }) }),
    );
    const j = party(
      juliet,
      new XtlsSecurity({
        engine: new NodeTlsEngine({ identity: julietIdentity, trustStore: julietTrust }),
        resolve: pepResolver(juliet, julietTrust),
      }),
    );
    const theirs = new Promise<XmlStreamSession>((resolve) =>
      j.manager.once("incoming", ({ session }) => {
        const app = new XmlStreamSession();
        void session.accept({ application: app });
        resolve(app);
      }),
    );
    const app = new XmlStreamSession();
    const session = r.manager.initiate(juliet.jid, {
      application: app,
      transports: [r.transport],
      security: r.security,
    });
    const [ours, hers] = await Promise.all([app.stream, (await theirs).stream]);
    const got = new Promise<string>((resolve) =>
      hers.once("stanza", (s) => resolve(s.getChildText("body") ?? "")),
    );
    await ours.send(xml("message", {}, xml("body", {}, "It is my lady, O, it is my love!")));
    expect(await got).toBe("It is my lady, O, it is my love!");
    const entry = (await julietTrust.entries("romeo@montague.lit")).find(
      (e) => e.fingerprint === laptop.fingerprint,
    );
    expect(entry).toMatchObject({ state: "verified", method: "pubkey" });
    await ours.close();
    await session.done;
  });

  it("a device certificate in PEP that the user certificate did not sign is not trusted", async () => {
    await readable();
    const julietTrust = new MemoryTrustStore();
    await julietTrust.pin("romeo@montague.lit", user.fingerprint, { method: "srp" });
    const resolve = pepResolver(juliet, julietTrust);
    expect(await resolve("romeo@montague.lit/laptop", { algo: "sha-256", hex: stranger.fingerprint })).toBe(
      false,
    );
    expect(await resolve("romeo@montague.lit/laptop", { algo: "sha-256", hex: phone.fingerprint })).toBe(
      true,
    );
    expect((await julietTrust.entries("romeo@montague.lit")).map((e) => e.fingerprint)).not.toContain(
      stranger.fingerprint,
    );
  });
});
