// Mode Q, the IQ-based XTLS tunnel (urn:xmpp:tmp:xtls): the <start/>, <data/> and
// <close/> handlers, on a fresh world, against the seed-001/002 fixtures, and inside
// live tunnels: a responder awaiting its first <data/>, an initiator handshaking with a
// scripted peer, and a tunnel open end to end (TLS done).
import * as fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import { payloads, spoofedReply, stanza } from "./support/arbitraries.js";
import { fuzzParams, SHARE } from "./support/config.js";
import { IQ_TUNNEL_FIXTURES, stanzaFixtures } from "./support/fixtures.js";
import { mutatedFixture } from "./support/mutations.js";
import { fuzzCase } from "./support/run.js";
import { closeShared, DEFAULT_POLICY, JULIET, MALLORY } from "./support/world.js";

afterAll(closeShared);

const tunnelStanza = stanza(payloads(["q:start", "q:data", "q:close", "q:proceed", "q:closed"]), {
  iq: 14,
  message: 1,
  presence: 2,
});
const fixtures = stanzaFixtures(/./, IQ_TUNNEL_FIXTURES);
const anyInput = fc.oneof(
  { weight: 6, arbitrary: tunnelStanza },
  { weight: 6, arbitrary: mutatedFixture(fixtures, { relive: 2 }) },
  { weight: 1, arbitrary: spoofedReply },
);

describe("Mode Q handlers", () => {
  it("answer every random or mutated stanza exactly once, fresh or inside a tunnel", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("fresh", "responder", "initiator"),
        fc.boolean(),
        fc.array(anyInput, { minLength: 1, maxLength: 3 }),
        fc.array(fc.boolean(), { maxLength: 3 }),
        async (state, accept, stanzas, burst) => {
          const policy = { ...DEFAULT_POLICY, modeq: accept };
          await fuzzCase({ romeo: policy, juliet: policy }, async (world) => {
            if (state === "responder") world.startModeQAtJuliet();
            if (state === "initiator") void world.openModeQ(MALLORY);
            await world.settle();
            await world.play(stanzas, burst);
          });
        },
      ),
      fuzzParams(SHARE.modeq),
    );
  });

  it("answer every random or mutated stanza exactly once inside an open tunnel", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyInput, { minLength: 1, maxLength: 6 }), async (stanzas) => {
        await fuzzCase({}, async (world) => {
          await world.until(world.openModeQ(JULIET));
          await world.settle(); // Juliet's side verifies Romeo a moment later
          await world.play(stanzas);
        });
      }),
      fuzzParams(SHARE.modeqOpen),
    );
  });
});
