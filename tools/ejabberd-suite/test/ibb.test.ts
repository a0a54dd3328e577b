// In-Band Bytestreams (@xtls/ibb) between two real @xmpp/client connections through
// ejabberd (romeo@montague.lit and juliet@capulet.lit: two virtual hosts, no s2s).

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { fromXmppClient, NS, queryDiscoInfo, type XmppJsLink } from "@xtls/core";
import { IbbRefusedError, type IbbStream, InBandBytestreams } from "@xtls/ibb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanUp, connect, MiB, onCleanup, readAll, sha256, watchDrops } from "./helpers.js";

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

async function sendAll(stream: IbbStream, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; offset += 64 * 1024)
    if (!stream.write(data.subarray(offset, offset + 64 * 1024))) await once(stream, "drain");
  await stream.close();
}

describe("XEP-0047 through ejabberd", () => {
  it("advertises http://jabber.org/protocol/ibb to a real peer", async () => {
    expect((await queryDiscoInfo(romeoLink, julietLink.jid)).features).toContain(NS.IBB);
  });

  it("4 MiB each way at once over one bytestream, SHA-256 verified", async () => {
    const incoming = new Promise<IbbStream>((resolve) => juliet.once("stream", resolve));
    const ours = await romeo.open(julietLink.jid);
    const theirs = await incoming;
    expect(theirs.peer).toBe(romeoLink.jid);
    const toJuliet = randomBytes(4 * MiB);
    const toRomeo = randomBytes(4 * MiB + 1);
    const [atJuliet, atRomeo] = await Promise.all([
      readAll(theirs),
      readAll(ours),
      sendAll(ours, toJuliet),
      sendAll(theirs, toRomeo),
    ]);
    expect(sha256(atJuliet)).toBe(sha256(toJuliet));
    expect(sha256(atRomeo)).toBe(sha256(toRomeo));
    expect([ours.stanzasOut, theirs.stanzasIn]).toEqual([1024, 1024]);
    expect([ours.state, theirs.state]).toEqual(["closed", "closed"]);
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
