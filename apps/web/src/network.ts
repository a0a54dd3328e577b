/**
 * The XMPP network Romeo and Juliet are on: the embedded in-process router by default
 * (no server needed), or a real XMPP server through @xmpp/client.
 */
import { fromXmppClient, LocalRouter, type XmppLink } from "@xtls/core";

export interface Account {
  /** A bare JID (a resource is chosen) or a full JID. */
  readonly jid: string;
  readonly password: string;
}

export interface ServerOptions {
  /** `xmpp://host:port` (or `xmpps://`, `ws://…` as @xmpp/client takes them). */
  readonly service: string;
  readonly romeo: Account;
  readonly juliet: Account;
}

export interface Network {
  /** As shown on the page. */
  readonly description: string;
  readonly romeo: XmppLink;
  readonly juliet: XmppLink;
  close(): Promise<void>;
}

/** On the embedded router. */
export const EMBEDDED_JIDS = {
  romeo: "romeo@montague.lit/orchard",
  juliet: "juliet@capulet.lit/balcony",
} as const;

export function embeddedNetwork(): Network {
  const router = new LocalRouter();
  return {
    description: "the embedded in-process router (no server)",
    romeo: router.createLink(EMBEDDED_JIDS.romeo),
    juliet: router.createLink(EMBEDDED_JIDS.juliet),
    close: async () => router.close(),
  };
}

/** The shape of @xmpp/client 0.14 used here (it ships no type declarations). */
interface XmppClient {
  readonly jid?: { toString(): string } | null;
  readonly reconnect: { stop(): void };
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  send(stanza: never): Promise<unknown>;
  readonly middleware: { use(fn: (ctx: never, next: () => Promise<unknown>) => unknown): unknown };
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export async function serverNetwork(options: ServerOptions): Promise<Network> {
  // @ts-expect-error -- @xmpp/client ships no type declarations; the shape used is XmppClient above.
  const { client } = (await import("@xmpp/client")) as unknown as {
    client: (options: Record<string, unknown>) => XmppClient;
  };
  const connect = async (account: Account, resource: string) => {
    const at = account.jid.indexOf("@");
    if (at <= 0) throw new Error(`an account is a JID like romeo@montague.lit, got "${account.jid}"`);
    const rest = account.jid.slice(at + 1);
    const slash = rest.indexOf("/");
    const xmpp = client({
      service: options.service,
      domain: slash < 0 ? rest : rest.slice(0, slash),
      username: account.jid.slice(0, at),
      password: account.password,
      resource: slash < 0 ? resource : rest.slice(slash + 1),
    });
    xmpp.reconnect.stop();
    xmpp.on("error", () => {}); // surfaced by start() or by the link closing
    await xmpp.start(); // the links hold their stanzas until XEP-0198 settles
    return xmpp;
  };
  const started = await Promise.allSettled([
    connect(options.romeo, "web-orchard"),
    connect(options.juliet, "web-balcony"),
  ]);
  const clients = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.allSettled(clients.map((c) => c.stop()));
    const reason = (failed as PromiseRejectedResult).reason as Error;
    throw new Error(`could not log in to ${options.service}: ${reason?.message ?? reason}`);
  }
  const [romeo, juliet] = clients as [XmppClient, XmppClient];
  return {
    description: options.service,
    romeo: fromXmppClient(romeo as never),
    juliet: fromXmppClient(juliet as never),
    close: async () => {
      await Promise.allSettled([romeo.stop(), juliet.stop()]);
    },
  };
}
