import tls, { type TLSSocket } from "node:tls";
import { duplexPair } from "@xtls/core";
import {
  createIdentity,
  type Identity,
  MemoryTrustStore,
  NodeTlsEngine,
  type NodeTlsEngineOptions,
  type PasswordRequest,
  type SecureChannel,
  type SecureOptions,
  type SrpAuth,
  type TrustStore,
} from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";

// Identities are cheap (~1 ms) but reusing them keeps the tests about TLS.
export const romeoId: Identity = createIdentity(ROMEO);
export const julietId: Identity = createIdentity(JULIET);

export interface Side {
  engine: NodeTlsEngine;
  trust: TrustStore;
}

export async function sides(options: { pin?: boolean } = {}): Promise<{ romeo: Side; juliet: Side }> {
  const romeoTrust = new MemoryTrustStore();
  const julietTrust = new MemoryTrustStore();
  if (options.pin !== false) {
    await romeoTrust.pin(JULIET, julietId.fingerprint, { method: "manual" });
    await julietTrust.pin(ROMEO, romeoId.fingerprint, { method: "manual" });
  }
  return {
    romeo: { engine: new NodeTlsEngine({ identity: romeoId, trustStore: romeoTrust }), trust: romeoTrust },
    juliet: {
      engine: new NodeTlsEngine({ identity: julietId, trustStore: julietTrust }),
      trust: julietTrust,
    },
  };
}

const settle = (p: Promise<SecureChannel>): Promise<Settled> =>
  p.then(
    (channel) => ({ ok: true as const, channel }),
    (error: Error) => ({ ok: false as const, error }),
  );

/** Runs both ends of a handshake over an in-memory carrier pair. */
export async function handshake(
  romeo: Side,
  juliet: Side,
  extra: { romeo?: Partial<SecureOptions>; juliet?: Partial<SecureOptions> } = {},
) {
  const [a, b] = duplexPair();
  const [initiator, responder] = await Promise.all([
    settle(romeo.engine.secure(a, { role: "initiator", localJid: ROMEO, peerJid: JULIET, ...extra.romeo })),
    settle(juliet.engine.secure(b, { role: "responder", localJid: JULIET, peerJid: ROMEO, ...extra.juliet })),
  ]);
  return { initiator, responder, carriers: [a, b] as const };
}

export function collect(stream: NodeJS.ReadableStream): { data: () => Buffer; done: Promise<"end" | Error> } {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<"end" | Error>((resolve) => {
    stream.once("end", () => resolve("end"));
    stream.once("error", (e: Error) => resolve(e));
  });
  return { data: () => Buffer.concat(chunks), done };
}

export type Settled = { ok: true; channel: SecureChannel } | { ok: false; error: Error };

export const settled = settle;

/** Two engines with empty trust stores (first contact), optionally with options. */
export function strangers(
  options: { romeo?: Partial<NodeTlsEngineOptions>; juliet?: Partial<NodeTlsEngineOptions> } = {},
): { romeo: Side; juliet: Side } {
  const romeoTrust = options.romeo?.trustStore ?? new MemoryTrustStore();
  const julietTrust = options.juliet?.trustStore ?? new MemoryTrustStore();
  return {
    romeo: {
      engine: new NodeTlsEngine({ identity: romeoId, ...options.romeo, trustStore: romeoTrust }),
      trust: romeoTrust,
    },
    juliet: {
      engine: new NodeTlsEngine({ identity: julietId, ...options.juliet, trustStore: julietTrust }),
      trust: julietTrust,
    },
  };
}

/** A password prompt that answers `password` and counts how often it was asked. */
export function prompt(password: string | null) {
  const asked: PasswordRequest[] = [];
  const fn = async (request: PasswordRequest) => {
    asked.push(request);
    return password;
  };
  return Object.assign(fn, { asked });
}

/** `auth` for both sides of an srp session. */
export function srp(
  romeoPassword: string | null,
  julietPassword: string | null,
  extra: { romeo?: Partial<SrpAuth>; juliet?: Partial<SrpAuth> } = {},
) {
  const romeoPrompt = prompt(romeoPassword);
  const julietPrompt = prompt(julietPassword);
  return {
    romeoPrompt,
    julietPrompt,
    options: {
      romeo: { auth: { method: "srp" as const, askPassword: romeoPrompt, ...extra.romeo } },
      juliet: { auth: { method: "srp" as const, askPassword: julietPrompt, ...extra.juliet } },
    },
  };
}

/**
 * A relaying man in the middle: it terminates TLS with Romeo (posing as Juliet) and
 * with Juliet (posing as Romeo), with certificates it made for the right JIDs, and
 * forwards the plaintext — the in-tunnel authentication messages — unchanged.
 */
export async function handshakeThroughRelay(
  romeo: Side,
  juliet: Side,
  extra: { romeo?: Partial<SecureOptions>; juliet?: Partial<SecureOptions> } = {},
) {
  const fakeJuliet = createIdentity(JULIET);
  const fakeRomeo = createIdentity(ROMEO);
  const [romeoEnd, mitmFacingRomeo] = duplexPair();
  const [mitmFacingJuliet, julietEnd] = duplexPair();
  const server = tls.createServer({
    key: fakeJuliet.privateKeyPem,
    cert: fakeJuliet.certificatePem,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.3",
  });
  const towardsRomeo = new Promise<TLSSocket>((resolve) => server.once("secureConnection", resolve));
  server.on("tlsClientError", () => {});
  server.emit("connection", mitmFacingRomeo);
  const towardsJuliet = tls.connect({
    socket: mitmFacingJuliet,
    key: fakeRomeo.privateKeyPem,
    cert: fakeRomeo.certificatePem,
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    minVersion: "TLSv1.3",
  });
  towardsJuliet.on("error", () => {});
  const relayed: Buffer[] = [];
  void Promise.all([
    towardsRomeo,
    new Promise<TLSSocket>((resolve) => towardsJuliet.once("secureConnect", () => resolve(towardsJuliet))),
  ]).then(([r, j]) => {
    r.on("error", () => {});
    r.on("data", (chunk: Buffer) => {
      relayed.push(chunk);
      j.write(chunk);
    });
    j.on("data", (chunk: Buffer) => {
      relayed.push(chunk);
      r.write(chunk);
    });
    r.on("end", () => j.end());
    j.on("end", () => r.end());
    r.on("close", () => j.destroy());
    j.on("close", () => r.destroy());
  });
  const [initiator, responder] = await Promise.all([
    settle(
      romeo.engine.secure(romeoEnd, { role: "initiator", localJid: ROMEO, peerJid: JULIET, ...extra.romeo }),
    ),
    settle(
      juliet.engine.secure(julietEnd, {
        role: "responder",
        localJid: JULIET,
        peerJid: ROMEO,
        ...extra.juliet,
      }),
    ),
  ]);
  return { initiator, responder, relayed, fakeJuliet, fakeRomeo };
}

/** The error of a failed side (fails the test if it succeeded). */
export function errorOf(result: Settled): Error {
  if (result.ok) throw new Error("expected this side to fail, but it got a channel");
  return result.error;
}

/** The channel of a successful side (fails the test with the error otherwise). */
export function channelOf(result: Settled): SecureChannel {
  if (!result.ok) throw result.error;
  return result.channel;
}
