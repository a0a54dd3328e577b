import { describe, expect, it } from "vitest";
import { AbortError, type Element, IqEngine, StanzaError, xml } from "../src/index.js";

const OWN = "romeo@montague.lit/orchard";
const PEER = "juliet@capulet.lit/balcony";

const ask = () => xml("iq", { type: "get", to: PEER }, xml("ask", { xmlns: "urn:example:test" }));

describe("IqEngine.request", () => {
  it("delivers an error reply that arrives before the write settles, without an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let engine!: IqEngine;
      engine = new IqEngine({
        ownJid: () => OWN,
        // A transport that reports the write done only after the peer already answered
        // (an xmpp.js client acknowledging through stream management does exactly this).
        write: async (iq: Element) => {
          engine.receiveReply(
            xml(
              "iq",
              { type: "error", id: iq.attrs.id, from: PEER },
              new StanzaError("item-not-found").toElement(),
            ),
          );
          await new Promise((r) => setTimeout(r, 20));
        },
      });
      await expect(engine.request(ask())).rejects.toSatisfy((e) => StanzaError.is(e, "item-not-found"));
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("does not write a request whose signal is already aborted", async () => {
    const written: Element[] = [];
    const engine = new IqEngine({ ownJid: () => OWN, write: async (s) => void written.push(s) });
    const controller = new AbortController();
    controller.abort(new Error("user gave up"));
    await expect(engine.request(ask(), { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    expect(written).toEqual([]);
  });
});
