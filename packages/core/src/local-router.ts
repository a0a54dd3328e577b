/**
 * The embedded, in-process XMPP router: the default for the demo and the unit tests.
 *
 * It behaves like a server where it matters to XTLS: it stamps `from` with the
 * sender's JID, routes by full JID in order per (sender, recipient) pair, bounces IQs
 * to unknown JIDs with `service-unavailable`, and answers IQs addressed to bare JIDs
 * and domains the way a server without those features would. Every stanza is
 * serialised and re-parsed on its way, so what arrives is what a real wire carries.
 *
 * Hooks for tests and demos: {@link LocalRouter.observe} (transcripts),
 * {@link LocalRouter.intercept} (drop, tamper, duplicate, reorder by holding back and
 * {@link LocalRouter.inject}ing later), per-link latency, and
 * {@link LocalRouter.interpose}, a relaying man in the middle between two JIDs.
 */
import type { DiscoIdentity } from "./disco.js";
import { buildIqReply, LinkClosedError } from "./iq-engine.js";
import { type Jid, parseJid, tryParseJid } from "./jid.js";
import type { Unsubscribe } from "./link.js";
import { LinkBase } from "./link-base.js";
import { NS } from "./namespaces.js";
import { StanzaError } from "./stanza-error.js";
import { type Element, RawXmlParser, xml } from "./xml.js";

export interface RouteInfo {
  /** The `from` of the stanza (already stamped). */
  readonly from: string;
  /** The `to` of the stanza (or the sender's domain when it had none). */
  readonly to: string;
}

/**
 * What an interceptor decides for a stanza: `undefined` lets it pass unchanged, an
 * element replaces it (tamper), `null` drops it, an array sends several (duplicate).
 */
export type InterceptResult = Element | readonly Element[] | null | undefined;
export type Interceptor = (stanza: Element, route: RouteInfo) => InterceptResult;

export type RouteOutcome = "delivered" | "bounced" | "dropped" | "answered-by-server";

export interface RouteEvent extends RouteInfo {
  readonly stanza: Element;
  /** The serialised form, exactly as it crossed the router. */
  readonly wire: string;
  readonly outcome: RouteOutcome;
}

export interface LocalLinkOptions {
  /** One-way delay added to every stanza this link sends. */
  latencyMs?: number;
  identity?: DiscoIdentity;
}

export interface Interposition {
  /** The attacker's link that receives what B sends to A, and sends to B as A. */
  readonly asA: LocalLink;
  /** The attacker's link that receives what A sends to B, and sends to A as B. */
  readonly asB: LocalLink;
  remove(): void;
}

interface Lane {
  readonly queue: Array<{ due: number; wire: string; route: RouteInfo; origin: LocalLink | undefined }>;
  timer: NodeJS.Timeout | undefined;
}

interface InterpositionState {
  readonly a: string;
  readonly b: string;
  readonly asA: LocalLink;
  readonly asB: LocalLink;
}

const STREAM_HEADER = `<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}'>`;

/**
 * RFC 6120 §8.2.3 over what a router carried: for every IQ get/set (not dropped), how many
 * result/error replies came back, and the replies that answered no request. Tests use it
 * to check "exactly one reply per request, never a stray one".
 */
export function auditIqReplies(events: readonly RouteEvent[]): {
  requests: Map<string, number>;
  stray: string[];
} {
  const requests = new Map<string, number>();
  const stray: string[] = [];
  for (const e of events) {
    const { type, id } = e.stanza.attrs;
    if (e.stanza.name !== "iq" || e.outcome === "dropped") continue;
    if (type === "get" || type === "set") requests.set(`${e.from}>${e.to}#${id}`, 0);
  }
  for (const e of events) {
    const { type, id } = e.stanza.attrs;
    if (e.stanza.name !== "iq" || (type !== "result" && type !== "error")) continue;
    const key = `${e.to}>${e.from}#${id}`;
    if (!requests.has(key)) stray.push(e.wire);
    else requests.set(key, (requests.get(key) ?? 0) + 1);
  }
  return { requests, stray };
}

