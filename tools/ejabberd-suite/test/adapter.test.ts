// The xmpp.js adapter (@xtls/core's fromXmppClient) against ejabberd 23.01, and XEP-0198
// stream management: ejabberd closes the stream once 5000 stanzas it sent are
// unacknowledged, which xmpp.js 0.14 alone runs into (its iqCaller's results never reach
// the `h` counter, docs/peers.md#the-xmppjs-client); the adapter claims to count every stanza.
import { once } from "node:events";
import {
  fromXmppClient,
  LinkClosedError,
  NS,
  queryDiscoInfo,
  StanzaError,
  type XmppJsLink,
  xml,
} from "@xtls/core";
import { type IbbStream, InBandBytestreams } from "@xtls/ibb";
import { ejabberd, type XmppClient } from "@xtls/test-servers";
import { readAll, sha256 } from "@xtls/testkit/streams";
import { cleanUp, onCleanup } from "@xtls/testkit/support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, until, watchDrops } from "./helpers.js";

const TEST_NS = "urn:example:adapter";
let romeoClient: XmppClient;
let julietClient: XmppClient;
let romeo: XmppJsLink;
let juliet: XmppJsLink;

beforeAll(async () => {
  [romeoClient, julietClient] = await Promise.all([
    connect("romeo", "montague.lit"),
    connect("juliet", "capulet.lit"),
  ]);
  romeo = fromXmppClient(romeoClient);
  juliet = fromXmppClient(julietClient);
});

afterAll(cleanUp);

describe("xmpp.js adapter through ejabberd", () => {
  it("binds a full JID, and ejabberd enables stream management with resumption", () => {
    expect(romeo.jid).toMatch(/^romeo@montague\.lit\/t[0-9a-f]{8}$/);
    const sm = romeoClient.streamManagement;
    expect(sm.enabled).toBe(true);
    expect(sm.id).not.toBe(""); // resume="true" was granted
  });

  it("carries a request to a handler on the other client and the result back", async () => {
    juliet.handle("get", TEST_NS, "ask", (iq) => xml("answer", { xmlns: TEST_NS }, `hello ${iq.from}`));
    const result = await romeo.request(
      xml("iq", { type: "get", to: juliet.jid }, xml("ask", { xmlns: TEST_NS })),
    );
    expect(result.attrs.from).toBe(juliet.jid);
    expect(result.getChildText("answer", TEST_NS)).toBe(`hello ${romeo.jid}`);
  });

  it("answers what nobody handles with service-unavailable and thrown StanzaErrors with themselves", async () => {
    await expect(
      romeo.request(xml("iq", { type: "get", to: juliet.jid }, xml("nobody", { xmlns: TEST_NS }))),
    ).rejects.toSatisfy((e) => StanzaError.is(e, "service-unavailable"));
    juliet.handle("set", TEST_NS, "refuse", () => {
      throw new StanzaError("not-acceptable", { text: "declined" });
    });
    await expect(
      romeo.request(xml("iq", { type: "set", to: juliet.jid }, xml("refuse", { xmlns: TEST_NS }))),
    ).rejects.toSatisfy((e) => StanzaError.is(e, "not-acceptable") && (e as StanzaError).text === "declined");
  });

  it("gets ejabberd's own service-unavailable ('User session not found') for an offline full JID", async () => {
    const error = await romeo
      .request(xml("iq", { type: "get", to: "juliet@capulet.lit/offline" }, xml("ask", { xmlns: TEST_NS })))
      .catch((e) => e);
    expect(StanzaError.is(error, "service-unavailable")).toBe(true);
    expect((error as StanzaError).text).toBe("User session not found");
  });

  it("answers disco#info with an identity and registered features, and delivers messages", async () => {
    juliet.disco.addFeature(NS.XTLS_IQ);
    const info = await queryDiscoInfo(romeo, juliet.jid);
    expect(info.identities[0]).toMatchObject({ category: "client", type: "pc" });
    expect(info.features).toContain(NS.XTLS_IQ);
    const got = new Promise<string | null>((resolve) =>
      juliet.onStanza((s) => s.name === "message" && resolve(s.getChildText("body"))),
    );
    await romeo.send(xml("message", { to: juliet.jid, type: "chat" }, xml("body", {}, "but soft!")));
    expect(await got).toBe("but soft!");
  });
});

