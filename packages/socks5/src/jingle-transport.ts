/**
 * XEP-0260 Jingle SOCKS5 Bytestreams transport (docs/protocol/socks5.md) over a
 * {@link Socks5Bytestreams} service.
 *
 *   initiator                                              responder
 *   session-initiate <transport sid mode><candidate…/> ──►  (listening on its direct candidates)
 *                    ◄── session-accept <transport sid><candidate…/>
 *   both: connect to the PEER's candidates, highest priority first, staggered, with
 *         DST.ADDR = SHA1(sid + offerer + connector)                      (§2.3 step 1)
 *   transport-info <candidate-used cid/> | <candidate-error/>  ◄──►  the same      (step 2)
 *   nominated: the higher priority of the two picks (each looked up in its offerer's
 *   list); a tie goes to the initiator's pick; two errors → TransportFailedError, so
 *   the session falls back with transport-replace (§3)                            (step 3)
 *   a nominated proxy: its offerer connects, activates, sends <activated cid/>; if it
 *   cannot, <proxy-error/> and fallback                                           (step 5)
 *
 * Every candidate connection drops what it receives until the nomination is known on
 * our side (docs/protocol/socks5.md#bytes-before-activation): the peer may only write once both verdicts are out
 * and acknowledged, so nothing legitimate is lost, and nothing early is delivered. The
 * transport is "open" (docs/protocol/socks5.md#when-the-transport-is-open) when both verdicts are exchanged and ours is acknowledged,
 * plus, for a proxy, after `<activated/>` (connector) or our own activation (offerer).
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type Element, NS, StanzaError } from "@xtls/core";
import {
  type ContentContext,
  JingleReasonError,
  TransportFailedError,
  type TransportHandle,
  type TransportMethod,
} from "@xtls/jingle";
import { ConnectionRace, type RaceWinner } from "./connector.js";
import { dstAddr } from "./elements.js";
import {
  activated,
  byPriority,
  type Candidate,
  candidateError,
  candidatePriority,
  candidateUsed,
  parseTransport,
  proxyError,
  transportElement,
} from "./jingle-elements.js";
import type { Socks5Bytestreams } from "./service.js";
import type { PendingConnection, S5bStream } from "./stream.js";
import type { Expectation } from "./streamhost-listener.js";

export interface S5bTransportOptions {
  readonly socks5: Socks5Bytestreams;
  /** Offer our direct streamhost as a candidate. Default: when the service has a listener. */
  readonly direct?: boolean;
  /** Offer the service's proxies as candidates. Default true. */
  readonly proxies?: boolean;
  /** Start the next of the peer's candidates after this while earlier ones still connect. Default: the service's (200 ms). */
  readonly staggerMs?: number;
  /** Per candidate: TCP connect plus SOCKS5 handshake. Default: the service's (10 s). */
  readonly connectTimeoutMs?: number;
  /**
   * On a nominated proxy, hold our TCP FIN back until the peer's (see
   * `S5bStreamInit.deferEnd`): Prosody's proxy65 closes both directions on the first FIN,
   * which would cut off the peer's TLS close_notify. Default true; set false for a
   * plaintext application that needs `end()` to reach the peer as an end of stream.
   */
  readonly deferEndOnProxy?: boolean;
  /**
   * Hand a direct connection up as the bare `net.Socket` (see
   * `PendingConnection.openNative`), so TLS runs on it natively: ~2.5× the throughput of
   * XTLS over a direct candidate on loopback (bench/). The price: a TCP reset then
   * surfaces as Node's own `ECONNRESET`/`EPIPE` error (with `code`), not as an
   * `S5bConnectionLostError`, and the stream has no S5B byte counters. Default false.
   */
  readonly nativeSocket?: boolean;
}

/** A transport that opened: which candidate carries it, and who connected to whom. */
export interface S5bNomination {
  /** The Jingle session's sid. */
  readonly session: string;
  /** The transport's sid (the one hashed into DST.ADDR). */
  readonly sid: string;
  readonly peer: string;
  /** `us`: our connection to the peer's candidate; `peer`: the peer's to ours. */
  readonly by: "us" | "peer";
  /** The nominated candidate, as its offerer described it. */
  readonly candidate: Candidate;
  /** The S5bStream, or with `nativeSocket` the bare socket of a direct connection. */
  readonly stream: Duplex;
  /** Whether the bytes go through a proxy. */
  readonly mediated: boolean;
}

