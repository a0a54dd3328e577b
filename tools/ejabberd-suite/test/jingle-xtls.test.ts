// The draft's flow through ejabberd between two real @xmpp/client connections: Jingle +
// XTLS (TLS 1.3) + IBB + the end-to-end XML stream; and first contact with srp.
import { createHash } from "node:crypto";
import { fromXmppClient, NS, queryDiscoInfo, xml } from "@xtls/core";
import { supportsXtls, type XtlsChannel } from "@xtls/jingle-xtls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanUp,
  connect,
  identityOf,
  inbox,
  JULIET_LINE,
  openXmlStreamSession,
  type Party,
  partyOn,
  ROMEO_LINE,
  until,
  watchDrops,
} from "./helpers.js";

let romeo: Party;
let juliet: Party;
let drops: ReturnType<typeof watchDrops>[];

beforeAll(async () => {
  const [r, j] = await Promise.all([connect("romeo", "montague.lit"), connect("juliet", "capulet.lit")]);
  drops = [watchDrops(r), watchDrops(j)];
  romeo = await partyOn(fromXmppClient(r), { pins: ["juliet@capulet.lit"] });
  juliet = await partyOn(fromXmppClient(j), { pins: ["romeo@montague.lit"] });
});

afterAll(cleanUp);

describe("Jingle + XTLS + IBB through ejabberd", () => {
  it("discovers XTLS support on the peer through the server", async () => {
    const info = await queryDiscoInfo(romeo.link, juliet.link.jid);
    expect(supportsXtls(info.features)).toBe(true);
    expect(info.features).toContain(NS.JINGLE_IBB);
  });

  it("runs the whole flow, and moves 4 MiB of stanzas through the end-to-end XML stream intact", async () => {
    const opened = await openXmlStreamSession(romeo, juliet);
    expect((opened.session.secured as XtlsChannel).peer.fingerprint).toBe(
      identityOf("juliet@capulet.lit").fingerprint,
    );
    expect((opened.responder.secured as XtlsChannel).peer.fingerprint).toBe(
      identityOf("romeo@montague.lit").fingerprint,
    );
    const atJuliet = inbox(opened.juliet);
    const atRomeo = inbox(opened.romeo);
    await opened.romeo.send(xml("message", { type: "chat" }, xml("body", {}, ROMEO_LINE)));
    await opened.juliet.send(xml("message", { type: "chat" }, xml("body", {}, JULIET_LINE)));
    await until(() => atJuliet.length === 1 && atRomeo.length === 1);
    expect(atJuliet[0]?.attrs.from).toBe(romeo.link.jid);
    expect(atRomeo[0]?.getChildText("body")).toBe(JULIET_LINE);
    opened.juliet.handle("get", "urn:xmpp:ping", "ping", () => undefined);
    const pong = await opened.romeo.request(
      xml("iq", { type: "get" }, xml("ping", { xmlns: "urn:xmpp:ping" })),
    );
    expect(pong.attrs.type).toBe("result");

    const sent = createHash("sha256");
    const chunk = 32 * 1024;
    let total = 0;
    let n = 0;
    while (total < 4 * 1024 * 1024) {
      const body = createHash("sha512")
        .update(String(n))
        .digest("hex")
        .repeat(chunk / 128);
      sent.update(body);
      total += body.length;
      await opened.romeo.send(xml("message", { id: `bulk${n++}` }, xml("body", {}, body)));
    }
    await until(() => atJuliet.length === n + 1, 60_000);
    const got = createHash("sha256");
    for (const m of atJuliet.slice(1)) got.update(m.getChildText("body") ?? "");
    expect(got.digest("hex")).toBe(sent.digest("hex"));
    expect(atJuliet.slice(1).map((m) => m.attrs.id)).toEqual(Array.from({ length: n }, (_, i) => `bulk${i}`));

    await opened.romeo.close();
    await Promise.all([opened.session.done, opened.responder.done]);
    expect(drops.map((d) => d.dropped)).toEqual([false, false]);
  }, 90_000);

  it("bootstraps first contact with srp through the server, then the next session needs no password", async () => {
    const [b, n] = await Promise.all([connect("benvolio", "montague.lit"), connect("nurse", "capulet.lit")]);
    let asked = 0;
    const askPassword = async () => {
      asked++;
      return "a-plague-on-both-your-houses";
    };
    const benvolio = await partyOn(fromXmppClient(b), { security: { askPassword } });
    const nurse = await partyOn(fromXmppClient(n), { security: { askPassword } });
    for (let round = 0; round < 2; round++) {
      const opened = await openXmlStreamSession(benvolio, nurse);
      const got = inbox(opened.juliet);
      await opened.romeo.send(
        xml("message", {}, xml("body", {}, "Here comes the furious Tybalt back again")),
      );
      await until(() => got.length === 1);
      expect(got[0]?.getChildText("body")).toBe("Here comes the furious Tybalt back again");
      await opened.romeo.close();
      await Promise.all([opened.session.done, opened.responder.done]);
    }
    expect(asked).toBe(2); // once per side, in the first session only
    expect(await benvolio.trust.entries("nurse@capulet.lit")).toEqual([
      expect.objectContaining({ fingerprint: identityOf("nurse@capulet.lit").fingerprint, method: "srp" }),
    ]);
    expect(await nurse.trust.entries("benvolio@montague.lit")).toEqual([
      expect.objectContaining({
        fingerprint: identityOf("benvolio@montague.lit").fingerprint,
        method: "srp",
      }),
    ]);
  }, 60_000);
});
