import { createHash, randomBytes } from "node:crypto";
import tls from "node:tls";
import { AbortError, duplexPair, TimeoutError } from "@xtls/core";
import { deadlines } from "@xtls/test-servers/deadlines";
import { describe, expect, it } from "vitest";
import {
  AdvertisedFingerprintMismatchError,
  CertificateChangedError,
  createIdentity,
  formatFingerprint,
  MemoryTrustStore,
  NodeTlsEngine,
  PeerJidMismatchError,
  SecurityError,
  TlsHandshakeError,
  TruncationError,
  UntrustedCertificateError,
} from "../src/index.js";
import { collect, handshake, JULIET, julietId, ROMEO, romeoId, sides } from "./helpers.js";

describe("mutual TLS 1.3 over an in-memory carrier", () => {
  it("authenticates both sides by pinned fingerprint and carries bytes both ways", async () => {
    const { romeo, juliet } = await sides();
    const { initiator, responder } = await handshake(romeo, juliet);
    if (!initiator.ok || !responder.ok) throw new Error("handshake failed");
    const r = initiator.channel;
    const j = responder.channel;
    expect([r.protocol, j.protocol]).toEqual(["TLSv1.3", "TLSv1.3"]);
    expect(r.cipher).toMatch(/^TLS_/);
    expect(r.peer.fingerprint).toBe(julietId.fingerprint);
    expect(j.peer.fingerprint).toBe(romeoId.fingerprint);
    expect(j.peer.bareJid).toBe("romeo@montague.lit");
    expect(r.peer.trust).toMatchObject({
      source: "trust-store",
      entry: { state: "verified", method: "manual" },
    });
    expect(r.exportKeyingMaterial(32, "EXPORTER-test")).toEqual(j.exportKeyingMaterial(32, "EXPORTER-test"));

    const payload = randomBytes(4 * 1024 * 1024);
    const atJuliet = collect(j.stream);
    const atRomeo = collect(r.stream);
    r.stream.end(payload);
    j.stream.end(Buffer.from("Call me but love, and I'll be new baptized"));
    expect(await atJuliet.done).toBe("end");
    expect(await atRomeo.done).toBe("end");
    expect(createHash("sha256").update(atJuliet.data()).digest("hex")).toBe(
      createHash("sha256").update(payload).digest("hex"),
    );
    expect(atRomeo.data().toString()).toBe("Call me but love, and I'll be new baptized");
    await expect(r.closed).resolves.toBeUndefined();
    await expect(j.closed).resolves.toBeUndefined();
  });

  it("accepts fingerprints pinned by the caller instead of the trust store", async () => {
    const { romeo, juliet } = await sides({ pin: false });
    const { initiator, responder } = await handshake(romeo, juliet, {
      romeo: {
        auth: { method: "x509", pinned: [julietId.fingerprint.toUpperCase().match(/../g)!.join(":")] },
      },
      juliet: { auth: { method: "x509", pinned: [romeoId.fingerprint] } },
    });
    expect(initiator.ok && initiator.channel.peer.trust).toEqual({ source: "pinned" });
    expect(responder.ok).toBe(true);
  });
});

