import { createHash, randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls, { type TLSSocket } from "node:tls";
import { duplexPair, TimeoutError } from "@xtls/core";
import { SRP, SrpClient, SrpServer } from "fast-srp-hap";
import { describe, expect, it } from "vitest";
import {
  AttemptLimiter,
  AuthenticationCancelledError,
  CertificateChangedError,
  createIdentity,
  FileTrustStore,
  MessageType,
  SecurityError,
  SRP_GROUP,
  SrpAuthenticationError,
  SrpClientSession,
  SrpGroup,
  SrpServerSession,
  srpClientProof,
  srpIdentity,
  srpServerProof,
  srpVerifier,
  TooManyAttemptsError,
  UntrustedCertificateError,
} from "../src/index.js";
import {
  channelOf,
  collect,
  errorOf,
  handshake,
  handshakeThroughRelay,
  JULIET,
  julietId,
  prompt,
  ROMEO,
  romeoId,
  srp,
  strangers,
} from "./helpers.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("SRP-6a arithmetic (OpenSSL modexp) against RFC 5054 Appendix B and fast-srp-hap", () => {
  // RFC 5054's vector uses its 1024-bit group with SHA-1; our formulas are the same for
  // the 3072-bit/SHA-256 group XTLS uses.
  const I = Buffer.from("alice");
  const P = Buffer.from("password123");
  const s = hex("BEB25379 D1A8581E B5A72767 3A2441EE");
  const a = hex("60975527 035CF2AD 1989806F 0407210B C81EDC04 E2762A56 AFD529DD DA2D4393");
  const b = hex("E487CB59 D31AC550 471E81F0 0F6928E0 1DDA08E9 74A004F4 9E61F5D1 05284D20");
  const v = hex(`7E273DE8 696FFC4F 4E337D05 B4B375BE B0DDE156 9E8FA00A 9886D812
    9BADA1F1 822223CA 1A605B53 0E379BA4 729FDC59 F105B478 7E5186F5 C671085A 1447B52A 48CF1970
    B4FB6F84 00BBF4CE BFBB1681 52E08AB5 EA53D15C 1AFF87B2 B9DA6E04 E058AD51 CC72BFC9 033B564E
    26480D78 E955A5E2 9E7AB245 DB2BE315 E2099AFB`);
  const A = hex(`61D5E490 F6F1B795 47B0704C 436F523D D0E560F0 C64115BB 72557EC4 4352E890
    3211C046 92272D8B 2D1A5358 A2CF1B6E 0BFCF99F 921530EC 8E393561 79EAE45E 42BA92AE ACED8251
    71E1E8B9 AF6D9C03 E1327F44 BE087EF0 6530E69F 66615261 EEF54073 CA11CF58 58F0EDFD FE15EFEA
    B349EF5D 76988A36 72FAC47B 0769447B`);
  const B = hex(`BD0C6151 2C692C0C B6D041FA 01BB152D 4916A1E7 7AF46AE1 05393011 BAF38964
    DC46A067 0DD125B9 5A981652 236F99D9 B681CBF8 7837EC99 6C6DA044 53728610 D0C6DDB5 8B318885
    D7D82C7F 8DEB75CE 7BD4FBAA 37089E6F 9C6059F3 88838E7A 00030B33 1EB76840 910440B1 B27AAEAE
    EB4012B7 D7665238 A8E3FB00 4B117B58`);
  const S = hex(`B0DC82BA BCF30674 AE450C02 87745E79 90A3381F 63B387AA F271A10D 233861E3
    59B48220 F7C4693C 9AE12B0A 6F67809F 0876E2D0 13800D6C 41BB59B6 D5979B5C 00A172B4 A2A5903A
    0BDCAF8A 709585EB 2AFAFA8F 3499B200 210DCC1F 10EB3394 3CD67FC8 8A2F39A4 BE5BEC4E C0A3212D
    C346D7E4 74B29EDE 8A469FFE CA686E5A`);
  // The RFC's 1024-bit group (Appendix A), g = 2, as fast-srp-hap carries it.
  const rfc1024 = new SrpGroup(BigInt(`0x${SRP.params[1024].N.toString(16)}`), 2n, "sha1");

  it("computes v, A, B and the premaster secret S of the RFC", () => {
    expect(srpVerifier(rfc1024, s, I, P).toString("hex")).toBe(v.toString("hex"));
    const client = new SrpClientSession(rfc1024, a);
    const server = new SrpServerSession(rfc1024, v, b);
    expect(client.A.toString("hex")).toBe(A.toString("hex"));
    expect(server.B.toString("hex")).toBe(B.toString("hex"));
    expect(client.premaster(s, I, P, B).toString("hex")).toBe(S.toString("hex"));
    expect(server.premaster(A).toString("hex")).toBe(S.toString("hex"));
  });

  it("uses RFC 5054's 3072-bit group with g = 5 and SHA-256 for XTLS", () => {
    expect(SRP_GROUP.g).toBe(5n);
    expect(SRP_GROUP.hash).toBe("sha256");
    expect(SRP_GROUP.octets).toBe(384);
    // Node's modp15 (RFC 3526) is RFC 5054's 3072-bit prime: compare with the library's copy.
    expect(SRP_GROUP.N.toString(16)).toBe(SRP.params[3072].N.toString(16));
    expect(SRP_GROUP.N.toString(16).toUpperCase()).toMatch(/^FFFFFFFFFFFFFFFFC90FDAA22168C234/);
  });

  it("modPow agrees with plain BigInt square-and-multiply, including the bases OpenSSL refuses", () => {
    const N = SRP_GROUP.N;
    const slow = (base: bigint, e: bigint) => {
      let r = 1n;
      let x = base % N;
      for (let k = e; k > 0n; k >>= 1n) {
        if (k & 1n) r = (r * x) % N;
        x = (x * x) % N;
      }
      return r;
    };
    const big = (n: number) => BigInt(`0x${randomBytes(n).toString("hex")}`);
    for (const [base, e] of [
      [big(384), big(32)],
      [big(384) + N, big(64)],
      [5n, big(32)],
      [0n, 7n],
      [1n, big(32)],
      [N - 1n, 4n],
      [N - 1n, 5n],
      [N, 3n],
      [big(384), 0n],
      [2n * N + 1n, 9n],
    ] as const) {
      expect(SRP_GROUP.modPow(base, e)).toBe(slow(base, e));
    }
  });

  it("an independent implementation (fast-srp-hap) agrees: same A, B, K and proofs both ways", () => {
    const salt = randomBytes(32);
    const I3 = Buffer.from("romeo@montague.lit#00");
    const [ea, eb] = [randomBytes(32), randomBytes(32)];
    const theirClient = new SrpClient(SRP.params[3072], salt, I3, P, ea, true);
    const theirServer = new SrpServer(SRP.params[3072], salt, I3, P, eb);
    const ourClient = new SrpClientSession(SRP_GROUP, ea);
    const ourServer = new SrpServerSession(SRP_GROUP, srpVerifier(SRP_GROUP, salt, I3, P), eb);
    expect(ourClient.A.equals(theirClient.computeA())).toBe(true);
    expect(ourServer.B.equals(theirServer.computeB())).toBe(true);
    theirClient.setB(ourServer.B);
    theirServer.setA(ourClient.A);
    const K = createHash("sha256")
      .update(ourClient.premaster(salt, I3, P, ourServer.B))
      .digest();
    expect(K.equals(theirClient.computeK())).toBe(true);
    expect(createHash("sha256").update(ourServer.premaster(ourClient.A)).digest().equals(K)).toBe(true);
    const M1 = srpClientProof(I3, salt, ourClient.A, ourServer.B, K);
    expect(M1.equals(theirClient.computeM1())).toBe(true);
    expect(() => theirServer.checkM1(M1)).not.toThrow();
    expect(srpServerProof(ourClient.A, M1, K).equals(theirServer.computeM2())).toBe(true);
  });

  it("a wrong password gives another S (the client's and the server's differ)", () => {
    const salt = randomBytes(32);
    const client = new SrpClientSession(SRP_GROUP, randomBytes(32));
    const server = new SrpServerSession(SRP_GROUP, srpVerifier(SRP_GROUP, salt, I, P), randomBytes(32));
    const right = client.premaster(salt, I, P, server.B);
    const wrong = client.premaster(salt, I, Buffer.from("password124"), server.B);
    expect(right.equals(server.premaster(client.A))).toBe(true);
    expect(wrong.equals(server.premaster(client.A))).toBe(false);
  });

  it("refuses A or B ≡ 0 (mod N): a peer sending 0 or N cannot force S without the password", () => {
    const salt = randomBytes(32);
    const client = new SrpClientSession(SRP_GROUP, randomBytes(32));
    const server = new SrpServerSession(SRP_GROUP, srpVerifier(SRP_GROUP, salt, I, P), randomBytes(32));
    for (const zero of [0n, SRP_GROUP.N]) {
      const octets = SRP_GROUP.pad(zero);
      expect(() => server.premaster(octets)).toThrow(RangeError);
      expect(() => client.premaster(salt, I, P, octets)).toThrow(RangeError);
    }
  });

  it("binds the SRP identity to the session: another exporter, JID or certificate gives another identity", () => {
    const base = {
      initiatorJid: ROMEO,
      responderJid: JULIET,
      initiatorFingerprint: romeoId.fingerprint,
      responderFingerprint: julietId.fingerprint,
      exporter: Buffer.alloc(32, 1),
    };
    const I0 = srpIdentity(base).toString();
    expect(I0).toMatch(/^romeo@montague\.lit#[0-9a-f]{64}$/);
    for (const change of [
      { exporter: Buffer.alloc(32, 2) },
      { initiatorJid: "romeo@montague.lit/other" },
      { responderJid: "juliet@capulet.lit/other" },
      { initiatorFingerprint: julietId.fingerprint },
      { responderFingerprint: romeoId.fingerprint },
    ]) {
      expect(srpIdentity({ ...base, ...change }).toString()).not.toBe(I0);
    }
  });
});

