// What every link answers whatever runs on it: disco#info (XEP-0030, with and without a
// caps node), payloads nobody handles (service-unavailable), IQs with no payload or two
// (bad-request), IQs of no valid type; and, across handlers, any stanza of any kind while
// IBB, Jingle and Mode Q sessions are live at once (presence unavailable included).
import * as fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import { payloads, randomElement, spoofedReply, stanza } from "./support/arbitraries.js";
import { fuzzParams, SHARE } from "./support/config.js";
import { ALL_FIXTURES, stanzaFixtures } from "./support/fixtures.js";
import { mutatedFixture } from "./support/mutations.js";
import { fuzzCase } from "./support/run.js";
import { closeShared, DEFAULT_POLICY } from "./support/world.js";

afterAll(closeShared);

const discoStanza = stanza(
  fc.oneof(
    { weight: 6, arbitrary: payloads(["disco:query", "disco:items", "ping", "pubkey:pubkeys"]) },
    { weight: 2, arbitrary: randomElement },
  ),
  { iq: 12, message: 1, presence: 1 },
);
const anyStanza = stanza(
  payloads([
    "ibb:open",
    "ibb:data",
    "ibb:close",
    "s5b:query",
    "jingle:jingle",
    "q:start",
    "q:data",
    "q:close",
    "disco:query",
  ]),
  { iq: 8, message: 2, presence: 2 },
);
const fixtures = stanzaFixtures(/./, ALL_FIXTURES);

describe("every link", () => {
  it("answers disco#info, unknown payloads and malformed IQs exactly once, well-formed", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(discoStanza, { minLength: 1, maxLength: 3 }), async (stanzas) => {
        await fuzzCase({}, (world) => world.play(stanzas));
      }),
      fuzzParams(SHARE.disco),
    );
  });

  it("answers any stanza exactly once while IBB, Jingle and Mode Q sessions are live together", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            { weight: 4, arbitrary: anyStanza },
            { weight: 3, arbitrary: mutatedFixture(fixtures, { relive: 3 }) },
            { weight: 1, arbitrary: spoofedReply },
            { weight: 1, arbitrary: discoStanza },
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.array(fc.boolean(), { maxLength: 4 }),
        async (stanzas, burst) => {
          const juliet = { ...DEFAULT_POLICY, jingle: "hold" as const };
          await fuzzCase({ juliet }, async (world) => {
            await world.openIbb(world.juliet, world.romeo, "live-ibb");
            world.initiateJingle();
            world.startModeQAtJuliet();
            await world.settle();
            await world.play(stanzas, burst);
          });
        },
      ),
      fuzzParams(SHARE.mixed),
    );
  });
});
