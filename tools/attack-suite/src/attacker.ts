/**
 * The attacker: an XMPP client (mallory@montague.lit) that owns the compromised server's
 * diversion switch (prosody/mod_xtls_divert.lua). With the diversion on, every stanza one
 * victim sends to the other reaches the attacker instead; it then
 *
 * - relays it unchanged, or rewritten by the rewriters it was given ({@link Attacker.rewrite}),
 * - or hands it to a {@link GhostLink}: an `XmppLink` whose JID is a victim's, so that the
 *   project's own packages (`createXtls`, the Jingle engine, `@xtls/tls` identities made for
 *   the victim's JID) answer and run TLS sessions of their own as that victim,
 * - or answers it itself with {@link Attacker.inject} (any stanza, from anyone).
 *
 * Its own account can also act as a plain stranger (attacker model 2 in SECURITY.md):
 * {@link Attacker.link}, or {@link RewritingLink} over it to bend what its own XTLS stack sends.
 */
import { EventEmitter } from "node:events";
import {
  cloneElement,
  type Element,
  fromXmppClient,
  type IqHandler,
  type IqType,
  LinkBase,
  type RequestOptions,
  type StanzaListener,
  type Unsubscribe,
  type XmppLink,
  xml,
} from "@xtls/core";
import { connectXmppClient, type XmppClient } from "@xtls/test-servers";

/** The module's namespace (prosody/mod_xtls_divert.lua). */
export const NS_DIVERT = "urn:xtls:test:divert";

export const ROMEO = "romeo@montague.lit";
export const JULIET = "juliet@capulet.lit";
export const MALLORY = "mallory@montague.lit";

export type DivertMode = "off" | "observe" | "divert";

/** Returns the stanza to relay (the same one, changed, or a new one), or `null` to drop it. */
export type Rewriter = (stanza: Element) => Element | null;

const bare = (jid: string | undefined) => (jid ?? "").split("/")[0]!;

export interface AttackerEvents {
  /** A victim's stanza the server handed to us (divert or observe), its from/to intact. */
  diverted: [stanza: Element];
}

export class Attacker extends EventEmitter<AttackerEvents> {
  readonly client: XmppClient;
  /** The attacker's own account as an XmppLink (a stranger's view). */
  readonly link: XmppLink;
  /** Every stanza diverted to us so far, in order. */
  readonly diverted: Element[] = [];
  readonly #ghosts = new Map<string, GhostLink>();
  readonly #rewriters: Rewriter[] = [];
  #mode: DivertMode = "off";

