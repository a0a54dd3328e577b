// Plain-object harness: two JingleManagers joined by a tiny in-memory "wire" that
// serialises and re-parses every <jingle/>, plus fake plug-ins.
import type { Duplex } from "node:stream";
import {
  CLIENT_STREAM_HEADER,
  duplexPair,
  type Element,
  StanzaError,
  StanzaStreamParser,
  xml,
} from "@xtls/core";
import {
  type ApplicationFormat,
  type ApplicationHandle,
  type ContentContext,
  type Jingle,
  JingleManager,
  type JingleManagerOptions,
  type JingleSignalling,
  parseJingle,
  type SecuredStream,
  type SecurityHandle,
  type SecurityMethod,
  TransportFailedError,
  type TransportHandle,
  type TransportMethod,
} from "../src/index.js";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";

export interface WireEntry {
  from: string;
  to: string;
  jingle: Jingle;
  xml: string;
  /** The IQ answer: "result" or the error condition (and Jingle condition). */
  answer?: string;
}

function reparse(el: Element): Element {
  const parser = new StanzaStreamParser({ primedHeader: CLIENT_STREAM_HEADER });
  let out: Element | undefined;
  parser.on("stanza", (s) => {
    out = s;
  });
  parser.write(xml("iq", {}, el).toString());
  return out!.getChildElements()[0]!;
}

/** Connects managers by JID; every send is delivered (async) to the addressee's receive(). */
export class Wire {
  readonly log: WireEntry[] = [];
  readonly managers = new Map<string, JingleManager>();
  /** Return a StanzaError to answer instead of delivering, or "drop". */
  tamper?: (entry: WireEntry) => StanzaError | "drop" | undefined;
  /** Delays the ack (IQ result) of these actions, so later stanzas overtake it. */
  lateAcks?: { actions: readonly string[]; ms: number };

  signalling(jid: string): JingleSignalling {
    return {
      jid,
      send: async (to, jingle) => {
        const el = reparse(jingle);
        const entry: WireEntry = { from: jid, to, jingle: parseJingle(el), xml: el.toString() };
        this.log.push(entry);
        await new Promise((r) => setImmediate(r));
        const verdict = this.tamper?.(entry);
        if (verdict === "drop") return new Promise<void>(() => {});
        if (verdict) {
          entry.answer = verdict.condition;
          throw verdict;
        }
        const target = this.managers.get(to);
        if (!target) {
          entry.answer = "service-unavailable";
          throw new StanzaError("service-unavailable");
        }
        try {
          await target.receive(jid, el);
          entry.answer = "result";
          if (this.lateAcks?.actions.includes(entry.jingle.action))
            await new Promise((r) => setTimeout(r, this.lateAcks!.ms));
        } catch (error) {
          const e = error as StanzaError;
          entry.answer = `${e.condition}${e.appCondition ? `+${e.appCondition.name}` : ""}`;
          throw error;
        }
      },
    };
  }

  add(jid: string, options: JingleManagerOptions): JingleManager {
    const m = new JingleManager(this.signalling(jid), {
      acceptTimeoutMs: 2000,
      connectTimeoutMs: 2000,
      replaceTimeoutMs: 2000,
      ...options,
    });
    this.managers.set(jid, m);
    return m;
  }

  actions(): string[] {
    return this.log.map(
      (e) =>
        `${e.from === ROMEO ? "R" : e.from === JULIET ? "J" : e.from}:${e.jingle.action}${e.jingle.reason ? `(${e.jingle.reason.condition})` : ""}`,
    );
  }
}

// --- fake plug-ins ---------------------------------------------------------------

const pairs = new Map<string, [Duplex, Duplex]>();
let next = 0;

export interface LoopbackOptions {
  namespace?: string;
  /** Make connect() fail on this side. */
  failOn?: "initiator" | "responder" | "both";
  fallback?: boolean;
}

export function loopbackTransport(options: LoopbackOptions = {}): TransportMethod {
  const ns = options.namespace ?? "urn:example:loopback";
  const handle = (ctx: ContentContext, id: string): TransportHandle => {
    let pair = pairs.get(id);
    if (!pair) {
      pair = duplexPair();
      pairs.set(id, pair);
    }
    const mine = ctx.role === "initiator" ? pair[0] : pair[1];
    return {
      element: () => xml("transport", { xmlns: ns, id }),
      connect: async () => {
        if (options.failOn === ctx.role || options.failOn === "both") {
          throw new TransportFailedError(`loopback ${id} refused on the ${ctx.role} side`, {
            fallback: options.fallback ?? true,
          });
        }
        return mine;
      },
      close: () => {},
    };
  };
  return {
    namespaces: [ns],
    offer: (ctx) => handle(ctx, `lb${next++}`),
    accept: (ctx, offer) => handle(ctx, offer.attrs.id!),
  };
}

export function nullSecurity(
  options: { failOn?: "initiator" | "responder"; ns?: string } = {},
): SecurityMethod {
  const ns = options.ns ?? "urn:example:null-security";
  const handle = (ctx: ContentContext): SecurityHandle => ({
    element: () => xml("security", { xmlns: ns }),
    secure: async (stream: Duplex): Promise<SecuredStream> => {
      if (options.failOn === ctx.role) throw new Error("handshake refused");
      return {
        stream,
        close: async () => {
          if (!stream.writableEnded) stream.end();
        },
        destroy: (e) => stream.destroy(e),
        closed: new Promise((resolve) => stream.once("close", () => resolve())),
      };
    },
  });
  return { namespaces: [ns], offer: handle, accept: (ctx) => handle(ctx) };
}

export const ECHO = "urn:example:echo";

/** The initiator sends "ping", the responder answers "pong"; each side records what it read. */
export function echoApplication(options: { plaintextAllowed?: boolean; hang?: boolean } = {}) {
  const seen: { role: string; text: string; secured: boolean }[] = [];
  const handle = (): ApplicationHandle => ({
    namespace: ECHO,
    plaintextAllowed: options.plaintextAllowed ?? false,
    description: () => xml("description", { xmlns: ECHO }),
    run: async (stream, security, ctx) => {
      if (options.hang)
        await new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
        );
      if (ctx.role === "initiator") stream.write("ping");
      const text = await new Promise<string>((resolve) =>
        stream.once("data", (d: Buffer) => resolve(d.toString())),
      );
      seen.push({ role: ctx.role, text, secured: security !== undefined });
      if (ctx.role === "responder") stream.write("pong");
    },
  });
  const format: ApplicationFormat = {
    namespaces: [ECHO],
    plaintextAllowed: options.plaintextAllowed ?? false,
    accept: () => handle(),
  };
  return { format, handle, seen };
}
