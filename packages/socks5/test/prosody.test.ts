// SOCKS5 Bytestreams between two real @xmpp/client connections through the project's
// Prosody (romeo@montague.lit and juliet@capulet.lit: two virtual hosts, no s2s), with
// Prosody's own mod_proxy65 (and the project's mod_proxy65_flush, see README).
import { fromXmppClient, NS, queryDiscoInfo, type XmppJsLink } from "@xtls/core";
import { connectXmppClient, prosody, type XmppClient } from "@xtls/test-servers";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type S5bNomination, S5bRefusedError, type S5bStream, Socks5Bytestreams } from "../src/index.js";
import { cleanUp, exchange, payload, readAll, sendAll, sha256 } from "./helpers.js";
import { type Party, partyOn, transfer } from "./jingle-helpers.js";

const MiB = 1024 * 1024;
const clients: XmppClient[] = [];
let romeoLink: XmppJsLink;
let julietLink: XmppJsLink;
let romeo: Socks5Bytestreams;
let juliet: Socks5Bytestreams;
let incoming: S5bStream[] = [];

beforeAll(async () => {
  const [r, j] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit" }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
  ]);
  clients.push(r, j);
  romeoLink = fromXmppClient(r);
  julietLink = fromXmppClient(j);
  romeo = new Socks5Bytestreams(romeoLink);
  juliet = new Socks5Bytestreams(julietLink, { accept: ({ peer }) => peer === romeoLink.jid });
  juliet.on("stream", (s) => incoming.push(s));
});

afterEach(cleanUp);

afterAll(async () => {
  await Promise.allSettled([romeo?.close(), juliet?.close()]);
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

async function nextIncoming(): Promise<S5bStream> {
  const t0 = Date.now();
  while (incoming.length === 0) {
    if (Date.now() - t0 > 10_000) throw new Error("no incoming bytestream");
    await new Promise((r) => setTimeout(r, 5));
  }
  return incoming.shift()!;
}

describe("XEP-0065 through Prosody", () => {
  it("advertises http://jabber.org/protocol/bytestreams to a real peer", async () => {
    expect((await queryDiscoInfo(romeoLink, julietLink.jid)).features).toContain(NS.S5B);
  });

  it("discovers the server's proxy65: disco#items, identity proxy/bytestreams, its streamhost", async () => {
    expect(await romeo.proxies()).toEqual([
      { jid: "proxy.montague.lit", host: "127.0.0.1", port: prosody.proxy65Port },
    ]);
  });

  it("mediated through proxy65: 16 MiB each way at once, SHA-256 verified", async () => {
    incoming = [];
    const ours = await romeo.open(julietLink.jid, { direct: false });
    const theirs = await nextIncoming();
    expect([ours.mediated, theirs.mediated]).toEqual([true, true]);
    expect(ours.streamhost).toEqual({
      jid: "proxy.montague.lit",
      host: "127.0.0.1",
      port: prosody.proxy65Port,
    });
    // proxy65 has no half-close: the first FIN ends both directions (README). So both
    // directions are read to their known length before anyone ends; then Romeo's end
    // reaches Juliet as her end of stream (the relay closes her side).
    await exchange(ours, theirs, 16 * MiB, { halfClose: false });
  }, 60_000);

  it("mediated, one way: 16 MiB Romeo → Juliet, and Romeo's end() is Juliet's end of stream", async () => {
    incoming = [];
    const ours = await romeo.open(julietLink.jid, { direct: false });
    const theirs = await nextIncoming();
    const data = payload(16 * MiB);
    const [received] = await Promise.all([readAll(theirs), sendAll(ours, data)]);
    expect(sha256(received)).toBe(sha256(data));
  }, 60_000);

  it("direct (our own streamhost on loopback), signalled through the server: 16 MiB each way", async () => {
    incoming = [];
    const ours = await romeo.open(julietLink.jid, { proxies: false });
    const theirs = await nextIncoming();
    expect([ours.mediated, theirs.mediated]).toEqual([false, false]);
    await exchange(ours, theirs, 16 * MiB);
  }, 60_000);

  it("a resource that is not online: the server answers for it, and open() says so", async () => {
    const error = await romeo.open("juliet@capulet.lit/nowhere", { proxies: false }).catch((e) => e);
    expect(error).toBeInstanceOf(S5bRefusedError);
    expect(["service-unavailable", "recipient-unavailable"]).toContain(
      (error as S5bRefusedError).stanzaError.condition,
    );
  });
});

describe("Jingle + XTLS over S5B through Prosody's proxy65", () => {
  let r: Party;
  let j: Party;
  let links: XmppJsLink[] = [];

  beforeAll(async () => {
    const [a, b] = await Promise.all([
      connectXmppClient({ username: "romeo", domain: "montague.lit" }),
      connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
    ]);
    clients.push(a, b);
    links = [fromXmppClient(a), fromXmppClient(b)];
  });

  it("64 MiB through proxy65 with XTLS, SHA-256 verified; Romeo's proxy is nominated and activated by him", async () => {
    // No direct candidates: only the servers' proxies. Both proxies are 127.0.0.1:15000,
    // so Juliet must not re-offer Romeo's host:port (XEP-0260 §2.2): she offers nothing.
    const [romeoLink2, julietLink2] = links as [XmppJsLink, XmppJsLink];
    r = await partyOn(romeoLink2, {
      pins: [julietLink2.jid],
      socks5: { streamhost: false, proxies: "discover" },
    });
    j = await partyOn(julietLink2, {
      pins: [romeoLink2.jid],
      socks5: { streamhost: false, proxies: "discover" },
    });
    const atRomeo: S5bNomination[] = [];
    r.s5b.on("nominated", (n) => atRomeo.push(n));
    const atJuliet: S5bNomination[] = [];
    j.s5b.on("nominated", (n) => atJuliet.push(n));
    const t = await transfer(r, j, 64 * MiB);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    expect(received.bytes).toBe(64 * MiB);
    await Promise.all([t.session.done, t.responder.done]);
    expect(atRomeo.map((n) => [n.by, n.candidate.type, n.candidate.jid])).toEqual([
      ["peer", "proxy", "proxy.montague.lit"],
    ]);
    expect(atJuliet.map((n) => [n.by, n.candidate.type, n.mediated])).toEqual([["us", "proxy", true]]);
  }, 120_000);
});