export class LocalRouter {
  readonly #links = new Map<string, LocalLink>();
  readonly #observers = new Set<(event: RouteEvent) => void>();
  readonly #interceptors = new Set<Interceptor>();
  readonly #interpositions = new Set<InterpositionState>();
  readonly #lanes = new Map<string, Lane>();
  #ready: Array<{ wire: string; route: RouteInfo; origin: LocalLink | undefined }> = [];
  #flushScheduled = false;
  readonly #parser = new RawXmlParser();
  #parsed: Element | undefined;
  #closed = false;

  constructor() {
    this.#parser.on("element", (el) => {
      this.#parsed = el;
    });
    this.#parser.on("error", (err) => {
      throw new Error(`LocalRouter: a stanza did not re-parse (${err.message})`);
    });
    this.#parser.write(STREAM_HEADER);
  }

  /** Connects an entity with the given full JID (like a bound c2s session). */
  createLink(jid: string, options: LocalLinkOptions = {}): LocalLink {
    const parsed = parseJid(jid);
    if (!parsed.resource) throw new TypeError(`createLink needs a full JID, got ${jid}`);
    if (this.#links.has(parsed.full)) throw new Error(`${parsed.full} is already connected to this router`);
    const link = new LocalLink(this, parsed, options);
    this.#links.set(parsed.full, link);
    return link;
  }

  /** The connected link with this full JID, if any. */
  link(jid: string): LocalLink | undefined {
    const j = tryParseJid(jid);
    return j ? this.#links.get(j.full) : undefined;
  }

  /** Sees every stanza the router carries, after interception. */
  observe(listener: (event: RouteEvent) => void): Unsubscribe {
    this.#observers.add(listener);
    return () => this.#observers.delete(listener);
  }

  /** Runs on every stanza before delivery; see {@link InterceptResult}. */
  intercept(interceptor: Interceptor): Unsubscribe {
    this.#interceptors.add(interceptor);
    return () => this.#interceptors.delete(interceptor);
  }

  /**
   * A relaying man in the middle: from now on, what `a` sends to `b` goes to the
   * returned `asB` link, and what `b` sends to `a` goes to `asA`. The attacker's links
   * send with the forged JIDs (as a compromised server could).
   */
  interpose(a: string, b: string): Interposition {
    const ja = parseJid(a);
    const jb = parseJid(b);
    const state: InterpositionState = {
      a: ja.full,
      b: jb.full,
      asA: new LocalLink(this, ja, {}),
      asB: new LocalLink(this, jb, {}),
    };
    this.#interpositions.add(state);
    return {
      asA: state.asA,
      asB: state.asB,
      remove: () => {
        this.#interpositions.delete(state);
        state.asA.close();
        state.asB.close();
      },
    };
  }

  /**
   * Delivers a stanza exactly as given, `from` included: what a compromised server or
   * a spoofing peer on a broken server could do.
   */
  inject(stanza: Element): void {
    const route = { from: stanza.attrs.from ?? "", to: stanza.attrs.to ?? "" };
    this.#enqueue(stanza.toString(), route, undefined, 0);
  }

  /** Disconnects every link. */
  close(): void {
    this.#closed = true;
    for (const link of [...this.#links.values()]) link.close();
    for (const lane of this.#lanes.values()) if (lane.timer) clearTimeout(lane.timer);
    this.#lanes.clear();
  }

  /** @internal called by LocalLink.send */
  submit(stanza: Element, origin: LocalLink): void {
    if (this.#closed) throw new LinkClosedError(origin.jid);
    stanza.attrs.from = origin.jid; // the server stamps 'from' (RFC 6120 §8.1.2.1)
    const route: RouteInfo = { from: origin.jid, to: stanza.attrs.to ?? origin.jidParts.domain };
    let results: readonly Element[] = [stanza];
    for (const interceptor of this.#interceptors) {
      const next: Element[] = [];
      for (const s of results) {
        const r = interceptor(s, route);
        if (r === undefined) next.push(s);
        else if (r === null) this.#emit(s, route, "dropped");
        else if (Array.isArray(r)) next.push(...r);
        else next.push(r as Element);
      }
      results = next;
    }
    for (const s of results) this.#enqueue(s.toString(), route, origin, origin.latencyMs);
  }

  /** @internal */
  detach(link: LocalLink): void {
    if (this.#links.get(link.jid) === link) this.#links.delete(link.jid);
  }

  #enqueue(wire: string, route: RouteInfo, origin: LocalLink | undefined, latencyMs: number): void {
    const laneKey = `${route.from}\n${route.to}`;
    let lane = this.#lanes.get(laneKey);
    const now = performance.now();
    if (latencyMs <= 0 && (!lane || lane.queue.length === 0)) {
      this.#ready.push({ wire, route, origin });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
      return;
    }
    if (!lane) {
      lane = { queue: [], timer: undefined };
      this.#lanes.set(laneKey, lane);
    }
    const last = lane.queue[lane.queue.length - 1];
    lane.queue.push({ due: Math.max(now + latencyMs, last?.due ?? 0), wire, route, origin });
    if (!lane.timer) this.#armLane(laneKey, lane);
  }

  #armLane(laneKey: string, lane: Lane): void {
    const head = lane.queue[0];
    if (!head) {
      this.#lanes.delete(laneKey);
      return;
    }
    lane.timer = setTimeout(
      () => {
        lane.timer = undefined;
        const now = performance.now();
        while (lane.queue[0] && lane.queue[0].due <= now + 0.5) {
          const item = lane.queue.shift()!;
          this.#deliver(item.wire, item.route, item.origin);
        }
        this.#armLane(laneKey, lane);
      },
      Math.max(0, head.due - performance.now()),
    );
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#ready;
    this.#ready = [];
    for (const item of batch) this.#deliver(item.wire, item.route, item.origin);
  }

  #reparse(wire: string): Element {
    this.#parsed = undefined;
    this.#parser.write(wire);
    const el = this.#parsed as Element | undefined;
    if (!el) throw new Error(`LocalRouter: not a complete stanza: ${wire.slice(0, 200)}`);
    return el;
  }

  #deliver(wire: string, route: RouteInfo, origin: LocalLink | undefined): void {
    const stanza = this.#reparse(wire);
    const target = this.#resolveTarget(route, origin);
    if (target) {
      this.#emit(stanza, route, "delivered", wire);
      target.receive(stanza);
      return;
    }
    const to = tryParseJid(route.to);
    if (to && !to.resource) {
      this.#deliverToBare(stanza, route, to, wire);
      return;
    }
    this.#bounce(stanza, route, wire);
  }

  #resolveTarget(route: RouteInfo, origin: LocalLink | undefined): LocalLink | undefined {
    const from = tryParseJid(route.from)?.full;
    const to = tryParseJid(route.to)?.full;
    if (from === undefined || to === undefined) return undefined;
    for (const i of this.#interpositions) {
      const fromAttacker = origin === i.asA || origin === i.asB;
      if (!fromAttacker && from === i.a && to === i.b) return i.asB;
      if (!fromAttacker && from === i.b && to === i.a) return i.asA;
    }
    const link = this.#links.get(to);
    return link && !link.closed ? link : undefined;
  }

  // Addressed to a bare JID or a domain: the "server" answers IQs, and messages and
  // presences reach the account's connected resources (RFC 6121 §8.5.2).
  #deliverToBare(stanza: Element, route: RouteInfo, to: Jid, wire: string): void {
    if (stanza.name === "iq") {
      const type = stanza.attrs.type;
      if (type !== "get" && type !== "set") {
        this.#emit(stanza, route, "dropped", wire);
        return;
      }
      this.#emit(stanza, route, "answered-by-server", wire);
      this.#enqueue(
        this.#serverAnswer(stanza, to).toString(),
        { from: route.to, to: route.from },
        undefined,
        0,
      );
      return;
    }
    const resources = [...this.#links.values()].filter((l) => l.jidParts.bare === to.full && !l.closed);
    if (resources.length === 0) {
      this.#bounce(stanza, route, wire);
      return;
    }
    this.#emit(stanza, route, "delivered", wire);
    const targets = stanza.name === "presence" ? resources : resources.slice(0, 1);
    for (const link of targets) link.receive(targets.length > 1 ? this.#reparse(wire) : stanza);
  }

  #serverAnswer(iq: Element, to: Jid): Element {
    const payload = iq.getChildElements()[0];
    if (payload?.is("ping", NS.PING)) return buildIqReply(iq, { type: "result" });
    if (payload?.is("query", NS.DISCO_INFO) && !to.local) {
      return buildIqReply(iq, {
        type: "result",
        payload: xml(
          "query",
          { xmlns: NS.DISCO_INFO },
          xml("identity", { category: "server", type: "im", name: "LocalRouter" }),
          xml("feature", { var: NS.DISCO_INFO }),
        ),
      });
    }
    return buildIqReply(iq, { type: "error", error: new StanzaError("service-unavailable") });
  }

  // What a server does with a stanza for a full JID that is not online (RFC 6121
  // §8.5.3.2): IQ get/set → service-unavailable; messages → another resource of the
  // account or service-unavailable; errors, results and presences are dropped.
  #bounce(stanza: Element, route: RouteInfo, wire: string): void {
    const type = stanza.attrs.type;
    const to = tryParseJid(route.to);
    if (stanza.name === "message" && type !== "error" && to) {
      const other = [...this.#links.values()].find((l) => l.jidParts.bare === to.bare && !l.closed);
      if (other) {
        this.#emit(stanza, route, "delivered", wire);
        other.receive(stanza);
        return;
      }
    }
    const answerable =
      (stanza.name === "iq" && (type === "get" || type === "set")) ||
      (stanza.name === "message" && type !== "error");
    if (!answerable) {
      this.#emit(stanza, route, "dropped", wire);
      return;
    }
    this.#emit(stanza, route, "bounced", wire);
    const error = new StanzaError("service-unavailable").toElement();
    const reply =
      stanza.name === "iq"
        ? buildIqReply(stanza, { type: "error", error: new StanzaError("service-unavailable") })
        : xml("message", { type: "error", id: stanza.attrs.id, from: route.to, to: route.from }, error);
    this.#enqueue(reply.toString(), { from: route.to, to: route.from }, undefined, 0);
  }

  #emit(stanza: Element, route: RouteInfo, outcome: RouteOutcome, wire?: string): void {
    if (this.#observers.size === 0) return;
    const event: RouteEvent = { ...route, stanza, wire: wire ?? stanza.toString(), outcome };
    for (const observer of this.#observers) observer(event);
  }
}

/** A connection on the {@link LocalRouter}; implements {@link XmppLink}. */
export class LocalLink extends LinkBase {
  readonly jid: string;
  readonly jidParts: Jid;
  /** One-way delay added to each stanza this link sends; may be changed at any time. */
  latencyMs: number;
  #closed = false;
  readonly #router: LocalRouter;

  constructor(router: LocalRouter, jid: Jid, options: LocalLinkOptions) {
    super(options.identity);
    this.#router = router;
    this.jidParts = jid;
    this.jid = jid.full;
    this.latencyMs = options.latencyMs ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async send(stanza: Element): Promise<void> {
    if (this.#closed) throw new LinkClosedError(this.jid);
    this.#router.submit(stanza, this);
  }

  /** @internal called by the router. */
  receive(stanza: Element): void {
    if (!this.#closed) this.deliver(stanza);
  }

  /** Goes offline: pending requests reject, later stanzas to this JID bounce. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#router.detach(this);
    this.engine.close(() => new LinkClosedError(this.jid, error));
    this.fireClose(error, true);
  }
}
