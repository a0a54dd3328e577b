/**
 * XEP-0030 disco#info: our responder (identity + registered features) and a query
 * helper; XEP-0115 verification strings (XEP-0115 §5.1).
 */
import { createHash } from "node:crypto";
import { compareOctets } from "./collation.js";
import type { RequestOptions, Unsubscribe, XmppLink } from "./link.js";
import { NS } from "./namespaces.js";
import { StanzaError } from "./stanza-error.js";
import { type Element, xml } from "./xml.js";

export interface DiscoIdentity {
  readonly category: string;
  readonly type: string;
  readonly name?: string;
  readonly lang?: string;
}

export interface DiscoInfoResult {
  readonly identities: readonly DiscoIdentity[];
  readonly features: readonly string[];
}

/** What a link advertises; packages add the features they implement. */
export interface DiscoRegistry {
  /** Advertises `feature` until the returned function is called (reference-counted). */
  addFeature(feature: string): Unsubscribe;
  hasFeature(feature: string): boolean;
  features(): string[];
  identity: DiscoIdentity;
}

/** The default identity: XTLS endpoints are clients (XEP-0030 §3.1: always send one; docs/protocol/core.md#disco-identity-and-caps). */
export const DEFAULT_IDENTITY: DiscoIdentity = { category: "client", type: "pc", name: "xtls-ts" };

/** The capabilities node we put in our caps and accept in disco#info requests. */
export const CAPS_NODE = "https://github.com/xtls-ts/xtls";

export class DiscoInfo implements DiscoRegistry {
  readonly #features = new Map<string, number>([
    [NS.DISCO_INFO, 1],
    [NS.CAPS, 1],
  ]);
  identity: DiscoIdentity;

  constructor(identity: DiscoIdentity = DEFAULT_IDENTITY) {
    this.identity = identity;
  }

  addFeature(feature: string): Unsubscribe {
    this.#features.set(feature, (this.#features.get(feature) ?? 0) + 1);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const n = (this.#features.get(feature) ?? 1) - 1;
      if (n <= 0) this.#features.delete(feature);
      else this.#features.set(feature, n);
    };
  }

  hasFeature(feature: string): boolean {
    return this.#features.has(feature);
  }

  features(): string[] {
    return [...this.#features.keys()].sort(compareOctets);
  }

  /** XEP-0115 `ver` of what we currently advertise. */
  capsVer(): string {
    return capsVerification([this.identity], this.features());
  }

  /** The handler for `<query xmlns='disco#info'/>` gets. */
  readonly answer = (request: { payload: Element }): Element => {
    const node = request.payload.attrs.node;
    // XEP-0030 §3.1: echo the node; XEP-0115 §6.2: we answer for our own caps node only.
    if (node !== undefined && node !== `${CAPS_NODE}#${this.capsVer()}`)
      throw new StanzaError("item-not-found");
    const { category, type, name, lang } = this.identity;
    return xml(
      "query",
      { xmlns: NS.DISCO_INFO, node },
      xml("identity", { category, type, name, "xml:lang": lang }),
      ...this.features().map((v) => xml("feature", { var: v })),
    );
  };
}

/** Asks `jid` (a full JID: support is per resource) for its disco#info. */
export async function queryDiscoInfo(
  link: XmppLink,
  jid: string,
  options?: RequestOptions,
): Promise<DiscoInfoResult> {
  const result = await link.request(
    xml("iq", { type: "get", to: jid }, xml("query", { xmlns: NS.DISCO_INFO })),
    options,
  );
  return parseDiscoInfo(result.getChild("query", NS.DISCO_INFO));
}

/**
 * Reads a disco#info `<query/>`. Tolerates a missing `<identity/>` (the seeds' own
 * examples omit it, though XEP-0030 requires one).
 */
export function parseDiscoInfo(query: Element | undefined): DiscoInfoResult {
  const identities: DiscoIdentity[] = [];
  const features: string[] = [];
  for (const child of query?.getChildElements() ?? []) {
    if (child.name === "identity" && child.attrs.category && child.attrs.type) {
      identities.push({
        category: child.attrs.category,
        type: child.attrs.type,
        name: child.attrs.name,
        lang: child.attrs["xml:lang"],
      });
    } else if (child.name === "feature" && child.attrs.var) {
      features.push(child.attrs.var);
    }
  }
  return { identities, features };
}

/**
 * XEP-0115 §5.1 verification string (without XEP-0128 forms), SHA-1, Base64. Sorting
 * is `i;octet` as the XEP requires.
 */