export interface S5bTransportEvents {
  /** A transport opened on the nominated candidate (before the security layer runs). */
  nominated: [nomination: S5bNomination];
}

export class S5bTransport extends EventEmitter<S5bTransportEvents> implements TransportMethod {
  readonly namespaces = [NS.JINGLE_S5B] as const;
  readonly socks5: Socks5Bytestreams;
  readonly #options: S5bTransportOptions;

  constructor(options: S5bTransportOptions) {
    super();
    this.socks5 = options.socks5;
    this.#options = options;
  }

  async offer(ctx: ContentContext): Promise<TransportHandle> {
    const negotiation = new S5bNegotiation(this, this.#options, ctx, `s5b${randomBytes(8).toString("hex")}`);
    await negotiation.prepare([]);
    return negotiation.handle();
  }

  async accept(ctx: ContentContext, offer: Element): Promise<TransportHandle> {
    const theirs = parseTransport(offer);
    if (theirs.mode !== "tcp") {
      throw new JingleReasonError(
        "incompatible-parameters",
        "only mode='tcp' SOCKS5 Bytestreams are supported",
      );
    }
    const negotiation = new S5bNegotiation(this, this.#options, ctx, theirs.sid);
    negotiation.addRemote(theirs.candidates);
    await negotiation.prepare(theirs.candidates);
    return negotiation.handle();
  }
}

function newCid(): string {
  return randomBytes(6).toString("hex");
}

/** The state of one S5B transport of one content (one per offer or accept). */
class S5bNegotiation {
  readonly sid: string;
  readonly #transport: S5bTransport;
  readonly #service: Socks5Bytestreams;
  readonly #options: S5bTransportOptions;
  readonly #ctx: ContentContext;
  readonly #ourHash: string;
  readonly #theirHash: string;
  readonly #abort = new AbortController();
  #local: Candidate[] = [];
  #remote: Candidate[] = [];
  #expectation: Expectation | undefined;
  #race: ConnectionRace<Candidate> | undefined;
  /** Our verdict: undefined = not yet, null = candidate-error. */
  #ours: RaceWinner<Candidate> | null | undefined;
  #oursAcked: Promise<void> | undefined;
  /** The peer's verdict: its pick among OUR candidates, or null for candidate-error. */
  #theirs: Candidate | null | undefined;
  #decided = false;
  #activatedCids = new Set<string>();
  #activationWaiter: { cid: string; resolve(): void } | undefined;
  #started = false;
  #closed = false;
  #stream: S5bStream | undefined;
  #nativeSocket: Socket | undefined;
  #settled = false;
  readonly #outcome: Promise<Duplex>;
  #resolve!: (stream: Duplex) => void;
  #reject!: (error: Error) => void;
  #nomination: { by: "us" | "peer"; candidate: Candidate } | undefined;

  constructor(transport: S5bTransport, options: S5bTransportOptions, ctx: ContentContext, sid: string) {
    this.#transport = transport;
    this.#service = transport.socks5;
    this.#options = options;
    this.#ctx = ctx;
    this.sid = sid;
    // XEP-0260 §2.3, docs/protocol/socks5.md#dstaddr: the offerer of a candidate hashes first.
    this.#ourHash = dstAddr(sid, ctx.local, ctx.peer);
    this.#theirHash = dstAddr(sid, ctx.peer, ctx.local);
    this.#outcome = new Promise<Duplex>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#outcome.catch(() => {});
    if (ctx.signal.aborted) this.close();
    else ctx.signal.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Gathers our candidates: the direct streamhost, then the proxies (not those the peer offered). */
  async prepare(peerOffered: readonly Candidate[]): Promise<void> {
    const local: Candidate[] = [];
    const direct = this.#options.direct ?? this.#service.listener !== undefined;
    if (direct && this.#service.listener) {
      const hosts = await this.#service.directStreamhosts();
      hosts.forEach((h, i) => {
        local.push({
          cid: newCid(),
          jid: this.#ctx.local,
          host: h.host,
          port: h.port,
          type: "direct",
          priority: candidatePriority("direct", 65535 - i),
        });
      });
    }
    if (this.#options.proxies !== false) {
      const proxies = await this.#service.proxies({ signal: this.#ctx.signal });
      proxies.forEach((p, i) => {
        local.push({
          cid: newCid(),
          jid: p.jid,
          host: p.host,
          port: p.port,
          type: "proxy",
          priority: candidatePriority("proxy", 65535 - i),
        });
      });
    }
    // XEP-0260 §2.2: never re-offer a host:port the initiator offered.
    const offered = new Set(peerOffered.map((c) => `${c.host}:${c.port}`));
    this.#local = local.filter((c) => !offered.has(`${c.host}:${c.port}`));
    if (this.#closed) return;
    if (this.#local.some((c) => c.type !== "proxy") && this.#service.listener) {
      this.#expectation = this.#service.listener.expect(this.#ourHash, "discard");
    }
  }

  addRemote(candidates: readonly Candidate[]): void {
    for (const c of candidates) {
      if (this.#remote.some((r) => r.cid === c.cid)) continue;
      this.#remote.push(c);
      this.#race?.add(c, byPriority);
    }
  }

  handle(): TransportHandle {
    return {
      element: () =>
        transportElement({
          sid: this.sid,
          // XEP-0260 §2.2: dstaddr SHOULD accompany a proxy candidate; mode only from the initiator.
          dstaddr: this.#local.some((c) => c.type === "proxy") ? this.#ourHash : undefined,
          mode: this.#ctx.role === "initiator" ? "tcp" : undefined,
          candidates: this.#local,
        }),
      accepted: (answer) => {
        const theirs = parseTransport(answer);
        if (theirs.sid !== this.sid) {
          throw new JingleReasonError(
            "incompatible-parameters",
            `the S5B answer carries the sid '${theirs.sid}', not ours ('${this.sid}')`,
          );
        }
        this.addRemote(theirs.candidates);
      },
      info: (payload) => this.#onInfo(payload),
      connect: () => {
        // A turn later: a responder's session calls connect() just before it sends its
        // session-accept, which must reach the peer before our first transport-info.
        setImmediate(() => this.#start());
        return this.#outcome;
      },
      close: () => this.close(),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#race?.cancel();
    this.#expectation?.release();
    if (this.#nativeSocket && !this.#nativeSocket.destroyed) this.#nativeSocket.destroy();
    if (this.#stream) {
      if (!this.#stream.destroyed) this.#stream.destroy();
    } else if (this.#ours) {
      this.#ours.connection.destroy();
    }
    this.#settle(new TransportFailedError("the S5B transport was closed", { fallback: false }));
  }

  // --- connecting (docs/protocol/socks5.md#connecting-and-nomination steps 1–2) ------------------------------------

  #start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const remote = [...this.#remote].sort(byPriority);
    if (remote.length === 0) {
      this.#setOurs(null);
      return;
    }
    const timeoutMs = this.#options.connectTimeoutMs ?? this.#service.connectTimeoutMs;
    const race = new ConnectionRace(
      remote,
      (candidate, signal) =>
        this.#service.connect(candidate, this.#theirHash, {
          signal: AbortSignal.any([signal, this.#abort.signal]),
          timeoutMs,
        }),
      this.#options.staggerMs ?? this.#service.staggerMs,
    );
    this.#race = race;
    this.#applyOutrank();
    void race.result.then((winner) => this.#setOurs(winner ?? null));
  }

  // After the peer's candidate-used, only our candidates that could still beat its pick
  // are worth trying (docs/protocol/socks5.md#connecting-and-nomination step 2); a tie goes to the initiator.
  #applyOutrank(): void {
    const theirs = this.#theirs;
    if (!this.#race || this.#race.done || !theirs) return;
    const peerIsInitiator = this.#ctx.role === "responder";
    this.#race.cancel(
      (c) => theirs.priority > c.priority || (theirs.priority === c.priority && peerIsInitiator),
    );
  }

  #setOurs(verdict: RaceWinner<Candidate> | null): void {
    if (this.#ours !== undefined || this.#closed) {
      verdict?.connection.destroy();
      return;
    }
    this.#ours = verdict;
    const payload = verdict ? candidateUsed(this.sid, verdict.candidate.cid) : candidateError(this.sid);
    const acked = this.#ctx.sendInfo("transport-info", payload);
    this.#oursAcked = acked;
    acked.catch((error: unknown) =>
      this.#fail(
        new TransportFailedError(
          `the peer did not take our S5B ${verdict ? "candidate-used" : "candidate-error"}`,
          {
            cause: error,
          },
        ),
      ),
    );
    this.#decide();
  }

  // --- the peer's transport-info ---------------------------------------------------

  #onInfo(payload: Element): void {
    const info = parseTransport(payload);
    if (info.sid !== this.sid) {
      throw new StanzaError("bad-request", { text: `no S5B transport with the sid '${info.sid}' here` });
    }
    if (info.used !== undefined) {
      const candidate = this.#local.find((c) => c.cid === info.used);
      if (!candidate) {
        this.#fail(new TransportFailedError(`${this.#ctx.peer} reported using a candidate we never offered`));
        throw new StanzaError("item-not-found", {
          type: "cancel",
          text: `no candidate with cid '${info.used}'`,
        });
      }
      if (this.#theirs !== undefined) return; // a repeat: the first verdict stands
      this.#theirs = candidate;
      this.#applyOutrank();
      this.#decide();
      return;
    }
    if (info.error) {
      if (this.#theirs !== undefined) return;
      this.#theirs = null;
      this.#decide();
      return;
    }
    if (info.activated !== undefined) {
      this.#activatedCids.add(info.activated);
      if (this.#activationWaiter?.cid === info.activated) this.#activationWaiter.resolve();
      return;
    }
    if (info.proxyError) {
      this.#fail(
        new TransportFailedError(`${this.#ctx.peer} could not use the nominated SOCKS5 proxy (proxy-error)`),
      );
      return;
    }
    if (info.candidates.length > 0 && this.#ours === undefined) this.addRemote(info.candidates);
  }

  // --- nomination (docs/protocol/socks5.md#connecting-and-nomination steps 3–4) -------------------------------------

  #decide(): void {
    if (this.#decided || this.#closed || this.#ours === undefined || this.#theirs === undefined) return;
    this.#decided = true;
    const ours = this.#ours;
    const theirs = this.#theirs;
    if (!ours && !theirs) {
      this.#expectation?.release();
      this.#fail(
        new TransportFailedError(
          `neither side could connect to a SOCKS5 candidate of the other (with ${this.#ctx.peer})`,
        ),
      );
      return;
    }
    // Priorities come from the offerer's list; a tie goes to the initiator's pick.
    const usWinning =
      ours !== null &&
      (theirs === null ||
        ours.candidate.priority > theirs.priority ||
        (ours.candidate.priority === theirs.priority && this.#ctx.role === "initiator"));
    if (usWinning) {
      this.#nomination = { by: "us", candidate: ours.candidate };
      this.#expectation?.release(); // the peer's connection to us, if any, lost
      void this.#useOurConnection(ours);
    } else {
      this.#nomination = { by: "peer", candidate: theirs! };
      ours?.connection.destroy();
      void this.#usePeerConnection(theirs!);
    }
  }

  // We connected to the peer's candidate and it was nominated.
  async #useOurConnection(ours: RaceWinner<Candidate>): Promise<void> {
    try {
      const { candidate } = ours;
      // Opened now: from here on the peer may write (it knows the outcome as soon as we do).
      if (candidate.type !== "proxy") {
        const socket = this.#native(ours.connection);
        if (socket) {
          await this.#oursAcked;
          this.#settle(socket);
          return;
        }
      }
      this.#stream = ours.connection.open({
        peer: this.#ctx.peer,
        sid: this.sid,
        streamhost: candidate,
        mediated: candidate.type === "proxy",
        role: "target",
        highWaterMark: this.#service.highWaterMark,
        deferEnd: candidate.type === "proxy" && this.#options.deferEndOnProxy !== false,
      });
      // A peer's proxy: it activates, then tells us; we must not write before (docs/protocol/socks5.md#connecting-and-nomination step 4).
      if (candidate.type === "proxy") await this.#activation(candidate.cid);
      await this.#oursAcked;
      this.#settle(this.#stream);
    } catch (error) {
      this.#fail(error);
    }
  }

  // The peer connected to our candidate and it was nominated.
  async #usePeerConnection(candidate: Candidate): Promise<void> {
    try {
      if (candidate.type !== "proxy") {
        const connection = this.#expectation?.claim();
        if (!connection) {
          throw new TransportFailedError(
            `${this.#ctx.peer} nominated our direct candidate, but its connection to it is gone`,
          );
        }
        const socket = this.#native(connection);
        if (socket) {
          await this.#oursAcked;
          this.#settle(socket);
          return;
        }
        this.#stream = connection.open({
          peer: this.#ctx.peer,
          sid: this.sid,
          streamhost: candidate,
          mediated: false,
          role: "requester",
          highWaterMark: this.#service.highWaterMark,
        });
        await this.#oursAcked;
        this.#settle(this.#stream);
        return;
      }
      // Our proxy: connect to it with the same DST.ADDR, activate, say so (docs/protocol/socks5.md#connecting-and-nomination step 4).
      this.#expectation?.release();
      let stream: S5bStream;
      try {
        const connection = await this.#service.connect(candidate, this.#ourHash, {
          signal: this.#abort.signal,
          timeoutMs: this.#options.connectTimeoutMs,
        });
        try {
          // The transport's sid, not the Jingle sid (docs/protocol/errata.md#xep-0260).
          await this.#service.activate(candidate.jid, this.sid, this.#ctx.peer, {
            signal: this.#abort.signal,
          });
        } catch (error) {
          connection.destroy();
          throw error;
        }
        stream = connection.open({
          peer: this.#ctx.peer,
          sid: this.sid,
          streamhost: candidate,
          mediated: true,
          role: "requester",
          highWaterMark: this.#service.highWaterMark,
          deferEnd: this.#options.deferEndOnProxy !== false,
        });
      } catch (error) {
        if (!this.#closed) await this.#ctx.sendInfo("transport-info", proxyError(this.sid)).catch(() => {});
        throw new TransportFailedError(
          `could not use our SOCKS5 proxy ${candidate.jid}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      this.#stream = stream;
      await this.#ctx.sendInfo("transport-info", activated(this.sid, candidate.cid));
      await this.#oursAcked;
      this.#settle(stream);
    } catch (error) {
      this.#fail(error);
    }
  }

  // Resolves when the peer's <activated cid/> for its proxy arrives (or has arrived).
  #activation(cid: string): Promise<void> {
    if (this.#activatedCids.has(cid)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new Error("the S5B transport was closed before the proxy was activated"));
      this.#activationWaiter = {
        cid,
        resolve: () => {
          this.#abort.signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.#abort.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    const failure =
      error instanceof TransportFailedError
        ? error
        : new TransportFailedError(
            `the S5B transport failed: ${(error as Error)?.message ?? String(error)}`,
            {
              cause: error,
            },
          );
    this.#abort.abort();
    this.#race?.cancel();
    this.#expectation?.release();
    if (this.#nativeSocket && !this.#nativeSocket.destroyed) this.#nativeSocket.destroy();
    if (this.#stream && !this.#stream.destroyed) this.#stream.destroy();
    else if (this.#ours && !this.#stream && !this.#nativeSocket) this.#ours.connection.destroy();
    this.#settle(failure);
  }

  // The bare socket of a direct connection, when wanted and possible.
  #native(connection: PendingConnection): Socket | undefined {
    if (this.#options.nativeSocket !== true) return undefined;
    const socket = connection.openNative();
    if (socket) this.#nativeSocket = socket;
    return socket;
  }

  #settle(result: Duplex | Error): void {
    if (this.#settled) {
      if (!(result instanceof Error)) result.destroy();
      return;
    }
    this.#settled = true;
    if (result instanceof Error) {
      this.#reject(result);
      return;
    }
    const nomination = this.#nomination!;
    try {
      this.#transport.emit("nominated", {
        session: this.#ctx.sid,
        sid: this.sid,
        peer: this.#ctx.peer,
        by: nomination.by,
        candidate: nomination.candidate,
        stream: result,
        mediated: nomination.candidate.type === "proxy",
      });
    } catch {
      // a listener's mistake must not keep the transport from opening
    }
    this.#resolve(result);
  }
}
