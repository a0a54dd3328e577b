// XEP-0065 without Jingle on the embedded router: the direct and mediated flows, the
// errors of XEP-0065 §5–§6, and the faults (wrong DST.ADDR, early bytes, TCP reset).
import { connect } from "node:net";
import { type Element, StanzaError, xml } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  dstAddr,
  S5bActivationError,
  S5bConnectionLostError,
  S5bNoStreamhostError,
  S5bProtocolError,
  S5bRefusedError,
  S5bSidInUseError,
  type S5bStream,
  StreamhostListener,
  streamhostUsedElement,
} from "../src/index.js";
import {
  cleanUp,
  exchange,
  expectOneReplyPerRequest,
  JULIET,
  NS_S5B,
  nextStream,
  onCleanup,
  outcome,
  payload,
  ROMEO,
  readAll,
  refusedPort,
  s5bQuery,
  scene,
  tcpServer,
  until,
} from "./helpers.js";
import { TestProxy65 } from "./proxy65.js";
import { Relay } from "./relay.js";

afterEach(cleanUp);

describe("XEP-0065 direct (the Requester is the streamhost)", () => {
  it("Romeo offers his own streamhost; Juliet connects and answers streamhost-used; 1 MiB each way", async () => {
    const { romeo, juliet, wire } = scene();
    const incoming = nextStream(juliet);
    const ours = await romeo.open(JULIET, { sid: "direct-1" });
    const theirs = await incoming;
    const offer = wire.find((e) => e.from === ROMEO && s5bQuery(e.stanza)?.getChild("streamhost"))!;
    const hosts = s5bQuery(offer.stanza)!.getChildren("streamhost");
    expect(hosts.map((h) => h.attrs.jid)).toEqual([ROMEO]);
    expect(hosts[0]!.attrs.host).toBe("127.0.0.1");
    expect(Number(hosts[0]!.attrs.port)).toBe(romeo.listener!.address!.port);
    const answer = wire.find((e) => e.from === JULIET && e.stanza.attrs.type === "result")!;
    expect(s5bQuery(answer.stanza)?.getChild("streamhost-used")?.attrs.jid).toBe(ROMEO);
    expect([ours.role, ours.mediated, ours.peer, ours.sid]).toEqual(["requester", false, JULIET, "direct-1"]);
    expect([theirs.role, theirs.mediated, theirs.peer, theirs.sid]).toEqual([
      "target",
      false,
      ROMEO,
      "direct-1",
    ]);
    await exchange(ours, theirs, 1024 * 1024, { back: 1024 * 1024 + 3 });
    await until(() => romeo.streams.length === 0 && juliet.streams.length === 0);
    await expectOneReplyPerRequest(wire);
  });

  it("the Target's bytes written right after its answer are delivered (XEP-0065 §9.1: ignored until then, not dropped)", async () => {
    const { romeo, juliet } = scene();
    juliet.once("stream", (stream) => stream.end("hello from the target, at once"));
    const ours = await romeo.open(JULIET);
    ours.end();
    expect((await readAll(ours)).toString()).toBe("hello from the target, at once");
  });

  it("expect(): a pre-negotiated sid is taken without an accept policy", async () => {
    const { romeo, juliet } = scene({ juliet: { accept: undefined } });
    const expected = juliet.expect(ROMEO, "agreed-sid");
    const ours = await romeo.open(JULIET, { sid: "agreed-sid" });
    const theirs = await expected;
    await exchange(ours, theirs, 64 * 1024, { back: 64 * 1024 + 3 });
    // Any other sid is declined.
    const refused = await romeo.open(JULIET, { sid: "other" }).catch((e) => e);
    expect(refused).toBeInstanceOf(S5bRefusedError);
  });
});