describe("authentication failures: both sides fail, no application data flows", () => {
  it("initiator pinned a different certificate → UntrustedCertificateError; the responder fails too", async () => {
    const { romeo, juliet } = await sides();
    await romeo.trust.forget(JULIET);
    await romeo.trust.pin(JULIET, createIdentity(JULIET).fingerprint, { method: "manual" });
    const { initiator, responder } = await handshake(romeo, juliet);
    expect(initiator.ok).toBe(false);
    if (initiator.ok) return;
    expect(initiator.error).toBeInstanceOf(UntrustedCertificateError);
    expect(initiator.error).toBeInstanceOf(CertificateChangedError); // the pinned one is another
    expect(initiator.error.message).toContain(formatFingerprint(julietId.fingerprint));
    expect(initiator.error.message).toContain("man-in-the-middle");
    // The responder either never completes, or its channel dies before any data.
    if (responder.ok) {
      const got = collect(responder.channel.stream);
      expect(await got.done).toBeInstanceOf(SecurityError);
      expect(got.data().length).toBe(0);
    } else {
      expect(responder.error).toBeInstanceOf(SecurityError);
    }
  });

  it("responder does not trust the initiator → it fails, and the initiator's writes are never delivered", async () => {
    const { romeo, juliet } = await sides();
    await juliet.trust.forget(ROMEO);
    const { initiator, responder } = await handshake(romeo, juliet);
    expect(responder.ok).toBe(false);
    if (!responder.ok) expect(responder.error).toBeInstanceOf(UntrustedCertificateError);
    // TLS 1.3: the client finishes its handshake before the server has judged it, so
    // the initiator may see its channel open — and then fail.
    if (initiator.ok) {
      initiator.channel.stream.write("secret");
      await expect(initiator.channel.closed).rejects.toBeInstanceOf(SecurityError);
    }
  });

  it("rejects a certificate that names another JID, even with a pinned fingerprint", async () => {
    const tybalt = createIdentity("tybalt@capulet.lit");
    const { romeo } = await sides();
    const impostor = {
      engine: new NodeTlsEngine({ identity: tybalt, trustStore: new MemoryTrustStore() }),
      trust: new MemoryTrustStore(),
    };
    await romeo.trust.pin(JULIET, tybalt.fingerprint, { method: "manual" });
    const { initiator } = await handshake(romeo, impostor, {
      juliet: { auth: { method: "x509", pinned: [romeoId.fingerprint] } },
    });
    expect(initiator.ok).toBe(false);
    if (!initiator.ok) {
      expect(initiator.error).toBeInstanceOf(PeerJidMismatchError);
      expect(initiator.error.message).toContain("tybalt@capulet.lit");
    }
  });

  it("rejects a certificate that differs from the one advertised in the negotiation", async () => {
    const { romeo, juliet } = await sides();
    const { initiator } = await handshake(romeo, juliet, {
      romeo: { auth: { method: "x509", advertised: createIdentity(JULIET).fingerprint } },
    });
    expect(!initiator.ok && initiator.error).toBeInstanceOf(AdvertisedFingerprintMismatchError);
  });

  it("refuses a revoked fingerprint", async () => {
    const { romeo, juliet } = await sides();
    await romeo.trust.revoke(JULIET, julietId.fingerprint);
    const { initiator } = await handshake(romeo, juliet, {
      romeo: { auth: { method: "x509", pinned: [julietId.fingerprint] } },
    });
    expect(!initiator.ok && initiator.error.message).toContain("revoked");
  });

  it("requires a client certificate (mutual authentication)", async () => {
    const { juliet } = await sides();
    const [a, b] = duplexPair();
    const client = tls.connect({ socket: a, rejectUnauthorized: false, minVersion: "TLSv1.3" });
    client.on("error", () => {});
    await expect(
      juliet.engine.secure(b, { role: "responder", localJid: JULIET, peerJid: ROMEO }),
    ).rejects.toBeInstanceOf(TlsHandshakeError);
  });

  it("fails with a TLS error on garbage instead of a ClientHello, and on garbage from the 'server'", async () => {
    const { romeo, juliet } = await sides();
    const [a, b] = duplexPair();
    const accepting = juliet.engine.secure(b, { role: "responder", localJid: JULIET, peerJid: ROMEO });
    a.write(Buffer.from("<stream:stream> definitely not TLS\r\n\r\n"));
    await expect(accepting).rejects.toBeInstanceOf(TlsHandshakeError);

    const [c, d] = duplexPair();
    const connecting = romeo.engine.secure(c, { role: "initiator", localJid: ROMEO, peerJid: JULIET });
    d.once("data", () => d.write(randomBytes(64)));
    await expect(connecting).rejects.toSatisfy(
      (e) => e instanceof TlsHandshakeError && /wrong version|packet length|record/i.test(e.message),
    );
  });
});

