// The harness itself: each property is only as good as the checks under it, so each
// check is shown to catch the fault it exists for.
import { NS, StanzaError, xml } from "@xtls/core";
import { afterAll, describe, expect, it } from "vitest";
import { escapedSince, escapeMark } from "./support/guards.js";
import { fuzzCase } from "./support/run.js";
import { closeShared, MALLORY, ROMEO, World } from "./support/world.js";

afterAll(closeShared);

const TEST_NS = "urn:xtls:fuzz:test";

async function worldWith(handler: Parameters<World["mallory"]["handle"]>[3]): Promise<World> {
  const world = await World.create();
  world.mallory.handle("set", TEST_NS, "q", handler);
  return world;
}

function ask(world: World, id = "h1") {
  world.router.inject(xml("iq", { type: "set", id, from: ROMEO, to: MALLORY }, xml("q", { xmlns: TEST_NS })));
}

describe("the fuzz harness", () => {
  it("passes a world where every IQ is answered once", async () => {
    const world = await worldWith(() => undefined);
    ask(world);
    await world.settle();
    expect(world.check()).toEqual([]);
    await world.close();
  });

  it("reports an IQ get/set that is never answered", async () => {
    const world = await worldWith(() => new Promise(() => {}));
    ask(world);
    await world.settle(50);
    expect(world.check().join("\n")).toMatch(/^no reply \(0 of 1\)/);
    await world.close();
  });

  it("reports a second reply", async () => {
    const world = await worldWith((iq) => {
      void world.mallory.send(xml("iq", { type: "result", id: iq.id, to: iq.from }));
    });
    ask(world);
    await world.settle();
    expect(world.check().join("\n")).toMatch(/2 replies to 1 IQ get\/set/);
    await world.close();
  });

  it("reports a reply to a result", async () => {
    const world = await World.create();
    world.mallory.onStanza(() => {});
    world.router.inject(xml("iq", { type: "result", id: "r1", from: ROMEO, to: MALLORY }));
    await world.settle();
    void world.mallory.send(
      xml("iq", { type: "error", id: "r1", to: ROMEO }, new StanzaError("bad-request").toElement()),
    );
    await world.settle();
    expect(world.check().join("\n")).toMatch(/a reply to no IQ get\/set/);
    await world.close();
  });

  it.each([
    [
      "two defined conditions",
      xml(
        "error",
        { type: "cancel" },
        xml("bad-request", { xmlns: NS.STANZAS }),
        xml("conflict", { xmlns: NS.STANZAS }),
      ),
      /2 defined conditions/,
    ],
    ["no type", xml("error", {}, xml("bad-request", { xmlns: NS.STANZAS })), /type=undefined/],
    [
      "a bogus type",
      xml("error", { type: "fatal" }, xml("bad-request", { xmlns: NS.STANZAS })),
      /type="fatal"/,
    ],
    [
      "an undefined condition",
      xml("error", { type: "cancel" }, xml("oops", { xmlns: NS.STANZAS })),
      /undefined condition <oops\/>/,
    ],
    [
      "the legacy code",
      xml("error", { type: "cancel", code: "400" }, xml("bad-request", { xmlns: NS.STANZAS })),
      /legacy code/,
    ],
    [
      "a condition in the wrong namespace",
      xml("error", { type: "cancel" }, xml("bad-request")),
      /0 defined conditions/,
    ],
  ])("reports an error reply with %s", async (_what, error, pattern) => {
    const world = await worldWith((iq) => {
      void world.mallory.send(xml("iq", { type: "error", id: `${iq.id}-x`, to: iq.from }, error));
    });
    ask(world);
    await world.settle();
    expect(world.check().join("\n")).toMatch(pattern);
    await world.close();
  });

  it("reports a stanza that does not re-parse, without letting the router throw", async () => {
    const world = await World.create();
    const broken = xml("message", { to: ROMEO });
    broken.toString = () => "<message><x></message>";
    await world.mallory.send(broken);
    await world.settle();
    expect(world.check().join("\n")).toMatch(/does not re-parse/);
    await world.close();
  });

  it("reports a handler that crashed and an unhandled rejection", async () => {
    const mark = escapeMark();
    const failure = fuzzCase({}, async (world) => {
      world.mallory.handle("set", TEST_NS, "q", () => {
        void Promise.reject(new Error("nobody catches this"));
        throw new TypeError("a crash");
      });
      ask(world);
    });
    await expect(failure).rejects.toThrow(
      /a crash[\s\S]*nobody catches this|nobody catches this[\s\S]*a crash/,
    );
    expect(escapedSince(mark).length).toBeGreaterThanOrEqual(2);
  });
});
