// Golden fixtures: every example stanza of seeds 001 and 002 (corrected where the seed's XML
// is malformed; see fixtures/README.md), checked in both directions: we read each one with the
// code the tunnel uses, and what we emit for the same step has the same shape.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { decodeBase64Strict, type Element, NS, parseDiscoInfo, StanzaError, xml } from "@xtls/core";
import { canonical, fixtureText, parseOne } from "@xtls/testkit/stanzas";
import { describe, expect, it } from "vitest";
import { offerElement, parseOffer } from "../src/index.js";
import { JULIET, ROMEO, setup, until } from "./helpers.js";

const DIR = join(import.meta.dirname, "..", "fixtures");
const files = ["seed-001", "seed-002"].flatMap((d) =>
  readdirSync(join(DIR, d))
    .filter((f) => f.endsWith(".xml"))
    .map((f) => `${d}/${f}`),
);

/** The fixture file's stanza (its leading comment is documentation for people). */
function load(file: string): Element {
  return parseOne(fixtureText(join(DIR, file)));
}

interface Shape {
  name: string;
  ns: string | undefined;
  attrs: string[];
  children: Shape[];
}

/** Structure without the per-exchange values (ids, JIDs, payload text). */
function shape(el: Element): Shape {
  return {
    name: el.getName(),
    ns: el.getNS(),
    attrs: Object.keys(el.attrs)
      .filter((k) => !["id", "from", "to", "xmlns"].includes(k))
      .sort(),
    children: el.getChildElements().map(shape),
  };
}

describe("golden fixtures from seeds 001 and 002", () => {
  it("has every example (12 from the mail, 18 from the ProtoXEP)", () => {
    expect(files.filter((f) => f.startsWith("seed-001"))).toHaveLength(12);
    expect(files.filter((f) => f.startsWith("seed-002"))).toHaveLength(18);
  });

  it.each(files)("%s parses as restricted XML and survives serialise → parse unchanged", (file) => {
    const el = load(file);
    expect(canonical(parseOne(el.toString()))).toEqual(canonical(el));
  });

  it.each(files)("%s reads with the tunnel's own parsers", (file) => {
    const el = load(file);
    const payload = el.getChildElements()[0];
    if (el.attrs.type === "error") {
      const err = StanzaError.fromStanza(el);
      expect(["service-unavailable", "not-acceptable", "conflict", "item-not-found"]).toContain(
        err.condition,
      );
      expect(err.type).toBe("cancel");
    } else if (payload?.is("start", NS.XTLS_IQ) || payload?.is("proceed", NS.XTLS_IQ)) {
      const offer = parseOffer(payload);
      if (payload.getChild("offer", NS.C2CTLS)) {
        expect(offer?.fingerprints).toHaveLength(1);
        expect(offer?.fingerprints[0]).toMatch(/^[0-9a-f]{64}$/);
        expect(offer?.srp).toBe(true);
      } else expect(offer).toBeUndefined();
    } else if (payload?.is("data", NS.XTLS_IQ)) {
      expect(decodeBase64Strict(payload.getText()).toString()).toMatch(/^TLS-/);
      if (file.includes("client-hello")) expect(payload.attrs.method).toBe("x509");
    } else if (payload?.is("query", NS.DISCO_INFO) && el.attrs.type === "result") {
      expect(parseDiscoInfo(payload)).toEqual({ identities: [], features: [NS.XTLS_IQ] });
    } else if (el.name === "message") {
      expect(el.getChildText("body")).toContain("I take thee at thy word:");
      expect(el.getChild("active", NS.CHATSTATES)).toBeDefined();
    }
  });

  it("what we build for offers, closes and errors has the fixtures' shape", () => {
    const startOffer = load("seed-002/06-start-offer.xml").getChildElements()[0]!;
    const fp = parseOffer(startOffer)!.fingerprints[0]!;
    const ours = xml(
      "start",
      { xmlns: NS.XTLS_IQ },
      offerElement({ fingerprints: [fp], srp: true, insecure: false }),
    );
    expect(canonical(parseOne(xml("iq", {}, ours).toString()).getChildElements()[0]!)).toEqual(
      canonical(parseOne(xml("iq", {}, startOffer).toString()).getChildElements()[0]!),
    );
    for (const [file, condition] of [
      ["seed-002/03-service-unavailable.xml", "service-unavailable"],
      ["seed-002/05-conflict.xml", "conflict"],
      ["seed-002/16-item-not-found.xml", "item-not-found"],
    ] as const) {
      const fixtureError = load(file).getChild("error")!;
      const built = parseOne(
        xml("iq", { type: "error" }, new StanzaError(condition).toElement()).toString(),
      ).getChild("error")!;
      expect(shape(built)).toEqual({
        ...shape(fixtureError),
        attrs: shape(fixtureError).attrs.filter((a) => a !== "code"),
      });
    }
    const notAcceptable = parseOne(
      xml(
        "iq",
        { type: "error" },
        new StanzaError("not-acceptable", { type: "cancel" }).toElement(),
      ).toString(),
    ).getChild("error")!;
    expect(shape(notAcceptable)).toEqual(shape(load("seed-002/04-not-acceptable.xml").getChild("error")!));
  });

  it("a real session on the embedded router emits stanzas of the fixtures' shapes", async () => {
    const { parties, wire, router } = await setup([ROMEO, JULIET]);
    const [romeo, juliet] = parties as [(typeof parties)[0], (typeof parties)[0]];
    const theirs = new Promise<unknown>((r) => juliet.service.once("tunnel", r));
    const tunnel = await romeo.service.open(JULIET);
    await theirs;
    await tunnel.close();
    await until(() => wire.some((e) => e.stanza.getChild("closed", NS.XTLS_IQ)));
    const firstOf = (pred: (e: Element) => boolean) => wire.map((e) => e.stanza).find(pred)!;
    const payloadIs = (name: string) => (e: Element) =>
      e.getChildElements()[0]?.is(name, NS.XTLS_IQ) === true;
    const noSrp = (s: Shape): Shape => ({
      ...s,
      children: s.children.map(noSrp).filter((c) => c.name !== "srp"),
    });
    expect(shape(firstOf(payloadIs("start")))).toEqual(noSrp(shape(load("seed-002/06-start-offer.xml"))));
    expect(shape(firstOf(payloadIs("proceed")))).toEqual(noSrp(shape(load("seed-002/07-proceed-offer.xml"))));
    expect(shape(firstOf(payloadIs("data")))).toEqual(shape(load("seed-002/08-data-client-hello.xml")));
    expect(shape(wire.map((e) => e.stanza).filter(payloadIs("data"))[1]!)).toEqual(
      shape(load("seed-002/10-data-server.xml")),
    );
    expect(shape(firstOf(payloadIs("close")))).toEqual(shape(load("seed-002/14-close.xml")));
    expect(shape(firstOf(payloadIs("closed")))).toEqual(shape(load("seed-002/15-closed.xml")));
    const ack = wire
      .map((e) => e.stanza)
      .find((s) => s.attrs.type === "result" && s.getChildElements().length === 0)!;
    expect(shape(ack)).toEqual(shape(load("seed-002/09-data-ack.xml")));
    router.close();
  });
});