export function capsVerification(identities: readonly DiscoIdentity[], features: readonly string[]): string {
  const ids = identities
    .map((i) => ({
      sortKey: [i.category, i.type, i.lang ?? ""],
      s: `${i.category}/${i.type}/${i.lang ?? ""}/${i.name ?? ""}`,
    }))
    .sort((a, b) => {
      for (let k = 0; k < 3; k++) {
        const c = compareOctets(a.sortKey[k] ?? "", b.sortKey[k] ?? "");
        if (c !== 0) return c;
      }
      return 0;
    });
  let s = "";
  for (const i of ids) s += `${i.s}<`;
  for (const f of [...new Set(features)].sort(compareOctets)) s += `${f}<`;
  return createHash("sha1").update(s, "utf8").digest("base64");
}

/** Options of {@link PeerDiscoCache}. */
export interface PeerDiscoCacheOptions {
  /** How long a disco#info answer of a full JID without caps is reused. Default 10 min. */
  readonly ttlMs?: number;
  /** Timeout of each disco#info query. Default 10 s. */
  readonly timeoutMs?: number;
}

/**
 * The disco#info features of peers (full JIDs), asked once and cached: by XEP-0115 caps
 * when the peer's presence carries them (the `ver` is checked against the answer before
 * it is cached for every entity announcing it), otherwise per full JID for `ttlMs`. A
 * peer's unavailable presence, or new caps, forget what we had for it. What this says is
 * only a hint (a server can rewrite it): it chooses what to offer, never what to trust.
 */
export class PeerDiscoCache {
  readonly #link: XmppLink;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  /** Verified caps `ver` → features. */
  readonly #byVer = new Map<string, readonly string[]>();
  /** Full JID → its announced caps and the last answer. */
  readonly #byJid = new Map<
    string,
    { ver?: string; node?: string; answer?: Promise<readonly string[]>; at?: number }
  >();
  readonly #unsubscribe: Unsubscribe;
  /** disco#info queries sent (for tests and logs). */
  queries = 0;

  constructor(link: XmppLink, options: PeerDiscoCacheOptions = {}) {
    this.#link = link;
    this.#ttlMs = options.ttlMs ?? 10 * 60_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#unsubscribe = link.onStanza((stanza) => this.#presence(stanza));
  }

  /** The features `jid` (a full JID) advertises; rejects when it does not answer. */
  features(jid: string): Promise<readonly string[]> {
    const entry = this.#byJid.get(jid) ?? {};
    if (entry.ver && this.#byVer.has(entry.ver)) return Promise.resolve(this.#byVer.get(entry.ver)!);
    if (entry.answer && entry.at !== undefined && Date.now() - entry.at < this.#ttlMs) return entry.answer;
    const { ver, node } = entry;
    this.queries++;
    const ask = (withNode: boolean) =>
      this.#link.request(
        xml(
          "iq",
          { type: "get", to: jid },
          xml("query", {
            xmlns: NS.DISCO_INFO,
            node: withNode && ver && node ? `${node}#${ver}` : undefined,
          }),
        ),
        { timeoutMs: this.#timeoutMs },
      );
    const answer = ask(true)
      // A caps node the peer does not know (a forged or stale ver): ask plainly.
      .catch((error: unknown) => {
        if (!(ver && node && StanzaError.is(error, "item-not-found"))) throw error;
        this.queries++;
        return ask(false);
      })
      .then((result) => {
        const info = parseDiscoInfo(result.getChild("query", NS.DISCO_INFO));
        if (ver && capsVerification(info.identities, info.features) === ver)
          this.#byVer.set(ver, info.features);
        return info.features;
      });
    this.#byJid.set(jid, { ...entry, answer, at: Date.now() });
    answer.catch(() => {
      if (this.#byJid.get(jid)?.answer === answer) this.#byJid.set(jid, { ver, node });
    });
    return answer;
  }

  /** Stops listening to presence. */
  close(): void {
    this.#unsubscribe();
  }

  #presence(stanza: Element): void {
    const from = stanza.attrs.from;
    if (stanza.name !== "presence" || !from) return;
    if (stanza.attrs.type === "unavailable") {
      this.#byJid.delete(from);
      return;
    }
    const c = stanza.getChild("c", NS.CAPS);
    const ver = c?.attrs.ver;
    if (!c || !ver || (c.attrs.hash ?? "sha-1") !== "sha-1") return;
    if (this.#byJid.get(from)?.ver !== ver) this.#byJid.set(from, { ver, node: c.attrs.node });
  }
}