describe("truncation: a carrier that ends without close_notify is an error, never a clean end", () => {
  it.each([
    ["flowing consumer", false],
    ["paused consumer that reads later", true],
  ])("carrier EOF after data (%s)", async (_name, paused) => {
    const { romeo, juliet } = await sides();
    const { initiator, responder, carriers } = await handshake(romeo, juliet);
    if (!initiator.ok || !responder.ok) throw new Error("handshake failed");
    const stream = responder.channel.stream;
    const events: string[] = [];
    stream.on("end", () => events.push("end"));
    stream.on("error", (e) => events.push(e.name));
    if (!paused) stream.on("data", () => {});
    initiator.channel.stream.write("I take thee at thy word");
    await new Promise((r) => setTimeout(r, 20));
    // Cut the initiator's side of the carrier: FIN with no close_notify before it.
    carriers[0].end();
    await expect(responder.channel.closed).rejects.toBeInstanceOf(TruncationError);
    if (paused) stream.resume(); // reading later must not turn it into a clean end
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual(["TruncationError"]);
  });

  it("carrier destroyed mid-stream", async () => {
    const { romeo, juliet } = await sides();
    const { initiator, responder, carriers } = await handshake(romeo, juliet);
    if (!initiator.ok || !responder.ok) throw new Error("handshake failed");
    const got = collect(responder.channel.stream);
    initiator.channel.stream.write(randomBytes(100_000));
    carriers[1].destroy();
    expect(await got.done).toBeInstanceOf(TruncationError);
  });

  it("a clean close() sends close_notify: the peer sees 'end', both `closed` resolve", async () => {
    const { romeo, juliet } = await sides();
    const { initiator, responder } = await handshake(romeo, juliet);
    if (!initiator.ok || !responder.ok) throw new Error("handshake failed");
    const got = collect(responder.channel.stream);
    initiator.channel.stream.write("farewell");
    await initiator.channel.close();
    expect(await got.done).toBe("end");
    expect(got.data().toString()).toBe("farewell");
    await expect(responder.channel.closed).resolves.toBeUndefined();
    await expect(initiator.channel.closed).resolves.toBeUndefined();
  });
});

describe("timeouts, aborts, resumption", () => {
  it("times out a handshake the peer never answers, and honours AbortSignal", async () => {
    const { romeo } = await sides();
    const [a] = duplexPair();
    await expect(
      romeo.engine.secure(a, { role: "initiator", localJid: ROMEO, peerJid: JULIET, handshakeTimeoutMs: 50 }),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(a.destroyed).toBe(true);
    const [c] = duplexPair();
    const ac = new AbortController();
    const p = romeo.engine.secure(c, {
      role: "initiator",
      localJid: ROMEO,
      peerJid: JULIET,
      signal: ac.signal,
    });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortError);
  });

  it("resumes a session from a ticket and still reports (and checks) who the peer is", async () => {
    const { romeo, juliet } = await sides();
    const first = await handshake(romeo, juliet);
    if (!first.initiator.ok || !first.responder.ok) throw new Error("handshake failed");
    expect(first.initiator.channel.resumed).toBe(false);
    first.initiator.channel.stream.write("x"); // tickets arrive after the handshake
    await expect.poll(() => romeo.engine.sessionCache?.size).toBe(1);
    await first.initiator.channel.close();

    const second = await handshake(romeo, juliet);
    if (!second.initiator.ok || !second.responder.ok) throw new Error("resumed handshake failed");
    expect(second.initiator.channel.resumed).toBe(true);
    expect(second.responder.channel.resumed).toBe(true);
    expect(second.initiator.channel.peer.fingerprint).toBe(julietId.fingerprint);
    expect(second.responder.channel.peer.fingerprint).toBe(romeoId.fingerprint);
    await second.initiator.channel.close();

    // Trust withdrawn since the ticket was issued: the resumed session is refused.
    await romeo.trust.revoke(JULIET, julietId.fingerprint);
    const third = await handshake(romeo, juliet);
    expect(!third.initiator.ok && third.initiator.error).toBeInstanceOf(UntrustedCertificateError);
  });
});

