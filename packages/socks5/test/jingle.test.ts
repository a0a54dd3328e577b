import { Socket } from "node:net";
// XEP-0260 under a real Jingle session with the XTLS precondition, on the embedded
// router with direct candidates on loopback (and a proxy65 stand-in): nomination, the
// early-bytes rule, fallback to IBB with transport-replace, and a TCP reset mid-stream.
import { StanzaError, xml } from "@xtls/core";
import {
  type ContentContext,
  SessionTerminatedError,
  TransportFailedError,
  type TransportHandle,
  type TransportMethod,
} from "@xtls/jingle";
import { trace } from "@xtls/testkit/stanzas";
import { TruncationError } from "@xtls/tls";
import { XmlStreamSession } from "@xtls/xmlstream";
import { afterEach, describe, expect, it } from "vitest";
import { S5bConnectionLostError, type S5bNomination, StreamhostListener } from "../src/index.js";
import { cleanUp, JULIET, onCleanup, ROMEO, refusedPort, router } from "./helpers.js";
import { type Party, type PartyOptions, partyOn, transfer } from "./jingle-helpers.js";
import { TestProxy65 } from "./proxy65.js";
import { Relay } from "./relay.js";

afterEach(cleanUp);

const NAMES = { [ROMEO]: "R", [JULIET]: "J" };
const MiB = 1024 * 1024;

async function pair(options: { romeo?: PartyOptions; juliet?: PartyOptions } = {}) {
  const r = router();
  const wire: import("@xtls/core").RouteEvent[] = [];
  r.observe((e) => wire.push(e));
  const romeo = await partyOn(r.createLink(ROMEO), { pins: [JULIET], ...options.romeo });
  const juliet = await partyOn(r.createLink(JULIET), { pins: [ROMEO], ...options.juliet });
  return { router: r, wire, romeo, juliet };
}

function nominations(party: Party): S5bNomination[] {
  const got: S5bNomination[] = [];
  party.s5b.on("nominated", (n) => got.push(n));
  return got;
}

/** A listener whose only offered address refuses connections. */
async function unreachable(): Promise<StreamhostListener> {
  const listener = new StreamhostListener({ advertise: [{ host: "127.0.0.1", port: await refusedPort() }] });
  onCleanup(() => listener.close());
  return listener;
}

describe("XTLS over S5B direct (XEP-0260, embedded router)", () => {
  it("256 MiB Romeo → Juliet over a direct candidate on loopback, SHA-256 verified", async () => {
    const { romeo, juliet, wire } = await pair();
    const [atRomeo, atJuliet] = [nominations(romeo), nominations(juliet)];
    const t = await transfer(romeo, juliet, 256 * MiB);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    expect(received.bytes).toBe(256 * MiB);
    await Promise.all([t.session.done, t.responder.done]);
    expect(t.session.transportNamespace).toBe("urn:xmpp:jingle:transports:s5b:1");
    // Both connected to each other's direct candidate; equal priorities: the initiator's pick wins.
    expect(atRomeo.map((n) => [n.by, n.candidate.type, n.mediated])).toEqual([["us", "direct", false]]);
    expect(atJuliet.map((n) => [n.by, n.candidate.type])).toEqual([["peer", "direct"]]);
    expect(atJuliet[0]!.candidate.cid).toBe(atRomeo[0]!.candidate.cid);
    const steps = trace(wire, NAMES, { s5b: true });
    expect(steps.slice(0, 2)).toEqual(["R:session-initiate[s5b]", "J:session-accept[s5b]"]);
    expect(steps.filter((s) => s.includes("transport-info")).sort()).toEqual([
      "J:transport-info[candidate-used]",
      "R:transport-info[candidate-used]",
    ]);
    expect(steps.at(-1)).toBe("R:session-terminate(success)");
  }, 120_000);

  it("nativeSocket: TLS runs on the bare TCP socket of the direct candidate; 64 MiB verified;", async () => {
    const { romeo, juliet } = await pair({
      romeo: { s5b: { nativeSocket: true } },
      juliet: { s5b: { nativeSocket: true } },
    });
    const [atRomeo, atJuliet] = [nominations(romeo), nominations(juliet)];
    const t = await transfer(romeo, juliet, 64 * MiB);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    await Promise.all([t.session.done, t.responder.done]);
    expect(atRomeo[0]!.stream).toBeInstanceOf(Socket);
    expect(atJuliet[0]!.stream).toBeInstanceOf(Socket);
  }, 120_000);

  it("the XML stream application (XEP-0247) runs over it too", async () => {
    const { romeo, juliet } = await pair();
    const theirs = new Promise<XmlStreamSession>((resolve) => {
      juliet.manager.once("incoming", (incoming) => {
        const app = new XmlStreamSession();
        void incoming.session.accept({ application: app });
        resolve(app);
      });
    });
    const app = new XmlStreamSession();
    const session = romeo.manager.initiate(JULIET, {
      application: app,
      transports: [romeo.s5b],
      security: romeo.security,
    });
    const [ours, their] = await Promise.all([app.stream, theirs.then((a) => a.stream)]);
    const got = new Promise<import("@xtls/core").Element>((resolve) => their.once("stanza", resolve));
    await ours.send(xml("message", { type: "chat" }, xml("body", {}, "Did my heart love till now?")));
    const message = await got;
    expect(message.getChildText("body")).toBe("Did my heart love till now?");
    expect(message.attrs.from).toBe(ROMEO);
    expect(session.transportNamespace).toBe("urn:xmpp:jingle:transports:s5b:1");
    await session.terminate();
  });

  it("nomination across sides: Romeo's pick is Juliet's proxy, Juliet's is Romeo's direct candidate: direct (higher priority) wins", async () => {
    const r = router();
    const proxy = await TestProxy65.start(r);
    onCleanup(() => proxy.close());
    const romeo = await partyOn(r.createLink(ROMEO), { pins: [JULIET] });
    const juliet = await partyOn(r.createLink(JULIET), {
      pins: [ROMEO],
      socks5: { streamhost: false, proxies: [proxy.streamhost] },
    });
    const atRomeo = nominations(romeo);
    const t = await transfer(romeo, juliet, 4 * MiB);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    await t.session.done;
    expect(atRomeo.map((n) => [n.by, n.candidate.type])).toEqual([["peer", "direct"]]);
    expect(proxy.activations).toEqual([]);
  });
});

