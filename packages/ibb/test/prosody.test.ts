// In-Band Bytestreams between two real @xmpp/client connections through the project's
// Prosody (romeo@montague.lit and juliet@capulet.lit: two virtual hosts, no s2s).
import { fromXmppClient, NS, queryDiscoInfo, type XmppJsLink } from "@xtls/core";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { ibbFlow } from "@xtls/testkit/flows";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IbbRefusedError, InBandBytestreams } from "../src/index.js";

const clients: XmppClient[] = [];
let romeoLink: XmppJsLink;
let julietLink: XmppJsLink;
let romeo: InBandBytestreams;
let juliet: InBandBytestreams;

beforeAll(async () => {
  const [r, j] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit" }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
  ]);
  clients.push(r, j);
  romeoLink = fromXmppClient(r);
  julietLink = fromXmppClient(j);
  romeo = new InBandBytestreams(romeoLink);
  juliet = new InBandBytestreams(julietLink, { accept: ({ peer }) => peer === romeoLink.jid });
});

afterAll(async () => {
  await Promise.allSettled([romeo?.close(), juliet?.close()]);
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

describe("XEP-0047 through Prosody", () => {
  it("advertises http://jabber.org/protocol/ibb to a real peer", async () => {
    expect((await queryDiscoInfo(romeoLink, julietLink.jid)).features).toContain(NS.IBB);
  });

  it("4 MiB each way at once over one bytestream, SHA-256 verified", async () => {
    await ibbFlow({ ibb: romeo, link: romeoLink }, { ibb: juliet, link: julietLink });
  }, 120_000);

  it("Juliet's policy declines a peer it does not know: not-acceptable through the server", async () => {
    const nurse = await connectXmppClient({ username: "nurse", domain: "capulet.lit" });
    clients.push(nurse);
    const service = new InBandBytestreams(fromXmppClient(nurse));
    const error = await service.open(julietLink.jid).catch((e) => e);
    expect(error).toBeInstanceOf(IbbRefusedError);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("not-acceptable");
    await service.close();
  });

  it("a resource that is not online: the server answers for it, and open() says so", async () => {
    const error = await romeo.open("juliet@capulet.lit/nowhere").catch((e) => e);
    expect(error).toBeInstanceOf(IbbRefusedError);
    expect(["service-unavailable", "recipient-unavailable"]).toContain(
      (error as IbbRefusedError).stanzaError.condition,
    );
  });
});
