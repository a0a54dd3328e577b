// In-Band Bytestreams (@xtls/ibb) between two real @xmpp/client connections through
// ejabberd (romeo@montague.lit and juliet@capulet.lit: two virtual hosts, no s2s).
import { fromXmppClient, NS, queryDiscoInfo, type XmppJsLink } from "@xtls/core";
import { IbbRefusedError, InBandBytestreams } from "@xtls/ibb";
import { ibbFlow } from "@xtls/testkit/flows";
import { cleanUp, onCleanup } from "@xtls/testkit/support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, watchDrops } from "./helpers.js";

let romeoLink: XmppJsLink;
let julietLink: XmppJsLink;
let romeo: InBandBytestreams;
let juliet: InBandBytestreams;
let drops: ReturnType<typeof watchDrops>[];

beforeAll(async () => {
  const [r, j] = await Promise.all([connect("romeo", "montague.lit"), connect("juliet", "capulet.lit")]);
  drops = [watchDrops(r), watchDrops(j)];
  romeoLink = fromXmppClient(r);
  julietLink = fromXmppClient(j);
  romeo = new InBandBytestreams(romeoLink);
  juliet = new InBandBytestreams(julietLink, { accept: ({ peer }) => peer === romeoLink.jid });
  onCleanup(() => Promise.allSettled([romeo.close(), juliet.close()]));
});

afterAll(cleanUp);

describe("XEP-0047 through ejabberd", () => {
  it("advertises http://jabber.org/protocol/ibb to a real peer", async () => {
    expect((await queryDiscoInfo(romeoLink, julietLink.jid)).features).toContain(NS.IBB);
  });

  it("4 MiB each way at once over one bytestream, SHA-256 verified", async () => {
    await ibbFlow({ ibb: romeo, link: romeoLink }, { ibb: juliet, link: julietLink });
    expect(drops.map((d) => d.dropped)).toEqual([false, false]);
  }, 60_000);

  it("Juliet's policy declines a peer it does not know: not-acceptable through the server", async () => {
    const nurse = await connect("nurse", "capulet.lit");
    const service = new InBandBytestreams(fromXmppClient(nurse));
    const error = await service.open(julietLink.jid).catch((e) => e);
    expect(error).toBeInstanceOf(IbbRefusedError);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("not-acceptable");
    await service.close();
  });

  it("a resource that is not online: ejabberd answers service-unavailable, and open() says so", async () => {
    const error = await romeo.open("juliet@capulet.lit/nowhere").catch((e) => e);
    expect(error).toBeInstanceOf(IbbRefusedError);
    expect((error as IbbRefusedError).stanzaError.condition).toBe("service-unavailable");
  });
});