describe("XTLS over S5B through a proxy (XEP-0260 §2.4, proxy65 stand-in)", () => {
  for (const offerer of ["initiator", "responder"] as const) {
    it(`the ${offerer}'s proxy candidate is nominated: its offerer activates it and sends <activated/>`, async () => {
      const r = router();
      const wire: import("@xtls/core").RouteEvent[] = [];
      r.observe((e) => wire.push(e));
      const proxy = await TestProxy65.start(r);
      onCleanup(() => proxy.close());
      const withProxy = { socks5: { streamhost: false as const, proxies: [proxy.streamhost] } };
      const without = { socks5: { streamhost: false as const } };
      const romeo = await partyOn(r.createLink(ROMEO), {
        pins: [JULIET],
        ...(offerer === "initiator" ? withProxy : without),
      });
      const juliet = await partyOn(r.createLink(JULIET), {
        pins: [ROMEO],
        ...(offerer === "responder" ? withProxy : without),
      });
      const t = await transfer(romeo, juliet, 4 * MiB);
      const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
      expect(received).toEqual(sent);
      await Promise.all([t.session.done, t.responder.done]);
      const [off, con] = offerer === "initiator" ? ["R", "J"] : ["J", "R"];
      const steps = trace(wire, NAMES, { s5b: true });
      // Juliet's first transport-info follows her session-accept, even when she has
      // nothing to try (Romeo offered no candidate) and answers candidate-error at once.
      expect(steps.findIndex((s) => s.includes("transport-info"))).toBeGreaterThan(
        steps.indexOf("J:session-accept[s5b]"),
      );
      expect(steps).toContain(`${con}:transport-info[candidate-used]`);
      expect(steps).toContain(`${off}:transport-info[candidate-error]`);
      // The offerer activates (with the transport's sid), then tells the peer.
      expect(steps.indexOf(`${off}:activate`)).toBeLessThan(
        steps.indexOf(`${off}:transport-info[activated]`),
      );
      expect(proxy.activations).toHaveLength(1);
      expect(proxy.activations[0]!.from).toBe(offerer === "initiator" ? ROMEO : JULIET);
      expect(proxy.badReads).toBe(0);
    });
  }
});