describe("srp: first contact with a one-time password", () => {
  it("authenticates both sides, pins each other as verified/srp; the next session is x509 without a password", async () => {
    const { romeo, juliet } = strangers();
    const { romeoPrompt, julietPrompt, options } = srp("wherefore art thou", "wherefore art thou");
    const first = await handshake(romeo, juliet, options);
    const r = channelOf(first.initiator);
    const j = channelOf(first.responder);
    expect(r.peer.fingerprint).toBe(julietId.fingerprint);
    expect(j.peer.fingerprint).toBe(romeoId.fingerprint);
    expect(r.peer.trust).toMatchObject({ source: "srp", entry: { state: "verified", method: "srp" } });
    expect(j.peer.trust).toMatchObject({ source: "srp", entry: { state: "verified", method: "srp" } });
    expect(await romeo.trust.entries(JULIET)).toMatchObject([
      { fingerprint: julietId.fingerprint, state: "verified", method: "srp" },
    ]);
    expect(await juliet.trust.entries(ROMEO)).toMatchObject([
      { fingerprint: romeoId.fingerprint, state: "verified", method: "srp" },
    ]);
    expect(romeoPrompt.asked).toMatchObject([
      { peer: JULIET, bareJid: "juliet@capulet.lit", role: "initiator", fingerprint: julietId.fingerprint },
    ]);
    expect(julietPrompt.asked).toHaveLength(1);

    // The channel is usable, both ways.
    const atJuliet = collect(j.stream);
    const atRomeo = collect(r.stream);
    r.stream.end("With love's light wings did I o'erperch these walls");
    j.stream.end("Thou know'st the mask of night is on my face");
    expect(await atJuliet.done).toBe("end");
    expect(await atRomeo.done).toBe("end");
    expect(atJuliet.data().toString()).toBe("With love's light wings did I o'erperch these walls");
    expect(atRomeo.data().toString()).toBe("Thou know'st the mask of night is on my face");

    // Later: x509 against the pins, no password asked.
    const second = await handshake(romeo, juliet);
    expect(channelOf(second.initiator).peer.trust).toMatchObject({
      source: "trust-store",
      entry: { method: "srp" },
    });
    expect(channelOf(second.responder).peer.trust).toMatchObject({
      source: "trust-store",
      entry: { method: "srp" },
    });
    expect(romeoPrompt.asked).toHaveLength(1);
    expect(julietPrompt.asked).toHaveLength(1);
    await channelOf(second.initiator).close();
  });

  it("delivers application data the responder writes right behind its last SRP message", async () => {
    const { romeo, juliet } = strangers();
    const [a, b] = duplexPair();
    const auth = { method: "srp" as const, askPassword: prompt("balcony") };
    const [r, j] = await Promise.all([
      romeo.engine.secure(a, { role: "initiator", localJid: ROMEO, peerJid: JULIET, auth }),
      juliet.engine.secure(b, { role: "responder", localJid: JULIET, peerJid: ROMEO, auth }).then((ch) => {
        ch.stream.write("first words"); // may share a TLS record read with M2
        return ch;
      }),
    ]);
    const got = collect(r.stream);
    j.stream.end(" and more");
    expect(await got.done).toBe("end");
    expect(got.data().toString()).toBe("first words and more");
  });

  it("persists the pins: a new FileTrustStore on the same file trusts the peer after a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "xtls-srp-"));
    const files = { romeo: join(dir, "romeo.json"), juliet: join(dir, "juliet.json") };
    const before = strangers({
      romeo: { trustStore: new FileTrustStore(files.romeo) },
      juliet: { trustStore: new FileTrustStore(files.juliet) },
    });
    const { options } = srp("1234-5678", "1234-5678");
    const first = await handshake(before.romeo, before.juliet, options);
    await channelOf(first.initiator).close();

    const after = strangers({
      romeo: { trustStore: new FileTrustStore(files.romeo), sessionCache: false },
      juliet: { trustStore: new FileTrustStore(files.juliet) },
    });
    expect(await after.romeo.trust.entries(JULIET)).toMatchObject([
      { fingerprint: julietId.fingerprint, state: "verified", method: "srp" },
    ]);
    const second = await handshake(after.romeo, after.juliet);
    expect(channelOf(second.initiator).resumed).toBe(false);
    expect(channelOf(second.responder).peer.trust).toMatchObject({
      source: "trust-store",
      entry: { state: "verified", method: "srp" },
    });
    await channelOf(second.initiator).close();
  });
});

