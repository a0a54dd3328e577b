import { describe, expect, it } from "vitest";
import { generatePairingCode, PairingDisabledError, PairingMode } from "../src/index.js";
import { channelOf, errorOf, handshake, JULIET, prompt, ROMEO, strangers } from "./helpers.js";

// Juliet's side plays the device (responder); Romeo's client pairs with it.
describe("bots and devices (draft §5.2)", () => {
  it("PIN typed on both sides: just the password prompt", async () => {
    const { romeo, juliet } = strangers();
    const { initiator, responder } = await handshake(romeo, juliet, {
      romeo: { auth: { method: "srp", askPassword: prompt("4711") } },
      juliet: { auth: { method: "srp", askPassword: prompt("4711") } },
    });
    expect(channelOf(initiator).peer.trust.source).toBe("srp");
    expect(channelOf(responder).peer.trust.source).toBe("srp");
    await channelOf(initiator).close();
  });

  it("a device shows a random code that the user types on the client", async () => {
    const device = new PairingMode({ code: { length: 8 } });
    const shown = device.enable(); // the device displays this
    expect(shown).toMatch(/^\d{8}$/);
    const { romeo, juliet } = strangers();
    const { initiator, responder } = await handshake(romeo, juliet, {
      romeo: { auth: { method: "srp", askPassword: prompt(shown) } },
      juliet: { auth: device.auth() },
    });
    expect(channelOf(initiator).peer.trust).toMatchObject({ source: "srp", entry: { method: "srp" } });
    expect(channelOf(responder).peer.jid).toBe(ROMEO);
    await channelOf(initiator).close();
    // One attempt per display: the code is used up.
    expect(device.enabled).toBe(false);
    expect(device.code).toBeUndefined();
  });

  it("a fixed printed password is refused until the pairing button is pressed", async () => {
    let now = 0;
    const device = new PairingMode({ password: "0000-PRINTED", windowMs: 60_000, now: () => now });
    const { romeo, juliet } = strangers();
    const client = { romeo: { auth: { method: "srp" as const, askPassword: prompt("0000-PRINTED") } } };
    const refused = await handshake(romeo, juliet, { ...client, juliet: { auth: device.auth() } });
    expect(errorOf(refused.responder)).toBeInstanceOf(PairingDisabledError);
    expect(errorOf(refused.responder)).toMatchObject({ detectedBy: "local" });
    expect(errorOf(refused.initiator)).toBeInstanceOf(PairingDisabledError);
    expect(errorOf(refused.initiator)).toMatchObject({ detectedBy: "peer" });
    expect(errorOf(refused.initiator).message).toContain("pairing");
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    // Not counted as a password failure: the password was never used.
    expect(juliet.engine.attemptLimiter.failures(ROMEO)).toBe(0);

    // The button press opens the window...
    expect(device.enable()).toBe("0000-PRINTED");
    now += 59_000;
    const paired = await handshake(romeo, juliet, { ...client, juliet: { auth: device.auth() } });
    expect(channelOf(paired.responder).peer.trust.source).toBe("srp");
    await channelOf(paired.initiator).close();

    // ...which closes after its time.
    device.enable();
    now += 60_001;
    expect(device.enabled).toBe(false);
    const late = await handshake(romeo, juliet, { ...client, juliet: { auth: device.auth() } });
    expect(errorOf(late.responder)).toBeInstanceOf(PairingDisabledError);
  });

  it("generatePairingCode: digits or Crockford base32, of the asked length", () => {
    expect(generatePairingCode()).toMatch(/^\d{8}$/);
    expect(generatePairingCode({ length: 6 })).toMatch(/^\d{6}$/);
    expect(generatePairingCode({ alphabet: "base32", length: 10 })).toMatch(/^[0-9A-HJKMNP-TV-Z]{10}$/);
    const codes = new Set(Array.from({ length: 50 }, () => generatePairingCode({ alphabet: "base32" })));
    expect(codes.size).toBe(50);
    expect(() => generatePairingCode({ length: 2 })).toThrow(RangeError);
  });
});