describe("faults and fallback", () => {
  it("bytes a middlebox writes right after the SOCKS5 reply (before nomination) are not delivered: TLS and data intact", async () => {
    const target = { host: "127.0.0.1", port: 0 };
    const junk = Buffer.from("\x16\x03\x01 junk before nomination, would break any TLS record layer");
    const relay = await Relay.start(target, { early: { toClient: junk, toServer: junk } });
    onCleanup(() => relay.close());
    const listener = new StreamhostListener({ advertise: [{ host: "127.0.0.1", port: relay.port }] });
    onCleanup(() => listener.close());
    await listener.listen();
    target.port = listener.address!.port;
    // Only Juliet offers a candidate (through the relay): it is the one nominated.
    const { romeo, juliet } = await pair({
      romeo: { socks5: { streamhost: false } },
      juliet: { socks5: { streamhost: listener } },
    });
    const atJuliet = nominations(juliet);
    const t = await transfer(romeo, juliet, 2 * MiB);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    await t.session.done;
    expect(atJuliet.map((n) => n.by)).toEqual(["peer"]);
    expect(relay.relayed).toBeGreaterThan(2 * MiB); // the junk went through the nominated connection
  });

  it("all candidates unreachable (refused ports): both send candidate-error, transport-replace to IBB, the session completes", async () => {
    const { romeo, juliet, wire } = await pair({
      romeo: { socks5: { streamhost: await unreachable() } },
      juliet: { socks5: { streamhost: await unreachable() } },
    });
    const t = await transfer(romeo, juliet, 256 * 1024);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    await Promise.all([t.session.done, t.responder.done]);
    expect(t.session.transportNamespace).toBe("urn:xmpp:jingle:transports:ibb:1");
    const steps = trace(wire, NAMES, { s5b: true });
    expect(steps.filter((s) => s.includes("candidate"))).toEqual(
      expect.arrayContaining(["R:transport-info[candidate-error]", "J:transport-info[candidate-error]"]),
    );
    const replace = steps.indexOf("R:transport-replace[ibb]");
    expect(replace).toBeGreaterThan(steps.indexOf("J:transport-info[candidate-error]"));
    expect(steps[replace + 1]).toBe("J:transport-accept[ibb]");
    expect(steps.at(-1)).toBe("R:session-terminate(success)");
  });

  it("the peer sends candidate-error for everything (it reaches nothing): fallback to IBB completes", async () => {
    // Juliet's S5B is a stub that answers with no candidates and reports candidate-error,
    // as a peer behind a firewall would; Romeo's candidate is reachable but never used.
    const stub: TransportMethod = {
      namespaces: ["urn:xmpp:jingle:transports:s5b:1"],
      offer: () => {
        throw new Error("not used");
      },
      accept: (ctx: ContentContext, offer): TransportHandle => ({
        element: () => xml("transport", { xmlns: "urn:xmpp:jingle:transports:s5b:1", sid: offer.attrs.sid }),
        connect: async () => {
          await ctx.sendInfo(
            "transport-info",
            xml(
              "transport",
              { xmlns: "urn:xmpp:jingle:transports:s5b:1", sid: offer.attrs.sid },
              xml("candidate-error"),
            ),
          );
          throw new TransportFailedError("the stub reaches no candidate");
        },
        close: () => {},
      }),
    };
    const { romeo, juliet, wire } = await pair({
      juliet: { transports: ({ transport }) => [stub, transport] },
    });
    const t = await transfer(romeo, juliet, 128 * 1024);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    await t.session.done;
    const steps = trace(wire, NAMES, { s5b: true });
    expect(steps).toContain("J:transport-info[candidate-error]");
    // Juliet offered nothing to try: Romeo's verdict is candidate-error too.
    expect(steps).toContain("R:transport-info[candidate-error]");
    expect(steps).toContain("R:transport-replace[ibb]");
    expect(t.session.transportNamespace).toBe("urn:xmpp:jingle:transports:ibb:1");
    expect(romeo.socks5.listener!.expecting).toBe(0);
  });

  it("the proxy refuses activation: the offerer sends <proxy-error/>, and the session falls back to IBB", async () => {
    const r = router();
    const wire: import("@xtls/core").RouteEvent[] = [];
    r.observe((e) => wire.push(e));
    const proxy = await TestProxy65.start(r);
    onCleanup(() => proxy.close());
    proxy.refuseActivation = new StanzaError("not-allowed", {
      text: "The recipient is not connected to the proxy",
    });
    const romeo = await partyOn(r.createLink(ROMEO), {
      pins: [JULIET],
      socks5: { streamhost: false, proxies: [proxy.streamhost] },
    });
    const juliet = await partyOn(r.createLink(JULIET), { pins: [ROMEO], socks5: { streamhost: false } });
    const t = await transfer(romeo, juliet, 128 * 1024);
    const [sent, received] = await Promise.all([t.app.sent, t.theirApp.received]);
    expect(received).toEqual(sent);
    await Promise.all([t.session.done, t.responder.done]);
    const steps = trace(wire, NAMES, { s5b: true });
    const activate = steps.indexOf("R:activate");
    expect(activate).toBeGreaterThan(-1);
    expect(steps.indexOf("R:transport-info[proxy-error]")).toBeGreaterThan(activate);
    expect(steps.indexOf("R:transport-replace[ibb]")).toBeGreaterThan(
      steps.indexOf("R:transport-info[proxy-error]"),
    );
    expect(steps).not.toContain("R:transport-info[activated]");
    expect(t.session.transportNamespace).toBe("urn:xmpp:jingle:transports:ibb:1");
  });

  it("transport-reject: a responder without IBB refuses the replacement; both end with failed-transport", async () => {
    const { romeo, juliet, wire } = await pair({
      romeo: { socks5: { streamhost: await unreachable() } },
      juliet: { socks5: { streamhost: await unreachable() }, ibb: false },
    });
    const t = await transfer(romeo, juliet, 1024);
    const [ours, theirs] = await Promise.all([
      t.session.done.catch((e: Error) => e),
      t.responder.done.catch((e: Error) => e),
    ]);
    expect(ours).toBeInstanceOf(SessionTerminatedError);
    expect((ours as SessionTerminatedError).reason.condition).toBe("failed-transport");
    expect(theirs).toBeInstanceOf(SessionTerminatedError);
    expect((theirs as SessionTerminatedError).reason.condition).toBe("failed-transport");
    const steps = trace(wire, NAMES, { s5b: true });
    expect(steps.indexOf("J:transport-reject[ibb]")).toBe(steps.indexOf("R:transport-replace[ibb]") + 1);
    expect(steps.at(-1)).toBe("R:session-terminate(failed-transport)");
    await expect(t.theirApp.received).rejects.toBeInstanceOf(SessionTerminatedError);
  });

  it("a TCP reset mid-stream: both sides fail with typed errors (never a clean end); the session ends", async () => {
    const target = { host: "127.0.0.1", port: 0 };
    const relay = await Relay.start(target, { resetAfter: 8 * MiB });
    onCleanup(() => relay.close());
    const listener = new StreamhostListener({ advertise: [{ host: "127.0.0.1", port: relay.port }] });
    onCleanup(() => listener.close());
    await listener.listen();
    target.port = listener.address!.port;
    const { romeo, juliet } = await pair({
      romeo: { socks5: { streamhost: false } },
      juliet: { socks5: { streamhost: listener } },
    });
    const t = await transfer(romeo, juliet, 64 * MiB);
    const [sendError, receiveError] = await Promise.all([
      t.app.sent.then(
        () => "sent everything",
        (e: Error) => e,
      ),
      t.theirApp.received.then(
        () => "a clean end",
        (e: Error) => e,
      ),
    ]);
    expect(relay.resets).toBe(1);
    // Underneath TLS, each side's S5B stream failed with the RST; the TLS channel passes
    // that error up as is: the sender sees it on write, the receiver on read.
    // Which one a side sees depends on what it was doing when the RST arrived: writing
    // (the S5B stream's error) or reading (TLS saw its carrier close without
    // close_notify). Both are typed, and neither is a clean end.
    const cutOff = (e: unknown) => e instanceof S5bConnectionLostError || e instanceof TruncationError;
    expect(sendError).toSatisfy(cutOff);
    expect(receiveError).toSatisfy(cutOff);
    const [ours, theirs] = await Promise.all([
      t.session.done.catch((e: Error) => e),
      t.responder.done.catch((e: Error) => e),
    ]);
    for (const ended of [ours, theirs]) {
      expect(ended).toBeInstanceOf(SessionTerminatedError);
      expect((ended as SessionTerminatedError).reason.condition).toBe("failed-application");
    }
    expect((ours as Error).cause).toSatisfy(cutOff);
  }, 60_000);
});
