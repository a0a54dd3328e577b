import { randomBytes } from "node:crypto";
import tls from "node:tls";
import { duplexPair } from "@xtls/core";
import { describe, expect, it } from "vitest";
import {
  deriveSas,
  MessageType,
  SAS_EMOJI,
  type SasConfirmRequest,
  SasMismatchError,
  type SessionBinding,
  type ShortAuthenticationString,
} from "../src/index.js";
import {
  channelOf,
  collect,
  errorOf,
  handshake,
  handshakeThroughRelay,
  JULIET,
  julietId,
  ROMEO,
  romeoId,
  strangers,
} from "./helpers.js";

/**
 * Two people looking at their screens: each sees its code, and they answer "same"
 * only if both codes are the same (like reading them to each other on the phone).
 */
function twoPeople() {
  const shown: { romeo?: SasConfirmRequest; juliet?: SasConfirmRequest } = {};
  let bothShown!: () => void;
  const both = new Promise<void>((resolve) => {
    bothShown = resolve;
  });
  const look = (who: "romeo" | "juliet") => async (request: SasConfirmRequest) => {
    shown[who] = request;
    if (shown.romeo && shown.juliet) bothShown();
    await both;
    return sameCode(shown.romeo!, shown.juliet!);
  };
  return {
    shown,
    options: {
      romeo: { auth: { method: "sas" as const, confirmSas: look("romeo") } },
      juliet: { auth: { method: "sas" as const, confirmSas: look("juliet") } },
    },
  };
}

const code = (s: ShortAuthenticationString) => ({ digits: s.digits, emoji: s.emoji.map((e) => e.index) });
const sameCode = (a: ShortAuthenticationString, b: ShortAuthenticationString) =>
  JSON.stringify(code(a)) === JSON.stringify(code(b));