describe("the responder's pooled TLS servers", () => {
  // Threat: the engine reuses one tls.Server for many handshakes, one at a time. If a
  // server were reused while an earlier connection could still report on it, a
  // handshake would get another connection's socket: the wrong peer, the wrong bytes.
  it(
    "never give one connection's socket to another: interleaved successes, garbage, timeouts and two peers",
    async () => {
      const MERCUTIO = "mercutio@verona.lit/square";
      const mercutioId = createIdentity(MERCUTIO);
      const julietTrust = new MemoryTrustStore();
      await julietTrust.pin(ROMEO, romeoId.fingerprint, { method: "manual" });
      await julietTrust.pin(MERCUTIO, mercutioId.fingerprint, { method: "manual" });
      const juliet = new NodeTlsEngine({ identity: julietId, trustStore: julietTrust, sessionCache: false });
      const initiators = new Map(
        [
          [ROMEO, romeoId],
          [MERCUTIO, mercutioId],
        ].map(([jid, id]) => {
          const trust = new MemoryTrustStore();
          void trust.pin(JULIET, julietId.fingerprint, { method: "manual" });
          return [jid as string, new NodeTlsEngine({ identity: id as typeof romeoId, trustStore: trust })];
        }),
      );
      const rounds = 3;
      for (let round = 0; round < rounds; round++) {
        const work: Promise<void>[] = [];
        for (let i = 0; i < 24; i++) {
          const [a, b] = duplexPair();
          const kind = i % 4; // 0, 1: a real peer; 2: garbage; 3: silence until the deadline
          const peerJid = i % 8 < 4 ? ROMEO : MERCUTIO;
          const accepting = juliet.secure(b, {
            role: "responder",
            localJid: JULIET,
            peerJid,
            // Silence must hit its deadline; everything else is one of 24 handshakes queued
            // for the pooled servers at once, which a busy machine takes a while to reach.
            handshakeTimeoutMs: kind === 3 ? 30 : deadlines.testMs,
          });
          if (kind === 2) {
            // Garbage that cannot start a TLS record: random bytes did one time in a few
            // hundred runs (a first byte of 0x16, a handshake record, or one with the high bit
            // set, an SSLv2 header, whose length then made the server wait for the rest until
            // the deadline: a TimeoutError, not the handshake error this case is about).
            const garbage = randomBytes(200);
            garbage[0] = 0x47; // "G", as an HTTP request would start
            a.write(garbage);
            work.push(expect(accepting).rejects.toBeInstanceOf(TlsHandshakeError));
          } else if (kind === 3) {
            work.push(expect(accepting).rejects.toBeInstanceOf(TimeoutError));
          } else {
            const message = `round ${round}, carrier ${i}, from ${peerJid}`;
            const connecting = initiators
              .get(peerJid)!
              .secure(a, { role: "initiator", localJid: peerJid, peerJid: JULIET });
            work.push(
              (async () => {
                const [mine, theirs] = await Promise.all([connecting, accepting]);
                expect(theirs.peer.jid).toBe(peerJid);
                expect(theirs.peer.fingerprint).toBe((peerJid === ROMEO ? romeoId : mercutioId).fingerprint);
                const got = collect(theirs.stream);
                mine.stream.end(message);
                expect(await got.done).toBe("end");
                expect(got.data().toString()).toBe(message);
                await theirs.close();
              })(),
            );
          }
        }
        await Promise.all(work);
      }
    },
    3 * deadlines.testMs,
  );
});
