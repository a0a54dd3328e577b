// The wire format of XEP-0065 and XEP-0260, against docs/protocol/test-vectors.md#dstaddr.
import { xml } from "@xtls/core";
import { describe, expect, it } from "vitest";
import {
  activateElement,
  candidatePriority,
  dstAddr,
  offerElement,
  parseQuery,
  parseTransport,
  streamhostUsedElement,
  transportElement,
} from "../src/index.js";
import { NS_S5B } from "./helpers.js";

const NS_JINGLE_S5B = "urn:xmpp:jingle:transports:s5b:1";

describe("DST.ADDR (XEP-0065 §5.3.2)", () => {
  it("reproduces XEP-0260's initiator and responder dstaddr", () => {
    expect(dstAddr("vj3hs98y", "romeo@montague.lit/orchard", "juliet@capulet.lit/balcony")).toBe(
      "972b7bf47291ca609517f67f86b5081086052dad",
    );
    expect(dstAddr("vj3hs98y", "juliet@capulet.lit/balcony", "romeo@montague.lit/orchard")).toBe(
      "1a12fb7bc625e55f3ed5b29a53dbe0e4aa7d80ba",
    );
  });

  it("reproduces XEP-0065's MUC example and our own vectors", () => {
    expect(dstAddr("yia72g3v49j7", "requester@example.com/foo", "room@conference.example.net/Tget")).toBe(
      "416781edf1ae50bad01cb8509ba35b43952bc345",
    );
    expect(dstAddr("s5b7f3a9c", "alice@a.example/desk", "bob@b.example/pda")).toBe(
      "bf8fef0d86b48ea0423a171b46e09177771b2ff7",
    );
    expect(dstAddr("s5b7f3a9c", "bob@b.example/pda", "alice@a.example/desk")).toBe(
      "cac483ec39a16d4655855787773ffcaabe03d4c7",
    );
  });
});

describe("XEP-0065 <query/>", () => {
  it("an offer round-trips: sid, mode, streamhosts with ports", () => {
    const offer = offerElement("s1", [
      { jid: "romeo@montague.lit/orchard", host: "127.0.0.1", port: 4000 },
      { jid: "proxy.montague.lit", host: "::1", port: 15000 },
    ]);
    expect(offer.toString()).toBe(
      `<query xmlns="${NS_S5B}" sid="s1" mode="tcp"><streamhost jid="romeo@montague.lit/orchard" host="127.0.0.1" port="4000"/><streamhost jid="proxy.montague.lit" host="::1" port="15000"/></query>`,
    );
    const parsed = parseQuery(offer);
    expect(parsed.sid).toBe("s1");
    expect(parsed.mode).toBe("tcp");
    expect(parsed.streamhosts).toEqual([
      { jid: "romeo@montague.lit/orchard", host: "127.0.0.1", port: 4000 },
      { jid: "proxy.montague.lit", host: "::1", port: 15000 },
    ]);
  });

  it("a missing port means 1080 (the schema's default); unusable streamhosts are skipped", () => {
    const parsed = parseQuery(
      xml(
        "query",
        { xmlns: NS_S5B, sid: "s" },
        xml("streamhost", { jid: "proxy.example", host: "10.0.0.1" }),
        xml("streamhost", { jid: "proxy.example", host: "10.0.0.2", port: "99999" }),
        xml("streamhost", { host: "10.0.0.3", port: "1" }),
        xml("streamhost", { jid: "a@b/c", port: "1" }),
      ),
    );
    expect(parsed.streamhosts).toEqual([{ jid: "proxy.example", host: "10.0.0.1", port: 1080 }]);
  });

  it("no sid is bad-request; streamhost-used and activate are read", () => {
    expect(() => parseQuery(xml("query", { xmlns: NS_S5B }))).toThrow(
      expect.objectContaining({ condition: "bad-request" }),
    );
    expect(parseQuery(streamhostUsedElement("s", "proxy.example")).used).toBe("proxy.example");
    expect(parseQuery(activateElement("s", "juliet@capulet.lit/balcony")).activate).toBe(
      "juliet@capulet.lit/balcony",
    );
  });
});

describe("XEP-0260 <transport/>", () => {
  it("priority = 2^16 × type preference + local preference (XEP-0260 §2.2)", () => {
    expect(candidatePriority("direct", 100)).toBe(8257636);
    expect(candidatePriority("proxy", 0)).toBe(655360);
    expect(candidatePriority("direct", 0)).toBeGreaterThan(candidatePriority("proxy", 65535));
  });

  it("round-trips candidates, dstaddr and mode; bad candidates are skipped", () => {
    const el = transportElement({
      sid: "vj3hs98y",
      dstaddr: "972b7bf47291ca609517f67f86b5081086052dad",
      mode: "tcp",
      candidates: [
        {
          cid: "hft54dqy",
          host: "192.168.4.1",
          jid: "romeo@montague.lit/orchard",
          port: 5086,
          priority: 8257636,
          type: "direct",
        },
        {
          cid: "hutr46fe",
          host: "24.24.24.1",
          jid: "streamer.shakespeare.lit",
          port: 5087,
          priority: 655360,
          type: "proxy",
        },
      ],
    });
    el.append(
      xml("candidate", { cid: "x", host: "h", jid: "j@d/r", port: "1", priority: "1", type: "teleport" }),
    );
    el.append(xml("candidate", { cid: "y", host: "h", jid: "j@d/r", port: "1" }));
    const t = parseTransport(el);
    expect(el.attrs.xmlns).toBe(NS_JINGLE_S5B);
    expect(t.sid).toBe("vj3hs98y");
    expect(t.mode).toBe("tcp");
    expect(t.dstaddr).toBe("972b7bf47291ca609517f67f86b5081086052dad");
    expect(t.candidates.map((c) => [c.cid, c.type, c.priority, c.port])).toEqual([
      ["hft54dqy", "direct", 8257636, 5086],
      ["hutr46fe", "proxy", 655360, 5087],
    ]);
  });

  it("reads the transport-info payloads", () => {
    const info = (child: ReturnType<typeof xml>) =>
      parseTransport(xml("transport", { xmlns: NS_JINGLE_S5B, sid: "s" }, child));
    expect(info(xml("candidate-used", { cid: "c1" })).used).toBe("c1");
    expect(info(xml("candidate-error")).error).toBe(true);
    expect(info(xml("activated", { cid: "c2" })).activated).toBe("c2");
    expect(info(xml("proxy-error")).proxyError).toBe(true);
    expect(() => parseTransport(xml("transport", { xmlns: NS_JINGLE_S5B }))).toThrow(
      expect.objectContaining({ condition: "bad-request" }),
    );
  });
});
