// XEP-0065 SOCKS5 Bytestreams: the Target's <query/> handler, on a fresh world and
// while an offer is expected or a bytestream with the same sid is already up.
// Streamhosts offered are loopback servers of this suite (one completes SOCKS5, one
// hangs up, one port is closed); any other host is blocked by the guard, never reached.
import * as fc from "fast-check";
import { afterAll, describe, it } from "vitest";
import { payloads, stanza } from "./support/arbitraries.js";
import { fuzzParams, SHARE } from "./support/config.js";
import { ALL_FIXTURES, stanzaFixtures } from "./support/fixtures.js";
import { mutatedFixture } from "./support/mutations.js";
import { fuzzCase } from "./support/run.js";
import { closeShared, DEFAULT_POLICY, ROMEO } from "./support/world.js";

afterAll(closeShared);

const s5bStanza = stanza(payloads(["s5b:query"]), { iq: 12, message: 1, presence: 1 });
// No seed has a SOCKS5 example; mutations of the others (namespaces swapped) stand in.
const fixtures = stanzaFixtures(/./, ALL_FIXTURES);

describe("SOCKS5 <query/> handler", () => {
  it("answers every random or mutated offer exactly once, fresh, expected or busy", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("fresh", "expected", "busy"),
        fc.boolean(),
        fc.array(
          fc.oneof({ weight: 4, arbitrary: s5bStanza }, { weight: 1, arbitrary: mutatedFixture(fixtures) }),
          {
            minLength: 1,
            maxLength: 3,
          },
        ),
        async (state, accept, stanzas) => {
          const policy = { ...DEFAULT_POLICY, s5b: accept };
          await fuzzCase({ romeo: policy, juliet: policy }, async (world) => {
            if (state === "expected") world.expectS5b(world.juliet, ROMEO);
            if (state === "busy") {
              world.expectS5b(world.juliet, ROMEO);
              world.inject({
                name: "iq",
                attrs: { type: "set", id: "s5b-1", from: ROMEO, to: world.juliet.jid },
                children: [
                  {
                    name: "query",
                    attrs: { xmlns: "http://jabber.org/protocol/bytestreams", sid: "vj3hs98y", mode: "tcp" },
                    children: [
                      {
                        name: "streamhost",
                        attrs: { jid: ROMEO, host: "127.0.0.1", port: String(world.streamhosts.okPort) },
                        children: [],
                      },
                    ],
                  },
                ],
              });
              await world.settle();
            }
            await world.play(stanzas);
          });
        },
      ),
      fuzzParams(SHARE.socks5),
    );
  });
});