describe("XEP-0065 mediated (through a proxy65)", () => {
  it("Juliet connects to the proxy first, Romeo connects and activates; no SOCKS5 message is coalesced", async () => {
    const { router, romeo, juliet, wire } = scene();
    const proxy = await TestProxy65.start(router);
    onCleanup(() => proxy.close());
    const incoming = nextStream(juliet);
    const ours = await romeo.open(JULIET, { sid: "via-proxy", direct: false, proxies: [proxy.streamhost] });
    const theirs = await incoming;
    expect([ours.mediated, theirs.mediated]).toEqual([true, true]);
    expect(ours.streamhost.jid).toBe(proxy.link.jid);
    expect(proxy.activations).toEqual([{ from: ROMEO, sid: "via-proxy", target: JULIET }]);
    expect(proxy.badReads).toBe(0);
    const activate = wire.find((e) => e.from === ROMEO && s5bQuery(e.stanza)?.getChild("activate"))!;
    expect(activate.to).toBe(proxy.link.jid);
    expect(s5bQuery(activate.stanza)?.getChildText("activate")).toBe(JULIET);
    // proxy65 has no half-close (the first FIN ends both directions): read both
    // directions to their known length, then end.
    await exchange(ours, theirs, 1024 * 1024, { back: 1024 * 1024 + 7, halfClose: false });
  });

  it("the proxy refuses to activate: open() rejects with S5bActivationError carrying its condition", async () => {
    const { router, romeo, juliet } = scene();
    const proxy = await TestProxy65.start(router);
    onCleanup(() => proxy.close());
    proxy.refuseActivation = new StanzaError("internal-server-error");
    const incoming = nextStream(juliet);
    const error = await romeo.open(JULIET, { direct: false, proxies: [proxy.streamhost] }).catch((e) => e);
    expect(error).toBeInstanceOf(S5bActivationError);
    expect((error as S5bActivationError).stanzaError?.condition).toBe("internal-server-error");
    // XEP-0065 has no message that tells the Target: its connection to the proxy simply
    // never carries a byte (a layer above must time out, as TLS would).
    const theirs = await incoming;
    expect(theirs.bytesIn).toBe(0);
    theirs.destroy();
    expect(romeo.streams).toEqual([]);
  });

  it("discovery on a server without proxies (the embedded router answers service-unavailable) offers none", async () => {
    const { romeo } = scene({ romeo: { proxies: "discover" } });
    expect(await romeo.proxies()).toEqual([]);
    const error = await romeo.open(JULIET, { direct: false }).catch((e) => e);
    expect(error).toBeInstanceOf(S5bNoStreamhostError);
  });
});