describe("srp failures: both sides fail, nothing pinned, no application byte", () => {
  it("wrong password → SrpAuthenticationError on both sides; the attempt is counted; backoff follows", async () => {
    let now = 1_000_000;
    const clock = () => now;
    const limiterOptions = { freeAttempts: 1, baseDelayMs: 60_000, now: clock };
    const romeoLimiter = new AttemptLimiter(limiterOptions);
    const julietLimiter = new AttemptLimiter(limiterOptions);
    const { romeo, juliet } = strangers({
      romeo: { attemptLimiter: romeoLimiter },
      juliet: { attemptLimiter: julietLimiter },
    });
    const wrong = srp("swear not by the moon", "swear by the moon");
    const first = await handshake(romeo, juliet, wrong.options);
    const [re, je] = [errorOf(first.initiator), errorOf(first.responder)];
    expect(re).toBeInstanceOf(SrpAuthenticationError);
    expect(je).toBeInstanceOf(SrpAuthenticationError);
    expect(je).toMatchObject({ detectedBy: "local", reason: "bad-proof" });
    expect(re).toMatchObject({ detectedBy: "peer", reason: "bad-proof" });
    expect(re.message).toContain("man-in-the-middle");
    for (const e of [re, je]) {
      expect(`${e.message} ${e.stack}`).not.toContain("moon");
    }
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
    expect(romeoLimiter.failures(JULIET)).toBe(1);
    expect(julietLimiter.failures(ROMEO)).toBe(1);
    expect(first.carriers[0].destroyed && first.carriers[1].destroyed).toBe(true);

    // Immediately again: the initiator's own limit stops it before any password is used,
    // and it tells the responder why.
    const again = srp("swear by the moon", "swear by the moon");
    const second = await handshake(romeo, juliet, again.options);
    const local = errorOf(second.initiator);
    expect(local).toBeInstanceOf(TooManyAttemptsError);
    expect(local).toMatchObject({ detectedBy: "local", retryAfterMs: 60_000 });
    expect(errorOf(second.responder)).toMatchObject({ name: "TooManyAttemptsError", detectedBy: "peer" });
    expect(again.romeoPrompt.asked).toHaveLength(0);
    expect(again.julietPrompt.asked).toHaveLength(0);

    // An attacker ignoring its own limit meets the responder's.
    const attacker = strangers({ juliet: { attemptLimiter: julietLimiter } });
    const third = await handshake(attacker.romeo, attacker.juliet, again.options);
    expect(errorOf(third.responder)).toMatchObject({ name: "TooManyAttemptsError", detectedBy: "local" });
    const told = errorOf(third.initiator);
    expect(told).toMatchObject({ name: "TooManyAttemptsError", detectedBy: "peer", retryAfterMs: 60_000 });
    expect(again.julietPrompt.asked).toHaveLength(0);

    // After the wait, the right password works and clears the count.
    now += 60_001;
    const fourth = await handshake(romeo, juliet, again.options);
    expect(channelOf(fourth.initiator).peer.trust.source).toBe("srp");
    expect(romeoLimiter.failures(JULIET)).toBe(0);
    expect(julietLimiter.failures(ROMEO)).toBe(0);
    await channelOf(fourth.initiator).close();
  });

  it("a client that sends a wrong proof followed by application data gets an ABORT; nothing reaches the application", async () => {
    const { juliet } = strangers();
    const [a, b] = duplexPair();
    const accepting = juliet.engine.secure(b, {
      role: "responder",
      localJid: JULIET,
      peerJid: ROMEO,
      auth: { method: "srp", askPassword: prompt("nightingale") },
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
    const frames = frameReader(client);
    client.write(frame(MessageType.SRP_HELLO, Buffer.from([1])));
    const params = await frames.next();
    expect(params.type).toBe(MessageType.SRP_SERVER_PARAMS);
    expect(params.body).toHaveLength(32 + 384);
    // A guess: a valid A but a proof made up without the password, and data behind it.
    const A = new SrpClient(
      SRP.params[3072],
      randomBytes(32),
      Buffer.from("x"),
      Buffer.from("y"),
      randomBytes(32),
    );
    client.write(
      Buffer.concat([
        frame(MessageType.SRP_CLIENT_PROOF, Buffer.concat([A.computeA(), randomBytes(32)])),
        Buffer.from("<message>attack at dawn</message>"),
      ]),
    );
    const abort = await frames.next();
    expect(abort.type).toBe(MessageType.ABORT);
    expect(abort.body[0]).toBe(1); // bad-proof
    client.destroy();
    await expect(accepting).rejects.toBeInstanceOf(SrpAuthenticationError);
    expect(juliet.engine.attemptLimiter.failures(ROMEO)).toBe(1);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
  });

  it("a relaying man in the middle (its own certificates for the right JIDs) fails on both sides, even with the right password", async () => {
    const { romeo, juliet } = strangers();
    const { options } = srp("a rose by any other name", "a rose by any other name");
    const { initiator, responder, relayed, fakeJuliet, fakeRomeo } = await handshakeThroughRelay(
      romeo,
      juliet,
      options,
    );
    expect(errorOf(initiator)).toBeInstanceOf(SrpAuthenticationError);
    expect(errorOf(responder)).toBeInstanceOf(SrpAuthenticationError);
    expect(errorOf(responder).message).toContain("possible man-in-the-middle");
    expect(relayed.length).toBeGreaterThan(0); // the SRP messages did go through the relay
    expect(await romeo.trust.entries(JULIET)).toEqual([]);
    expect(await juliet.trust.entries(ROMEO)).toEqual([]);
    expect([fakeJuliet.fingerprint, fakeRomeo.fingerprint]).not.toContain(julietId.fingerprint);
  });

  it("no password on one side → AuthenticationCancelledError on both sides, not counted", async () => {
    const { romeo, juliet } = strangers();
    const { options } = srp("o happy dagger", null);
    const { initiator, responder } = await handshake(romeo, juliet, options);
    expect(errorOf(responder)).toMatchObject({ name: "AuthenticationCancelledError", detectedBy: "local" });
    expect(errorOf(initiator)).toBeInstanceOf(AuthenticationCancelledError);
    expect(errorOf(initiator)).toMatchObject({ detectedBy: "peer" });
    expect(juliet.engine.attemptLimiter.failures(ROMEO)).toBe(0);
    expect(romeo.engine.attemptLimiter.failures(JULIET)).toBe(0);
  });

  it("a prompt nobody answers times out; the prompt is told (signal) and the peer learns it was cancelled", async () => {
    const { romeo, juliet } = strangers();
    let signal: AbortSignal | undefined;
    const { initiator, responder } = await handshake(romeo, juliet, {
      romeo: { auth: { method: "srp", askPassword: prompt("parting is such sweet sorrow") } },
      juliet: {
        authTimeoutMs: 200,
        auth: {
          method: "srp",
          askPassword: (request) => {
            signal = request.signal;
            return new Promise<string>(() => {});
          },
        },
      },
    });
    expect(errorOf(responder)).toBeInstanceOf(TimeoutError);
    expect(signal?.aborted).toBe(true);
    expect(errorOf(initiator)).toMatchObject({ name: "AuthenticationCancelledError", detectedBy: "peer" });
  });

  it("a certificate that names another JID is refused before any password is asked", async () => {
    const { romeo } = strangers();
    // An impostor whose certificate names another JID than the one Romeo expects.
    const tybalt = strangers({ juliet: { identity: createIdentity("tybalt@capulet.lit") } }).juliet;
    const { romeoPrompt, julietPrompt, options } = srp("same", "same");
    const { initiator, responder } = await handshake(romeo, tybalt, options);
    expect(errorOf(initiator)).toMatchObject({ name: "PeerJidMismatchError" });
    expect(errorOf(responder)).toBeInstanceOf(SecurityError);
    expect(romeoPrompt.asked).toHaveLength(0);
    expect(julietPrompt.asked).toHaveLength(0);
  });

  it("a pinned peer presenting another certificate: CertificateChangedError with both fingerprints, srp never runs, no password asked on either side", async () => {
    const { romeo, juliet } = strangers();
    const realJuliet = createIdentity(JULIET);
    await romeo.trust.pin(JULIET, realJuliet.fingerprint, { method: "srp" });
    await juliet.trust.pin(ROMEO, createIdentity(ROMEO).fingerprint, { method: "srp" });
    // Both sides see the other with a certificate other than the pinned one (a man in
    // the middle with his own certificates for the right JIDs), and both have the password.
    const { romeoPrompt, julietPrompt, options } = srp("same", "same");
    const { initiator, responder } = await handshake(romeo, juliet, options);
    const mine = errorOf(initiator);
    expect(mine).toBeInstanceOf(CertificateChangedError);
    expect(mine).toMatchObject({
      code: "certificate-changed",
      previous: [realJuliet.fingerprint],
      presented: julietId.fingerprint,
    });
    expect(errorOf(responder)).toBeInstanceOf(SecurityError);
    expect(romeoPrompt.asked).toHaveLength(0);
    expect(julietPrompt.asked).toHaveLength(0);
    expect((await romeo.trust.entries(JULIET)).map((e) => e.fingerprint)).toEqual([realJuliet.fingerprint]);
  });

  it("the same for sas: a pinned peer with another certificate never gets a short code to compare", async () => {
    const { romeo, juliet } = strangers();
    await juliet.trust.pin(ROMEO, createIdentity(ROMEO).fingerprint, { method: "sas" });
    const shown: string[] = [];
    const confirmSas = async () => {
      shown.push("code");
      return true;
    };
    const { initiator, responder } = await handshake(romeo, juliet, {
      romeo: { auth: { method: "sas", confirmSas } },
      juliet: { auth: { method: "sas", confirmSas } },
    });
    expect(errorOf(responder)).toBeInstanceOf(CertificateChangedError);
    expect(errorOf(initiator)).toBeInstanceOf(SecurityError);
    expect(shown).toEqual([]);
  });

  it("a revoked certificate cannot be re-trusted by a password", async () => {
    const { romeo, juliet } = strangers();
    await romeo.trust.revoke(JULIET, julietId.fingerprint);
    const { options } = srp("same", "same");
    const { initiator, responder } = await handshake(romeo, juliet, options);
    expect(errorOf(initiator)).toBeInstanceOf(UntrustedCertificateError);
    expect(errorOf(responder)).toMatchObject({ name: "AuthProtocolError", reason: "certificate-refused" });
  });
});

describe("the README's message exchange, implemented independently of runSrp", () => {
  it("a hand-written SRP client completes against the engine and derives the same identity", async () => {
    const { juliet } = strangers();
    const [a, b] = duplexPair();
    const accepting = juliet.engine.secure(b, {
      role: "responder",
      localJid: JULIET,
      peerJid: ROMEO,
      auth: { method: "srp", askPassword: prompt("  Verona  ") },
    });
    const client = tls.connect({
      socket: a,
      key: romeoId.privateKeyPem,
      cert: romeoId.certificatePem,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      minVersion: "TLSv1.3",
    });
    await new Promise<void>((resolve) => client.once("secureConnect", () => resolve()));
    // README: binding digest, identity, password octets.
    const exporter = client.exportKeyingMaterial(32, "EXPORTER-XTLS-SRP", Buffer.alloc(0));
    const u16 = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
    const digest = createHash("sha256")
      .update("XTLS-SRP-1\0")
      .update(u16(Buffer.from(ROMEO)))
      .update(u16(Buffer.from(JULIET)))
      .update(Buffer.from(romeoId.fingerprint, "hex"))
      .update(Buffer.from(julietId.fingerprint, "hex"))
      .update(u16(exporter))
      .digest("hex");
    const I = Buffer.from(`romeo@montague.lit#${digest}`);
    const frames = frameReader(client);
    client.write(frame(MessageType.SRP_HELLO, Buffer.from([1])));
    const { body } = await frames.next();
    const salt = body.subarray(0, 32);
    const B = body.subarray(32);
    const srpClient = new SrpClient(SRP.params[3072], salt, I, Buffer.from("Verona"), randomBytes(32), true);
    srpClient.setB(B);
    const A = srpClient.computeA();
    const M1 = srpClient.computeM1();
    client.write(frame(MessageType.SRP_CLIENT_PROOF, Buffer.concat([A, M1])));
    const proof = await frames.next();
    expect(proof.type).toBe(MessageType.SRP_SERVER_PROOF);
    expect(() => srpClient.checkM2(proof.body)).not.toThrow();
    const channel = await accepting;
    expect(channel.peer.trust).toMatchObject({ source: "srp" });
    client.write("application data after the handshake");
    const got = collect(channel.stream);
    client.end();
    await got.done;
    expect(got.data().toString()).toBe("application data after the handshake");
  });
});

function frame(type: number, body: Buffer): Buffer {
  const header = Buffer.from([type, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([header, body]);
}

/** Reads README frames off a raw TLS socket. */
function frameReader(socket: TLSSocket) {
  let buffer = Buffer.alloc(0);
  const waiting: Array<() => void> = [];
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (const w of waiting.splice(0)) w();
  });
  return {
    async next(): Promise<{ type: number; body: Buffer }> {
      for (;;) {
        if (buffer.length >= 3 && buffer.length >= 3 + buffer.readUInt16BE(1)) {
          const type = buffer[0]!;
          const len = buffer.readUInt16BE(1);
          const body = buffer.subarray(3, 3 + len);
          buffer = buffer.subarray(3 + len);
          return { type, body };
        }
        await new Promise<void>((resolve) => waiting.push(resolve));
      }
    },
  };
}
