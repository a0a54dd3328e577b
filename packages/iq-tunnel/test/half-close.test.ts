// Issue #14 item 6: closing a Mode Q tunnel against a TLS 1.3 peer that half-closes (it never
// answers our close_notify with its own). No clocks: the fake setTimeout never fires, so a
// close() that waited for a timer would never resolve; it must finish on the peer's answers.
import { type Element, LocalRouter, NS, xml } from "@xtls/core";
import { pinnedEngine } from "@xtls/testkit/identities";
import type { TlsEngine } from "@xtls/tls";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type IqTunnel, IqTunnelService } from "../src/index.js";
import { closeLater, closeRouters, JULIET, ROMEO } from "./helpers.js";

afterEach(() => {
  vi.useRealTimers();
  closeRouters();
});

/**
 * One stanza each way: everything either side wrote after the handshake (its session
 * tickets) has been read by the other before the test looks at the close.
 */
async function settled(romeo: IqTunnel, juliet: IqTunnel): Promise<void> {
  const atJuliet = new Promise<void>((resolve) => juliet.once("stanza", () => resolve()));
  await romeo.send(xml("message", {}, xml("body", {}, "Good night, good night!")));
  await atJuliet;
  const atRomeo = new Promise<void>((resolve) => romeo.once("stanza", () => resolve()));
  await juliet.send(xml("message", {}, xml("body", {}, "Parting is such sweet sorrow")));
  await atRomeo;
}

/** The Mode Q IQs from here on: Romeo's sets, Juliet's sets and results (Romeo's acks left out). */
function record(router: LocalRouter): string[] {
  const events: string[] = [];
  router.observe((e) => {
    const payload: Element | undefined = e.stanza.getChildElements()[0];
    const type = e.stanza.attrs.type;
    const who = e.stanza.attrs.from === ROMEO ? "romeo" : "juliet";
    if (who === "romeo" && type === "result") return;
    if (type === "set" && payload?.attrs.xmlns !== NS.XTLS_IQ) return;
    events.push(`${who}:${type}${type === "set" ? `:${payload?.name}` : ""}`);
  });
  return events;
}

/** `engine`, but every channel keeps its sending side open after the peer's close_notify. */
function halfClosing(engine: TlsEngine): TlsEngine {
  return {
    identity: engine.identity,
    trustStore: engine.trustStore,
    secure: (carrier, options) => engine.secure(carrier, { ...options, allowHalfOpen: true }),
    ...(engine.assessPeer ? { assessPeer: engine.assessPeer.bind(engine) } : {}),
  };
}

describe("Mode Q close against a peer that half-closes", () => {
  it("close() sends close_notify, then <close/> once it is acknowledged, and resolves on <closed/> without the peer's close_notify and without any timer", async () => {
    const router = closeLater(new LocalRouter());
    const romeoEngine = await pinnedEngine(ROMEO, { pins: [JULIET] });
    const julietEngine = await pinnedEngine(JULIET, { pins: [ROMEO] });
    const romeo = new IqTunnelService(router.createLink(ROMEO), { engine: romeoEngine.engine });
    const juliet = new IqTunnelService(router.createLink(JULIET), {
      engine: halfClosing(julietEngine.engine),
    });
    const theirs = new Promise<IqTunnel>((resolve) => juliet.once("tunnel", resolve));
    const tunnel = await romeo.open(JULIET);
    const julietTunnel = await theirs;
    await settled(tunnel, julietTunnel);
    const events = record(router);
    // From here on no timer fires: close() may only wait for stanzas.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    await tunnel.close();
    events.push("close() resolved");
    expect(await tunnel.closed.then(() => "clean")).toBe("clean");
    expect(events).toEqual([
      "romeo:set:data", // our close_notify
      "juliet:result",
      "romeo:set:close",
      "juliet:result",
      "close() resolved",
    ]);
    // Juliet never sent a close_notify (no <data/> from her), and still may: half-closed.
    expect(events.some((e) => e.startsWith("juliet:set"))).toBe(false);
    // Her tunnel ended with the <close/>, cleanly (she read our close_notify).
    expect(await julietTunnel.closed.then(() => "clean")).toBe("clean");
  });

  it("between two peers that both answer close_notify, the responder's close_notify still precedes its <closed/>, and both close cleanly", async () => {
    const router = closeLater(new LocalRouter());
    const a = await pinnedEngine(ROMEO, { pins: [JULIET] });
    const b = await pinnedEngine(JULIET, { pins: [ROMEO] });
    const romeo = new IqTunnelService(router.createLink(ROMEO), { engine: a.engine });
    const juliet = new IqTunnelService(router.createLink(JULIET), { engine: b.engine });
    const theirs = new Promise<IqTunnel>((resolve) => juliet.once("tunnel", resolve));
    const tunnel = await romeo.open(JULIET);
    const julietTunnel = await theirs;
    await settled(tunnel, julietTunnel);
    const events = record(router);
    const julietClosed = julietTunnel.closed.then(() => "clean");
    await tunnel.close();
    expect(await tunnel.closed.then(() => "clean")).toBe("clean");
    expect(await julietClosed).toBe("clean");
    expect(events.indexOf("romeo:set:data")).toBeLessThan(events.indexOf("romeo:set:close"));
    // Juliet's close_notify (a <data/> of hers) goes out before her <closed/>, the last result.
    expect(events.filter((e) => e === "juliet:set:data")).toHaveLength(1);
    expect(events.indexOf("juliet:set:data")).toBeLessThan(events.lastIndexOf("juliet:result"));
    expect(events.at(-1)).toBe("juliet:result");
  });
});
