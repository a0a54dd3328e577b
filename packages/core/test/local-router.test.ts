import { afterEach, describe, expect, it } from "vitest";
import {
  type Element,
  LinkClosedError,
  LocalRouter,
  NS,
  queryDiscoInfo,
  type RouteEvent,
  StanzaError,
  TimeoutError,
  xml,
} from "../src/index.js";

const ROMEO = "romeo@montague.lit/orchard";
const JULIET = "juliet@capulet.lit/balcony";
const TEST_NS = "urn:example:test";

let router: LocalRouter;
afterEach(() => router?.close());

function setup() {
  router = new LocalRouter();
  return { romeo: router.createLink(ROMEO), juliet: router.createLink(JULIET) };
}

const ping = (to: string, payload = xml("ask", { xmlns: TEST_NS })) =>
  xml("iq", { type: "get", to }, payload);

describe("LocalRouter: IQ semantics", () => {
  it("routes a request to the handler and its result back, with 'from' stamped by the router", async () => {
    const { romeo, juliet } = setup();
    let seenFrom = "";
    juliet.handle("get", TEST_NS, "ask", (iq) => {
      seenFrom = iq.from;
      return xml("answer", { xmlns: TEST_NS }, "wherefore");
    });
    const result = await romeo.request(ping(JULIET));
    expect(result.attrs.type).toBe("result");
    expect(result.attrs.from).toBe(JULIET);
    expect(result.getChild("answer", TEST_NS)?.text()).toBe("wherefore");
    expect(seenFrom).toBe(ROMEO);
  });

  it("answers an IQ nobody handles with service-unavailable", async () => {
    const { romeo } = setup();
    await expect(romeo.request(ping(JULIET))).rejects.toSatisfy((e) =>
      StanzaError.is(e, "service-unavailable"),
    );
  });

  it("bounces an IQ to an unknown full JID with service-unavailable from that JID, like a server", async () => {
    const { romeo } = setup();
    const events: RouteEvent[] = [];
    router.observe((e) => events.push(e));
    await expect(romeo.request(ping("juliet@capulet.lit/gone"))).rejects.toSatisfy((e) =>
      StanzaError.is(e, "service-unavailable"),
    );
    expect(events.map((e) => e.outcome)).toEqual(["bounced", "delivered"]);
    expect(events[1]?.from).toBe("juliet@capulet.lit/gone");
  });

  it("turns a thrown StanzaError into that error, anything else into internal-server-error", async () => {
    const { romeo, juliet } = setup();
    juliet.handle("get", TEST_NS, "ask", () => {
      throw new StanzaError("not-acceptable", { text: "no" });
    });
    juliet.handle("set", TEST_NS, "boom", async () => {
      throw new Error("bug");
    });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      await expect(romeo.request(ping(JULIET))).rejects.toSatisfy(
        (e) => StanzaError.is(e, "not-acceptable") && (e as StanzaError).text === "no",
      );
      await expect(
        romeo.request(xml("iq", { type: "set", to: JULIET }, xml("boom", { xmlns: TEST_NS }))),
      ).rejects.toSatisfy((e) => StanzaError.is(e, "internal-server-error"));
    } finally {
      await new Promise((r) => setImmediate(r));
      process.off("warning", onWarning);
    }
    expect(warnings.some((w) => w.includes("bug"))).toBe(true);
  });

  it("sends exactly one reply per get/set and never answers a result or an error", async () => {
    const { romeo, juliet } = setup();
    juliet.handle("get", TEST_NS, "ask", () => undefined);
    const seen: RouteEvent[] = [];
    router.observe((e) => seen.push(e));
    await romeo.request(ping(JULIET));
    // unsolicited result and error to juliet: dropped, no reply
    await romeo.send(xml("iq", { type: "result", id: "stray", to: JULIET }));
    await romeo.send(
      xml("iq", { type: "error", id: "stray2", to: JULIET }, new StanzaError("conflict").toElement()),
    );
    // a get with two payloads and one with none: bad-request, once each
    const two = xml(
      "iq",
      { type: "get", to: JULIET },
      xml("ask", { xmlns: TEST_NS }),
      xml("ask", { xmlns: TEST_NS }),
    );
    await expect(romeo.request(two)).rejects.toSatisfy((e) => StanzaError.is(e, "bad-request"));
    await expect(romeo.request(xml("iq", { type: "get", to: JULIET }))).rejects.toSatisfy((e) =>
      StanzaError.is(e, "bad-request"),
    );
    await expect
      .poll(() => seen.filter((e) => e.from === JULIET).map((e) => e.stanza.attrs.type))
      .toEqual(["result", "error", "error"]);
  });

  it("ignores a reply with the right id from the wrong JID (a third party cannot answer for the peer)", async () => {
    const { romeo, juliet } = setup();
    const mallory = router.createLink("mallory@evil.lit/x");
    juliet.handle("get", TEST_NS, "ask", async () => {
      await new Promise((r) => setTimeout(r, 30));
      return xml("answer", { xmlns: TEST_NS }, "genuine");
    });
    let id = "";
    router.observe((e) => {
      if (e.stanza.attrs.type === "get") id = e.stanza.attrs.id ?? "";
    });
    const pending = romeo.request(ping(JULIET));
    await expect.poll(() => id).not.toBe("");
    await mallory.send(
      xml("iq", { type: "result", id, to: ROMEO }, xml("answer", { xmlns: TEST_NS }, "forged")),
    );
    const result = await pending;
    expect(result.attrs.from).toBe(JULIET);
    expect(result.getChildText("answer", TEST_NS)).toBe("genuine");
  });

  it("times out, aborts, and rejects pending requests when the link closes", async () => {
    const { romeo, juliet } = setup();
    juliet.handle("get", TEST_NS, "ask", () => new Promise<undefined>(() => {}));
    await expect(romeo.request(ping(JULIET), { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const aborted = romeo.request(ping(JULIET), { signal: ac.signal });
    ac.abort(new Error("user cancelled"));
    await expect(aborted).rejects.toThrow("user cancelled");
    const closing = romeo.request(ping(JULIET));
    romeo.close();
    await expect(closing).rejects.toBeInstanceOf(LinkClosedError);
    await expect(romeo.send(xml("message", { to: JULIET }))).rejects.toBeInstanceOf(LinkClosedError);
  });

  it("answers disco#info with an identity and the registered features", async () => {
    const { romeo, juliet } = setup();
    const remove = juliet.disco.addFeature(NS.XTLS_IQ);
    const info = await queryDiscoInfo(romeo, JULIET);
    expect(info.identities).toEqual([{ category: "client", type: "pc", name: "xtls-ts", lang: undefined }]);
    expect(info.features).toContain(NS.XTLS_IQ);
    expect(info.features).toContain(NS.DISCO_INFO);
    remove();
    expect((await queryDiscoInfo(romeo, JULIET)).features).not.toContain(NS.XTLS_IQ);
  });
});

describe("LocalRouter: messages, order and hooks", () => {
  const collect = (link: { onStanza(l: (s: Element) => void): unknown }) => {
    const got: Element[] = [];
    link.onStanza((s) => got.push(s));
    return got;
  };

  it("delivers in order per pair, even with latency", async () => {
    router = new LocalRouter();
    const romeo = router.createLink(ROMEO, { latencyMs: 5 });
    const juliet = router.createLink(JULIET);
    const got = collect(juliet);
    for (let i = 0; i < 20; i++) {
      romeo.latencyMs = i % 2 === 0 ? 8 : 0; // alternating delays must not reorder
      await romeo.send(xml("message", { to: JULIET, id: String(i) }));
    }
    await expect.poll(() => got.length).toBe(20);
    expect(got.map((s) => s.attrs.id)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });

  it("delivers a re-parsed copy: the receiver never shares the sender's element", async () => {
    const { romeo, juliet } = setup();
    const got = collect(juliet);
    const sent = xml("message", { to: JULIET }, xml("body", {}, "a < b & c"));
    await romeo.send(sent);
    await new Promise((r) => setImmediate(r));
    expect(got[0]).not.toBe(sent);
    expect(got[0]?.getChildText("body")).toBe("a < b & c");
    expect(got[0]?.getNS()).toBe(NS.CLIENT);
  });

  it("lets an interceptor drop, tamper with and duplicate stanzas", async () => {
    const { romeo, juliet } = setup();
    const got = collect(juliet);
    router.intercept((s) => {
      if (s.attrs.id === "drop") return null;
      if (s.attrs.id === "dup") return [s, s];
      if (s.attrs.id === "tamper") return xml("message", { ...s.attrs }, xml("body", {}, "tampered"));
      return undefined;
    });
    for (const id of ["drop", "dup", "tamper"])
      await romeo.send(xml("message", { to: JULIET, id }, xml("body", {}, id)));
    await new Promise((r) => setImmediate(r));
    expect(got.map((s) => `${s.attrs.id}:${s.getChildText("body")}`)).toEqual([
      "dup:dup",
      "dup:dup",
      "tamper:tampered",
    ]);
  });

  it("interposes a relaying man in the middle who can read, forward and forge", async () => {
    const { romeo, juliet } = setup();
    const mitm = router.interpose(ROMEO, JULIET);
    const atJuliet = collect(juliet);
    mitm.asB.onStanza((s) => {
      // Mallory reads Romeo's message to Juliet and forwards a changed one, as Romeo
      void mitm.asA.send(
        xml("message", { to: JULIET }, xml("body", {}, `${s.getChildText("body")} (relayed)`)),
      );
    });
    await romeo.send(xml("message", { to: JULIET }, xml("body", {}, "hello")));
    await expect
      .poll(() => atJuliet.map((s) => [s.attrs.from, s.getChildText("body")]))
      .toEqual([[ROMEO, "hello (relayed)"]]);
    mitm.remove();
    await romeo.send(xml("message", { to: JULIET }, xml("body", {}, "direct")));
    await expect
      .poll(() => atJuliet.map((s) => s.getChildText("body")))
      .toEqual(["hello (relayed)", "direct"]);
  });

  it("injects stanzas with a forged 'from' (a compromised server)", async () => {
    const { juliet } = setup();
    const got = collect(juliet);
    router.inject(xml("message", { from: "tybalt@capulet.lit/x", to: JULIET }, xml("body", {}, "forged")));
    await new Promise((r) => setImmediate(r));
    expect(got[0]?.attrs.from).toBe("tybalt@capulet.lit/x");
  });

  it("answers server-addressed IQs like a bare server and bounces messages to offline users", async () => {
    const { romeo } = setup();
    const pong = await romeo.request(
      xml("iq", { type: "get", to: "capulet.lit" }, xml("ping", { xmlns: NS.PING })),
    );
    expect(pong.attrs.type).toBe("result");
    await expect(romeo.request(ping("capulet.lit"))).rejects.toSatisfy((e) =>
      StanzaError.is(e, "service-unavailable"),
    );
    const errors = collect(romeo);
    await romeo.send(xml("message", { to: "nurse@capulet.lit/x", id: "m1" }, xml("body", {}, "anyone?")));
    await expect.poll(() => errors.length).toBe(1);
    expect(errors[0]?.attrs.type).toBe("error");
    expect(StanzaError.fromStanza(errors[0]!).condition).toBe("service-unavailable");
  });
});
