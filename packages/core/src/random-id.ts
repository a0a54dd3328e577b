/**
 * Random identifiers (stanza ids, session and stream ids) drawn from a pooled buffer of
 * CSPRNG output: one `randomFillSync` per 4 KiB instead of one per identifier, which was
 * ~2.5% of a full tunnel setup's CPU in the scale benchmark (three IQs and two sids each).
 *
 * Still unpredictable, and every octet is used once. Threat it keeps stopping: an
 * attacker who could guess the id of a pending IQ, or a Jingle sid or IBB sid, could
 * forge the reply or inject into the session from a spoofed address (our handlers also
 * check the sender, so this is defence in depth).
 */
import { randomFillSync } from "node:crypto";

const pool = Buffer.alloc(4096);
let used = pool.length;

/** `octets` fresh random octets, encoded (base64url by default). */
export function randomId(octets = 9, encoding: "base64url" | "hex" = "base64url"): string {
  if (!Number.isInteger(octets) || octets < 1 || octets > 256) {
    throw new RangeError(`randomId: ${octets} octets (1–256)`);
  }
  if (used + octets > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const id = pool.toString(encoding, used, used + octets);
  pool.fill(0, used, used + octets);
  used += octets;
  return id;
}
