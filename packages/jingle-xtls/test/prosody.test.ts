// The draft's flow through the project's Prosody between two real @xmpp/client
// connections: romeo@montague.lit and juliet@capulet.lit (two virtual hosts, no s2s).
import { fromXmppClient, NS, queryDiscoInfo } from "@xtls/core";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";
import { srpFirstContactFlow, xmlStreamFlow } from "@xtls/testkit/flows";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { supportsXtls } from "../src/index.js";
import { type Party, partyOn } from "./helpers.js";

const clients: XmppClient[] = [];
let romeo: Party;
let juliet: Party;

beforeAll(async () => {
  const [r, j] = await Promise.all([
    connectXmppClient({ username: "romeo", domain: "montague.lit" }),
    connectXmppClient({ username: "juliet", domain: "capulet.lit" }),
  ]);
  clients.push(r, j);
  romeo = await partyOn(fromXmppClient(r), { pins: ["juliet@capulet.lit"] });
  juliet = await partyOn(fromXmppClient(j), { pins: ["romeo@montague.lit"] });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop().catch(() => {})));
});

describe("Jingle + XTLS + IBB through Prosody", () => {
  it("discovers XTLS support on the peer through the server", async () => {
    const info = await queryDiscoInfo(romeo.link, juliet.link.jid);
    expect(supportsXtls(info.features)).toBe(true);
    expect(info.features).toContain(NS.JINGLE_IBB);
  });

  it("runs the whole flow, and moves 4 MiB of stanzas through the XML stream intact", async () => {
    await xmlStreamFlow(romeo, juliet, { bulkTimeoutMs: 90_000 });
  }, 120_000);

  it("bootstraps first contact with srp through the server, then the next session needs no password", async () => {
    const [b, n] = await Promise.all([
      connectXmppClient({ username: "benvolio", domain: "montague.lit" }),
      connectXmppClient({ username: "nurse", domain: "capulet.lit" }),
    ]);
    clients.push(b, n);
    await srpFirstContactFlow(fromXmppClient(b), fromXmppClient(n));
  }, 60_000);
});