  private constructor(client: XmppClient) {
    super();
    this.client = client;
    this.link = fromXmppClient(client);
    this.link.onStanza((stanza) => this.#onStanza(stanza));
  }

  static async connect(resource = "attacker"): Promise<Attacker> {
    const [username, domain] = MALLORY.split("@") as [string, string];
    return new Attacker(await connectXmppClient({ username, domain, resource }));
  }

  get jid(): string {
    return this.link.jid;
  }

  /** Switches the server's diversion of the victims' stanzas (to us). */
  async setMode(mode: DivertMode, victims: readonly string[] = [ROMEO, JULIET]): Promise<void> {
    await this.link.request(
      xml(
        "iq",
        { type: "set", to: bare(this.jid).split("@")[1] },
        xml("divert", { xmlns: NS_DIVERT, mode, victims: victims.join(" ") }),
      ),
    );
    this.#mode = mode;
  }

  /** Puts `stanza` on the wire as its `from` says (the compromised server routes it). */
  async inject(stanza: Element): Promise<void> {
    const domain = bare(this.jid).split("@")[1];
    await this.link.send(xml("message", { to: domain }, xml("inject", { xmlns: NS_DIVERT }, stanza)));
  }

  /**
   * Relayed stanzas (diverted ones no ghost takes) go through `rewriter` first, in the
   * order the rewriters were added. Returns a function that removes it.
   */
  rewrite(rewriter: Rewriter): () => void {
    this.#rewriters.push(rewriter);
    return () => {
      const i = this.#rewriters.indexOf(rewriter);
      if (i >= 0) this.#rewriters.splice(i, 1);
    };
  }

  /**
   * An XmppLink posing as `jid` (a victim's full JID): it receives the diverted stanzas
   * addressed to that JID, and what it sends goes out with `from` = that JID.
   */
  ghost(jid: string): GhostLink {
    if (this.#ghosts.has(jid)) throw new Error(`already posing as ${jid}`);
    const ghost = new GhostLink(jid, this, () => this.#ghosts.delete(jid));
    this.#ghosts.set(jid, ghost);
    return ghost;
  }

  /** Resolves with the first diverted stanza (past or future) that `match` accepts. */
  waitForDiverted(match: (stanza: Element) => boolean, timeoutMs: number, what: string): Promise<Element> {
    const seen = this.diverted.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("diverted", listener);
        reject(new Error(`no diverted stanza within ${timeoutMs} ms: ${what}`));
      }, timeoutMs);
      const listener = (stanza: Element) => {
        if (!match(stanza)) return;
        clearTimeout(timer);
        this.off("diverted", listener);
        resolve(stanza);
      };
      this.on("diverted", listener);
    });
  }

  /** Diversion off, no ghosts, no rewriters, the log emptied: ready for the next attack. */
  async reset(): Promise<void> {
    for (const ghost of [...this.#ghosts.values()]) ghost.dispose();
    this.#rewriters.length = 0;
    this.diverted.length = 0;
    await this.setMode("off");
  }

  async close(): Promise<void> {
    await this.reset().catch(() => {});
    await this.client.stop().catch(() => {});
  }

  #onStanza(stanza: Element): void {
    if (stanza.name !== "message") return;
    const wrapper = stanza.getChild("diverted", NS_DIVERT);
    if (!wrapper) return;
    for (const child of wrapper.getChildElements()) {
      // Detached, in jabber:client like any stanza (it sat inside the wrapper's namespace).
      const original = cloneElement(child);
      delete original.attrs.xmlns;
      this.diverted.push(original);
      this.emit("diverted", original);
      if (wrapper.attrs.mode !== "divert" || this.#mode !== "divert") continue;
      const ghost = this.#ghosts.get(original.attrs.to ?? "");
      if (ghost) {
        ghost.receive(original);
        continue;
      }
      let relayed: Element | null = cloneElement(original);
      for (const rewriter of this.#rewriters) {
        if (relayed === null) break;
        relayed = rewriter(relayed);
      }
      if (relayed) void this.inject(relayed).catch(() => {});
    }
  }
}

/** An XmppLink that is a victim, as far as the other victim can tell (see {@link Attacker.ghost}). */
export class GhostLink extends LinkBase {
  readonly #jid: string;
  readonly #attacker: Attacker;
  readonly #forget: () => void;
  #closed = false;

  constructor(jid: string, attacker: Attacker, forget: () => void) {
    super();
    this.#jid = jid;
    this.#attacker = attacker;
    this.#forget = forget;
  }

  get jid(): string {
    return this.#jid;
  }

  async send(stanza: Element): Promise<void> {
    if (this.#closed) throw new Error(`the ghost of ${this.#jid} is gone`);
    stanza.attrs.from = this.#jid;
    await this.#attacker.inject(stanza);
  }

  /** A diverted stanza addressed to this JID. */
  receive(stanza: Element): void {
    if (!this.#closed) this.deliver(stanza);
  }

  /** Stops posing: later stanzas for this JID are relayed again. */
  dispose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#forget();
    this.engine.failPending(new Error(`the ghost of ${this.#jid} is gone`));
    this.fireClose(undefined, true);
  }
}

/**
 * Another link (the attacker's own account) whose outgoing stanzas pass through `rewrite`
 * first: the attacker's XTLS stack, with its offers bent the way an attack needs.
 */
export class RewritingLink implements XmppLink {
  readonly #inner: XmppLink;
  readonly #rewrite: (stanza: Element) => Element;

  constructor(inner: XmppLink, rewrite: (stanza: Element) => Element) {
    this.#inner = inner;
    this.#rewrite = rewrite;
  }

  get jid(): string {
    return this.#inner.jid;
  }

  get disco() {
    return this.#inner.disco;
  }

  send(stanza: Element): Promise<void> {
    return this.#inner.send(this.#rewrite(stanza));
  }

  request(iq: Element, options?: RequestOptions): Promise<Element> {
    return this.#inner.request(this.#rewrite(iq), options);
  }

  handle(type: IqType, ns: string, name: string, handler: IqHandler): Unsubscribe {
    return this.#inner.handle(type, ns, name, handler);
  }

  onStanza(listener: StanzaListener): Unsubscribe {
    return this.#inner.onStanza(listener);
  }

  onClose(listener: (error?: Error) => void): Unsubscribe {
    return this.#inner.onClose(listener);
  }
}

/** The `<jingle/>` of an IQ, or undefined. */
export function jingleOf(stanza: Element): Element | undefined {
  return stanza.name === "iq" ? stanza.getChild("jingle", "urn:xmpp:jingle:1") : undefined;
}
