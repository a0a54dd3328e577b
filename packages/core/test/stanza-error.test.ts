import { describe, expect, it } from "vitest";
import { NS, StanzaError, xml } from "../src/index.js";

describe("StanzaError ↔ <error/> (RFC 6120 §8.3)", () => {
  it("serialises condition, default type, text and app condition, without a legacy code", () => {
    const err = new StanzaError("item-not-found", {
      text: "unknown IBB session",
      appCondition: { name: "unknown-session", ns: NS.JINGLE_ERRORS },
    });
    expect(err.type).toBe("cancel");
    expect(err.toElement().toString()).toBe(
      `<error type="cancel"><item-not-found xmlns="${NS.STANZAS}"/>` +
        `<text xmlns="${NS.STANZAS}" xml:lang="en">unknown IBB session</text>` +
        `<unknown-session xmlns="${NS.JINGLE_ERRORS}"/></error>`,
    );
  });

  it("round-trips through the element", () => {
    const err = new StanzaError("conflict", { type: "cancel", text: "simultaneous start", by: "a@b/c" });
    const back = StanzaError.fromElement(err.toElement());
    expect([back.condition, back.type, back.text, back.by]).toEqual([
      "conflict",
      "cancel",
      "simultaneous start",
      "a@b/c",
    ]);
  });

  it("reads the ProtoXEP's legacy example (code='404') by its condition", () => {
    const el = xml("error", { code: "404", type: "cancel" }, xml("item-not-found", { xmlns: NS.STANZAS }));
    const err = StanzaError.fromElement(el);
    expect(err.condition).toBe("item-not-found");
    expect(StanzaError.is(err, "item-not-found")).toBe(true);
  });

  it("is lenient with broken input: unknown condition, bad type, missing element", () => {
    expect(
      StanzaError.fromElement(xml("error", { type: "bogus" }, xml("nonsense", { xmlns: NS.STANZAS })))
        .condition,
    ).toBe("undefined-condition");
    expect(
      StanzaError.fromElement(xml("error", { type: "bogus" }, xml("forbidden", { xmlns: NS.STANZAS }))).type,
    ).toBe("auth");
    expect(StanzaError.fromElement(undefined).condition).toBe("undefined-condition");
  });
});