describe("XEP-0065 errors", () => {
  it("Juliet declines: not-acceptable (type modify), and open() says so", async () => {
    const { romeo, wire } = scene({ juliet: { accept: () => false } });
    const error = await romeo.open(JULIET).catch((e) => e);
    expect(error).toBeInstanceOf(S5bRefusedError);
    expect((error as S5bRefusedError).stanzaError.condition).toBe("not-acceptable");
    const reply = wire.find((e) => e.from === JULIET && e.stanza.attrs.type === "error")!;
    expect(reply.stanza.getChild("error")?.attrs.type).toBe("modify");
    expect(romeo.listener!.expecting).toBe(0);
  });

  it("no streamhost reachable: Juliet answers item-not-found (cancel); her expect() rejects typed", async () => {
    const port = await refusedPort();
    const { romeo, juliet, wire } = scene({
      romeo: { streamhost: { advertise: [{ host: "127.0.0.1", port }] } },
    });
    const expected = juliet.expect(ROMEO, "nowhere").catch((e) => e);
    const error = await romeo.open(JULIET, { sid: "nowhere" }).catch((e) => e);
    expect(error).toBeInstanceOf(S5bRefusedError);
    expect((error as S5bRefusedError).stanzaError.condition).toBe("item-not-found");
    const reply = wire.find((e) => e.from === JULIET && e.stanza.attrs.type === "error")!;
    expect(reply.stanza.getChild("error")?.attrs.type).toBe("cancel");
    const theirs = await expected;
    expect(theirs).toBeInstanceOf(S5bNoStreamhostError);
    expect((theirs as S5bNoStreamhostError).failures[0]?.message).toMatch(/ECONNREFUSED/);
  });

  it("malformed offers are refused before anything connects", async () => {
    const { romeoLink, juliet } = scene();
    const ask = (query: Element) =>
      romeoLink.request(xml("iq", { type: "set", to: JULIET }, query)).then(
        () => "result",
        (e: StanzaError) => `${e.condition}/${e.type}`,
      );
    const host = xml("streamhost", { jid: ROMEO, host: "127.0.0.1", port: "9" });
    expect(await ask(xml("query", { xmlns: NS_S5B }, host))).toBe("bad-request/modify");
    expect(await ask(xml("query", { xmlns: NS_S5B, sid: "s" }))).toBe("bad-request/modify");
    expect(
      await ask(xml("query", { xmlns: NS_S5B, sid: "s" }, xml("streamhost", { jid: ROMEO, port: "9" }))),
    ).toBe("bad-request/modify");
    expect(await ask(xml("query", { xmlns: NS_S5B, sid: "s", mode: "udp" }, host))).toBe(
      "not-acceptable/modify",
    );
    expect(await ask(xml("query", { xmlns: NS_S5B, sid: "s" }, xml("activate", {}, JULIET)))).toBe(
      "not-allowed/cancel",
    );
    expect(juliet.streams).toEqual([]);
  });

  it("a sid in use with that peer: open() and expect() throw, a repeated offer gets not-acceptable", async () => {
    const { romeo, juliet, romeoLink } = scene();
    const incoming = nextStream(juliet);
    await romeo.open(JULIET, { sid: "busy" });
    await incoming;
    await expect(romeo.open(JULIET, { sid: "busy" })).rejects.toBeInstanceOf(S5bSidInUseError);
    await expect(juliet.expect(ROMEO, "busy")).rejects.toBeInstanceOf(S5bSidInUseError);
    const again = await romeoLink
      .request(
        xml(
          "iq",
          { type: "set", to: JULIET },
          xml(
            "query",
            { xmlns: NS_S5B, sid: "busy" },
            xml("streamhost", { jid: ROMEO, host: "127.0.0.1", port: "9" }),
          ),
        ),
      )
      .catch((e: StanzaError) => e.condition);
    expect(again).toBe("not-acceptable");
  });

  it("streamhost-used naming a streamhost we never offered: S5bProtocolError", async () => {
    const { router, romeo } = scene();
    const liar = router.createLink("nurse@capulet.lit/liar");
    liar.handle("set", NS_S5B, "query", (iq) => streamhostUsedElement(iq.payload.attrs.sid!, "evil.example"));
    const error = await romeo.open("nurse@capulet.lit/liar").catch((e) => e);
    expect(error).toBeInstanceOf(S5bProtocolError);
    expect(romeo.listener!.expecting).toBe(0);
  });
});

