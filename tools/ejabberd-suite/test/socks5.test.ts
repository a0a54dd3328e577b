// SOCKS5 Bytestreams (@xtls/socks5) through ejabberd: its mod_proxy65 (whose streamhost
// JID carries a resource, e.g. proxy.montague.lit/70306884), direct connections signalled
// through the server, and Jingle + XTLS over the proxy.
import { fromXmppClient, NS, queryDiscoInfo, type XmppJsLink } from "@xtls/core";
import { type S5bNomination, S5bRefusedError, type S5bStream, Socks5Bytestreams } from "@xtls/socks5";
import { ejabberd } from "@xtls/test-servers";
import { partyOn, transfer } from "@xtls/testkit/parties";
import { exchange, MiB } from "@xtls/testkit/streams";
import { cleanUp, onCleanup } from "@xtls/testkit/support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, until } from "./helpers.js";

let romeoLink: XmppJsLink;
let julietLink: XmppJsLink;
let romeo: Socks5Bytestreams;
let juliet: Socks5Bytestreams;
const incoming: S5bStream[] = [];

beforeAll(async () => {
  const [r, j] = await Promise.all([connect("romeo", "montague.lit"), connect("juliet", "capulet.lit")]);
  romeoLink = fromXmppClient(r);
  julietLink = fromXmppClient(j);
  romeo = new Socks5Bytestreams(romeoLink);
  juliet = new Socks5Bytestreams(julietLink, { accept: ({ peer }) => peer === romeoLink.jid });
  juliet.on("stream", (s) => incoming.push(s));
  onCleanup(() => Promise.allSettled([romeo.close(), juliet.close()]));
});

afterAll(cleanUp);

async function nextIncoming(): Promise<S5bStream> {
  await until(() => incoming.length > 0);
  return incoming.shift()!;
}

const PROXY_JID = /^proxy\.montague\.lit\/[^/]+$/;

describe("XEP-0065 through ejabberd", () => {
  it("advertises http://jabber.org/protocol/bytestreams to a real peer", async () => {
    expect((await queryDiscoInfo(romeoLink, julietLink.jid)).features).toContain(NS.S5B);
  });

  it("discovers ejabberd's proxy65; its streamhost JID has a resource", async () => {
    const proxies = await romeo.proxies();
    expect(proxies).toEqual([
      { jid: expect.stringMatching(PROXY_JID), host: "127.0.0.1", port: ejabberd.proxy65Port },
    ]);
  });

  it("mediated through proxy65: 16 MiB each way at once, SHA-256 verified", async () => {
    const ours = await romeo.open(julietLink.jid, { direct: false });
    const theirs = await nextIncoming();
    expect([ours.mediated, theirs.mediated]).toEqual([true, true]);
    expect(ours.streamhost).toEqual({
      jid: expect.stringMatching(PROXY_JID),
      host: "127.0.0.1",
      port: ejabberd.proxy65Port,
    });
    await exchange(ours, theirs, 16 * MiB, { halfClose: false });
    ours.destroy();
    theirs.destroy();
  }, 60_000);

  it("direct (our own streamhost on loopback), signalled through ejabberd: 16 MiB each way", async () => {
    const ours = await romeo.open(julietLink.jid, { proxies: false });
    const theirs = await nextIncoming();
    expect([ours.mediated, theirs.mediated]).toEqual([false, false]);
    await exchange(ours, theirs, 16 * MiB);
  }, 60_000);

  it("a resource that is not online: ejabberd answers service-unavailable, and open() says so", async () => {
    const error = await romeo.open("juliet@capulet.lit/nowhere", { proxies: false }).catch((e) => e);
    expect(error).toBeInstanceOf(S5bRefusedError);
    expect((error as S5bRefusedError).stanzaError.condition).toBe("service-unavailable");
  });
});

describe("Jingle + XTLS over S5B through ejabberd's proxy65", () => {
  it("32 MiB with XTLS, SHA-256 verified; Romeo's proxy (JID with a resource) is nominated and activated", async () => {
    const [a, b] = await Promise.all([connect("romeo", "montague.lit"), connect("juliet", "capulet.lit")]);
    const [ra, jb] = [fromXmppClient(a), fromXmppClient(b)];
    // Only the servers' proxies, no direct candidates. Both proxies are 127.0.0.1:16000,
    // so Juliet does not re-offer Romeo's host:port (XEP-0260 §2.2): she offers nothing.
    const socks5 = { streamhost: false as const, proxies: "discover" as const };
    const r = await partyOn(ra, { pins: [jb.jid], socks5, rawBytes: true });
    const j = await partyOn(jb, { pins: [ra.jid], socks5, rawBytes: true });
    const atRomeo: S5bNomination[] = [];
    r.s5b!.on("nominated", (n) => atRomeo.push(n));
    const atJuliet: S5bNomination[] = [];
    j.s5b!.on("nominated", (n) => atJuliet.push(n));
    const t = await transfer(r, j, 32 * MiB, [r.s5b!]);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    expect(received.bytes).toBe(32 * MiB);
    await Promise.all([t.session.done, t.responder.done]);
    expect(atRomeo.map((n) => [n.by, n.candidate.type])).toEqual([["peer", "proxy"]]);
    expect(atRomeo[0]?.candidate.jid).toMatch(PROXY_JID);
    expect(atJuliet.map((n) => [n.by, n.candidate.type, n.mediated])).toEqual([["us", "proxy", true]]);
  }, 60_000);
});
