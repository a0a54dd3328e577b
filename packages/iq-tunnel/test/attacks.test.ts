// Mode Q against a tampering server: a forged refusal of <start/> (no fallback to the
// clear), and replayed or reordered <data/> chunks (TLS refuses them; nothing is
// delivered twice).
import { NS, StanzaError, xml } from "@xtls/core";
import { afterEach, describe, expect, it } from "vitest";
import { type IqTunnel, TunnelRefusedError } from "../src/index.js";
import { closeRouters, JULIET, pair, ROMEO, stanzasOf, until } from "./helpers.js";

afterEach(closeRouters);

describe("Mode Q under a tampering server", () => {
  it("a forged service-unavailable to <start/>: open() fails with TunnelRefusedError and nothing is sent in the clear", async () => {
    const { router, wire, romeo } = await pair();
    router.intercept((stanza) => {
      const start = stanza.getChild("start", NS.XTLS_IQ);
      if (!start || stanza.attrs.from !== ROMEO) return undefined;
      // The server swallows the start and answers in Juliet's name.
      setImmediate(() =>
        router.inject(
          xml(
            "iq",
            { type: "error", id: stanza.attrs.id, from: JULIET, to: ROMEO },
            new StanzaError("service-unavailable").toElement(),
          ),
        ),
      );
      return null;
    });
    const error = await romeo.service.open(JULIET).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TunnelRefusedError);
    expect(StanzaError.is((error as TunnelRefusedError).cause, "service-unavailable")).toBe(true);
    // No tunnel, so no way to send: the API has no clear-text fallback at all.
    expect(romeo.service.tunnel(JULIET)).toBeUndefined();
    expect(wire.filter((e) => e.from === ROMEO && e.stanza.name === "message")).toEqual([]);
  });

  it.each(["replayed", "reordered"] as const)(
    "%s <data/> chunks are refused by TLS: the tunnel closes with a typed error, nothing is delivered twice",
    async (attack) => {
      // Several <data/> in flight, so that a later chunk can overtake an earlier one.
      const { router, romeo, juliet } = await pair({ window: 4 });
      const incoming = new Promise<IqTunnel>((r) => juliet.service.once("tunnel", r));
      const ours = await romeo.service.open(JULIET);
      const theirs = await incoming;
      const got = stanzasOf(theirs);
      const held: ReturnType<typeof xml>[] = [];
      router.intercept((stanza, route) => {
        const data = stanza.getChild("data", NS.XTLS_IQ);
        if (!data || route.from !== ROMEO || stanza.attrs.type !== "set") return undefined;
        if (attack === "replayed") {
          const copy = xml(
            "iq",
            { ...stanza.attrs, id: `${stanza.attrs.id}-x` },
            xml("data", { ...data.attrs }, data.getText()),
          );
          return [stanza, copy];
        }
        // reordered: hold the first chunk, deliver it after the second
        if (held.length === 0) {
          held.push(stanza);
          return null;
        }
        return [stanza, ...held.splice(0)];
      });
      const closed = new Promise<Error | undefined>((r) => theirs.once("close", r));
      const body = "x".repeat(attack === "reordered" ? 10_000 : 100); // two chunks at least
      await ours.send(xml("message", {}, xml("body", {}, body))).catch(() => {});
      await ours.send(xml("message", {}, xml("body", {}, body))).catch(() => {});
      const error = await closed;
      expect(error).toBeInstanceOf(Error);
      await until(() => ours.state === "closed");
      expect(got.length).toBeLessThanOrEqual(1);
    },
  );
});