describe("SAS: users compare a short code", () => {
  it("shows both sides the same 6 digits and 7 emoji; confirming pins each other as verified/sas", async () => {
    const { romeo, juliet } = strangers();
    const people = twoPeople();
    const { initiator, responder } = await handshake(romeo, juliet, people.options);
    const r = channelOf(initiator);
    const j = channelOf(responder);
    const { romeo: atRomeo, juliet: atJuliet } = people.shown;
    expect(atRomeo?.digits).toMatch(/^\d{6}$/);
    expect(atRomeo?.emoji).toHaveLength(7);
    expect(code(atRomeo!)).toEqual(code(atJuliet!));
    expect(atRomeo?.emoji[0]).toEqual({
      index: atRomeo?.emoji[0]?.index,
      emoji: SAS_EMOJI[atRomeo!.emoji[0]!.index]![0],
      description: SAS_EMOJI[atRomeo!.emoji[0]!.index]![1],
    });
    expect(atRomeo).toMatchObject({ peer: JULIET, role: "initiator", fingerprint: julietId.fingerprint });
    expect(atJuliet).toMatchObject({ peer: ROMEO, role: "responder", fingerprint: romeoId.fingerprint });
    expect(r.peer.trust).toMatchObject({ source: "sas", entry: { state: "verified", method: "sas" } });
    expect(j.peer.trust).toMatchObject({ source: "sas", entry: { state: "verified", method: "sas" } });

    const got = collect(j.stream);
    r.stream.end("good night, good night");
    expect(await got.done).toBe("end");
    expect(got.data().toString()).toBe("good night, good night");

    // Next time: x509 against the pins, nobody is asked.
    const second = await handshake(romeo, juliet);
    expect(channelOf(second.initiator).peer.trust).toMatchObject({ entry: { method: "sas" } });
    await channelOf(second.initiator).close();
  });

  it("under a relaying man in the middle the two codes differ, the users decline, both sides fail", async () => {
    const { romeo, juliet } = strangers();
    const people = twoPeople();
    const { initiator, responder, relayed } = await handshakeThroughRelay(romeo, juliet, people.options);
    expect(relayed.length).toBeGreaterThan(0);
    expect(code(people.shown.romeo!)).not.toEqual(code(people.shown.juliet!));
    expect(errorOf(initiator)).toBeInstanceOf(SasMismatchError);
    expect(errorOf(responder)).toBeInstanceOf(SasMismatchError);
    expect(errorOf(responder).message).toContain("man-in-the-middle");
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
  });

  it("one user declines → SasMismatchError on both sides; the other's prompt is withdrawn; nothing pinned", async () => {
    const { romeo, juliet } = strangers();
    let romeoSignal: AbortSignal | undefined;
    const { initiator, responder } = await handshake(romeo, juliet, {
      romeo: {
        auth: {
          method: "sas",
          // Romeo has not answered yet when Juliet declines.
          confirmSas: (request) => {
            romeoSignal = request.signal;
            return new Promise<boolean>(() => {});
          },
        },
      },
      juliet: { auth: { method: "sas", confirmSas: async () => false } },
    });
    expect(errorOf(responder)).toMatchObject({ name: "SasMismatchError", detectedBy: "local" });
    expect(errorOf(initiator)).toMatchObject({ name: "SasMismatchError", detectedBy: "peer" });
    expect(romeoSignal?.aborted).toBe(true);
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
  });

  it("the initiator must reveal the nonce it committed to: a different one is refused as commitment-mismatch", async () => {
    const { juliet } = strangers();
    const [a, b] = duplexPair();
    let asked = false;
    const accepting = juliet.engine.secure(b, {
      role: "responder",
      localJid: JULIET,
      peerJid: ROMEO,
      auth: {
        method: "sas",
        confirmSas: () => {
          asked = true;
          return true;
        },
      },
    });
    const client = tls.connect({
      socket: a,
      key: romeoId.privateKeyPem,
      cert: romeoId.certificatePem,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      minVersion: "TLSv1.3",
    });
    client.on("error", () => {});
    await new Promise<void>((resolve) => client.once("secureConnect", () => resolve()));
    const frame = (type: number, body: Buffer) =>
      Buffer.concat([Buffer.from([type, body.length >> 8, body.length & 0xff]), body]);
    const replies: Buffer[] = [];
    client.on("data", (c: Buffer) => replies.push(c));
    // Commit to one nonce, then (having seen the responder's) reveal another.
    client.write(frame(MessageType.SAS_COMMIT, Buffer.concat([Buffer.from([1]), randomBytes(32)])));
    await new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.write(frame(MessageType.SAS_REVEAL, randomBytes(32)));
    await expect(accepting).rejects.toMatchObject({
      name: "AuthProtocolError",
      reason: "commitment-mismatch",
    });
    expect(asked).toBe(false);
    client.destroy();
  });
});

describe("deriveSas", () => {
  const binding: SessionBinding = {
    initiatorJid: ROMEO,
    responderJid: JULIET,
    initiatorFingerprint: romeoId.fingerprint,
    responderFingerprint: julietId.fingerprint,
    exporter: Buffer.alloc(32, 7),
  };

  it("is deterministic, and changes with the exporter (another TLS session) or either nonce", () => {
    const ni = randomBytes(32);
    const nr = randomBytes(32);
    const sas = deriveSas(binding, ni, nr);
    expect(deriveSas(binding, ni, nr)).toEqual(sas);
    expect(sas.digits).toMatch(/^\d{6}$/);
    expect(sas.emoji.every((e) => e.index >= 0 && e.index < 64)).toBe(true);
    for (const other of [
      deriveSas({ ...binding, exporter: Buffer.alloc(32, 8) }, ni, nr),
      deriveSas(binding, randomBytes(32), nr),
      deriveSas(binding, ni, randomBytes(32)),
    ]) {
      expect(code(other)).not.toEqual(code(sas));
    }
  });

  it("uses a table of 64 distinct emoji", () => {
    expect(SAS_EMOJI).toHaveLength(64);
    expect(new Set(SAS_EMOJI.map(([e]) => e)).size).toBe(64);
    expect(SAS_EMOJI[0]).toEqual(["🐶", "Dog"]);
    expect(SAS_EMOJI[63]).toEqual(["📌", "Pin"]);
  });
});
