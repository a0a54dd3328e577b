// The draft's flow through ejabberd between two real @xmpp/client connections: Jingle +
// XTLS (TLS 1.3) + IBB + the end-to-end XML stream; and first contact with srp.
import { fromXmppClient, NS, queryDiscoInfo } from "@xtls/core";
import { supportsXtls } from "@xtls/jingle-xtls";
import { srpFirstContactFlow, xmlStreamFlow } from "@xtls/testkit/flows";
import { type Party, partyOn } from "@xtls/testkit/parties";
import { cleanUp } from "@xtls/testkit/support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, watchDrops } from "./helpers.js";

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
    await xmlStreamFlow(romeo, juliet, { bulkTimeoutMs: 60_000 });
    expect(drops.map((d) => d.dropped)).toEqual([false, false]);
  }, 90_000);

  it("bootstraps first contact with srp through the server, then the next session needs no password", async () => {
    const [b, n] = await Promise.all([connect("benvolio", "montague.lit"), connect("nurse", "capulet.lit")]);
    await srpFirstContactFlow(fromXmppClient(b), fromXmppClient(n));
  }, 60_000);
});