describe("XEP-0065 faults", () => {
  it("connections with a wrong DST.ADDR (and a second one with the right one) are refused; the bytestream works", async () => {
    const { router, romeo, juliet } = scene();
    // Hold Juliet's answer back, so strangers knock while her connection is held.
    let held: Element | undefined;
    const stop = router.intercept((stanza, route) => {
      if (route.from === JULIET && stanza.attrs.type === "result" && s5bQuery(stanza)) {
        held = stanza;
        return null;
      }
      return undefined;
    });
    const refusals: string[] = [];
    romeo.listener!.on("refused", (r) => refusals.push(r.reason));
    const incoming = nextStream(juliet);
    const opening = romeo.open(JULIET, { sid: "knock" });
    await until(() => held !== undefined);
    const port = romeo.listener!.address!.port;
    const knock = async (hash: string) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.on("error", () => {});
      socket.write(
        Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 3, 40]), Buffer.from(hash), Buffer.from([0, 0])]),
      );
      let got = Buffer.alloc(0);
      socket.on("data", (d: Buffer) => {
        got = Buffer.concat([got, d]);
      });
      await new Promise((r) => socket.once("close", r));
      return got.subarray(2, 4);
    };
    expect(await knock(dstAddr("knock", ROMEO, "mallory@capulet.lit/arras"))).toEqual(Buffer.from([5, 2]));
    expect(await knock(dstAddr("knock", JULIET, ROMEO))).toEqual(Buffer.from([5, 2])); // the reversed hash
    expect(await knock(dstAddr("knock", ROMEO, JULIET))).toEqual(Buffer.from([5, 2])); // right hash, taken
    expect(refusals).toEqual(["unexpected-dstaddr", "unexpected-dstaddr", "dstaddr-taken"]);
    stop();
    router.inject(held!);
    const [ours, theirs] = await Promise.all([opening, incoming]);
    await exchange(ours, theirs, 256 * 1024, { back: 256 * 1024 + 3 });
  });

  it("bytes a streamhost sends with its SOCKS5 reply, before the Target answered, are never delivered", async () => {
    const { router, juliet } = scene();
    const fake = router.createLink(ROMEO.replace("orchard", "fake"));
    const requester = fake.jid;
    // A hand-rolled Requester whose streamhost writes at once after its SOCKS5 reply.
    let socket: import("node:net").Socket | undefined;
    const { port } = await tcpServer((s) => {
      socket = s;
      s.once("data", () => {
        s.write(Buffer.from([5, 0]));
        s.once("data", (req: Buffer) => {
          // The reply and early bytes in one segment: they arrive before Juliet answers.
          s.write(
            Buffer.concat([
              Buffer.from([5, 0]),
              req.subarray(2),
              Buffer.from("EARLY BYTES, NOT TO BE DELIVERED"),
            ]),
          );
        });
      });
    });
    const incoming = nextStream(juliet);
    await fake.request(
      xml(
        "iq",
        { type: "set", to: JULIET },
        xml(
          "query",
          { xmlns: NS_S5B, sid: "early" },
          xml("streamhost", { jid: requester, host: "127.0.0.1", port: String(port) }),
        ),
      ),
    );
    const theirs = await incoming;
    socket!.end("the real data");
    expect((await readAll(theirs)).toString()).toBe("the real data");
  });

  it("a TCP reset mid-stream: both ends fail with S5bConnectionLostError, neither sees a clean end", async () => {
    // Romeo's streamhost is offered at a relay's address; the relay resets both TCP
    // connections after 3 MiB.
    const target = { host: "127.0.0.1", port: 0 };
    const relay = await Relay.start(target, { resetAfter: 3 * 1024 * 1024 });
    onCleanup(() => relay.close());
    const listener = new StreamhostListener({ advertise: [{ host: "127.0.0.1", port: relay.port }] });
    onCleanup(() => listener.close());
    await listener.listen();
    target.port = listener.address!.port;
    const { romeo, juliet } = scene({ romeo: { streamhost: listener } });
    const incoming = nextStream(juliet);
    const ours = await romeo.open(JULIET, { sid: "reset" });
    const theirs = await incoming;
    const [atRomeo, atJuliet] = [outcome(ours), outcome(theirs)];
    // Both write; neither ends: the reset cuts them off.
    const flood = (stream: S5bStream) => {
      const chunk = payload(64 * 1024);
      const pump = () => {
        while (!stream.destroyed && stream.write(chunk)) {}
      };
      stream.on("drain", pump);
      pump();
    };
    flood(ours);
    flood(theirs);
    ours.resume();
    theirs.resume();
    const [romeoEnd, julietEnd] = await Promise.all([atRomeo, atJuliet]);
    expect(relay.resets).toBeGreaterThan(0);
    expect(romeoEnd).toBeInstanceOf(S5bConnectionLostError);
    expect(julietEnd).toBeInstanceOf(S5bConnectionLostError);
    expect((romeoEnd as S5bConnectionLostError).code).toBe("s5b-connection-lost");
    expect(((julietEnd as Error).cause as NodeJS.ErrnoException | undefined)?.code).toMatch(
      /ECONNRESET|EPIPE/,
    );
  });

  it("close(): pending expect() rejects, the listener stops, open streams are torn down", async () => {
    const { romeo, juliet } = scene();
    const incoming = nextStream(juliet);
    const ours = await romeo.open(JULIET);
    const theirs = await incoming;
    const waiting = juliet.expect(ROMEO, "never").catch((e) => e);
    const ended = outcome(theirs);
    const port = romeo.listener!.address!.port;
    await juliet.close();
    expect((await waiting).code).toBe("s5b-closed");
    expect(theirs.destroyed).toBe(true);
    expect(await ended).toBe("closed");
    // Romeo sees the TCP connection end: for the bytestream alone that is an end of stream.
    expect(await readAll(ours)).toEqual(Buffer.alloc(0));
    await romeo.close();
    const refused = await new Promise((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code));
      s.once("connect", () => {
        s.destroy();
        resolve("connected");
      });
    });
    expect(refused).toBe("ECONNREFUSED");
  });
});