describe("XEP-0198 against ejabberd's max_ack_queue (5000)", () => {
  it("6144 IBB data IQs through one connection: every stanza counted, the stream stays open", async () => {
    const romeoDrops = watchDrops(romeoClient);
    const julietDrops = watchDrops(julietClient);
    const romeoSm = romeoClient.streamManagement;
    const julietSm = julietClient.streamManagement;
    const before = { romeo: romeoSm.inbound, juliet: julietSm.inbound };
    const ibbRomeo = new InBandBytestreams(romeo);
    const ibbJuliet = new InBandBytestreams(juliet, { accept: ({ peer }) => peer === romeo.jid });
    onCleanup(() => Promise.allSettled([ibbRomeo.close(), ibbJuliet.close()]));
    const incoming = new Promise<IbbStream>((resolve) => ibbJuliet.once("stream", resolve));
    // 1 KiB blocks: 6 MiB is 6144 <data/> IQs, 6144 results the server sends Romeo and
    // 6144 sets it sends Juliet — well past max_ack_queue on both connections.
    const ours = await ibbRomeo.open(juliet.jid, { blockSize: 1024 });
    const theirs = await incoming;
    const data = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    const received = readAll(theirs);
    for (let offset = 0; offset < data.length; offset += 64 * 1024)
      if (!ours.write(data.subarray(offset, offset + 64 * 1024))) await once(ours, "drain");
    await ours.close();
    expect(sha256(await received)).toBe(sha256(data));
    expect(ours.stanzasOut).toBe(6144);
    expect(ejabberd.maxAckQueue).toBeLessThan(6144);
    // Every result (Romeo) and every data set (Juliet) reached xmpp.js's counter…
    expect(romeoSm.inbound - before.romeo).toBeGreaterThanOrEqual(6144);
    expect(julietSm.inbound - before.juliet).toBeGreaterThanOrEqual(6144);
    // …so ejabberd, which asks for acks all along, kept both streams open.
    await romeoClient.send(xml("r", { xmlns: NS.SM }));
    await julietClient.send(xml("r", { xmlns: NS.SM }));
    const pong = await romeo.request(xml("iq", { type: "get" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(pong.attrs.type).toBe("result");
    expect([romeoDrops, julietDrops]).toEqual([
      { dropped: false, errors: [] },
      { dropped: false, errors: [] },
    ]);
    // Romeo's side asks for acks itself (SM_ACK_EVERY), so xmpp.js's queue stays short.
    await until(() => romeoSm.outbound_q.length < 200, 2000);
  }, 60_000);

  // The receiving end of a bytestream sends nothing but IQ results (one per block); those
  // go into xmpp.js's queue of unacknowledged stanzas too, and the adapter asks for acks
  // for them as well (before it counted only what went through link.send(): 6146 queued
  // entries on the receiver after the 6144 blocks above).
  it("the receiving side asks for acks too: its xmpp.js queue stays short while data comes in", async () => {
    // Fresh connections: the test above holds the IBB handlers of the shared ones.
    const [romeoClient2, julietClient2] = await Promise.all([
      connect("benvolio", "montague.lit"),
      connect("nurse", "capulet.lit"),
    ]);
    const [romeo2, juliet2] = [fromXmppClient(romeoClient2), fromXmppClient(julietClient2)];
    const julietSm = julietClient2.streamManagement;
    const ibbRomeo = new InBandBytestreams(romeo2);
    const ibbJuliet = new InBandBytestreams(juliet2, { accept: ({ peer }) => peer === romeo2.jid });
    onCleanup(() => Promise.allSettled([ibbRomeo.close(), ibbJuliet.close()]));
    const incoming = new Promise<IbbStream>((resolve) => ibbJuliet.once("stream", resolve));
    const ours = await ibbRomeo.open(juliet2.jid, { blockSize: 1024 });
    const theirs = await incoming;
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, julietSm.outbound_q.length);
    }, 2);
    const received = readAll(theirs);
    const data = Buffer.alloc(2 * 1024 * 1024, 7);
    for (let offset = 0; offset < data.length; offset += 64 * 1024)
      if (!ours.write(data.subarray(offset, offset + 64 * 1024))) await once(ours, "drain");
    await ours.close();
    expect((await received).length).toBe(data.length);
    clearInterval(sampler);
    expect(peak).toBeLessThan(200);
  }, 60_000);

  it("control: xmpp.js's own iqCaller leaves `h` short and ejabberd closes the stream after 5000", async () => {
    // What the adapter avoids, shown with xmpp.js alone: the results its iqCaller consumes
    // are never counted, so ejabberd's queue of unacknowledged stanzas only grows.
    const client = await connect("mallory", "montague.lit");
    client.socket.setNoDelay(true);
    const drops = watchDrops(client);
    const link = fromXmppClient(client); // to see how the adapter reports the server's close
    let closed: Error | undefined;
    link.onClose((e) => {
      closed = e;
    });
    const sm = client.streamManagement;
    const ping = () =>
      client.iqCaller.request(
        xml("iq", { type: "get", to: "montague.lit" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
        3000,
      );
    let answered = 0;
    const worker = async () => {
      while (!drops.dropped && answered < ejabberd.maxAckQueue + 200) {
        try {
          await ping();
          answered++;
        } catch {
          return; // requests in flight when the stream closed time out (xmpp.js does not fail them)
        }
      }
    };
    const workers = Promise.all(Array.from({ length: 16 }, worker));
    await until(() => drops.dropped, 30_000);
    expect(sm.inbound).toBeLessThan(5); // the results went uncounted
    // ejabberd keeps 5000 unacknowledged stanzas; the next one closes the stream.
    expect(answered).toBeGreaterThanOrEqual(ejabberd.maxAckQueue - 16);
    expect(answered).toBeLessThanOrEqual(ejabberd.maxAckQueue + 1);
    void workers;
    expect(drops.errors).toContain("policy-violation Too many unacked stanzas");
    expect(closed).toBeInstanceOf(LinkClosedError);
  }, 60_000);
});
