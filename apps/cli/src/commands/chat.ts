/** `xtls chat [JID]`: an end-to-end encrypted chat on the terminal. */
import { parseArgs } from "node:util";
import type { Chat } from "@xtls/client";
import { type Element, xml } from "@xtls/core";
import { type IqTunnel, IqTunnelService } from "@xtls/iq-tunnel";
import type { PeerIdentity } from "@xtls/tls";
import { formatFingerprint } from "@xtls/tls";
import {
  ACCEPT_NEW_KEY_HELP,
  ACCEPT_NEW_KEY_OPTION,
  ACCOUNT_HELP,
  ACCOUNT_OPTIONS,
  acceptNewKeyOf,
  accountFor,
  checkPeer,
  connect,
  EXIT,
  TRANSPORT_HELP,
  TRANSPORT_OPTION,
  transportOf,
  UsageError,
} from "../account.js";
import { logRefusals } from "./common.js";
import type { CommandIo } from "./io.js";
import {
  acceptsWithoutAsking,
  firstContactFrom,
  howToAllow,
  oneTimePasswordUpFront,
  STRANGER_DECLINE_TEXT,
} from "./policy.js";

export const CHAT_HELP = `xtls chat [JID] — chat end to end encrypted (an XML stream inside XTLS)

  xtls chat juliet@capulet.lit/balcony   start a chat with that full JID
  xtls chat                              wait for someone to start one (asks before accepting)
  --yes                                  accept the first incoming chat without asking — only
                                         from a verified contact (pinned in the trust store),
                                         or from the --from contact while a one-time password
                                         is in hand (XTLS_OTP or --ask-otp); others are declined
  --from JID                             the contact the one-time password is for (with --yes)
  --ask-otp                              ask the one-time password for first contacts once, at
                                         the start (hidden on a terminal, else stdin's first line)
  --json                                 one JSON line per message received
  --mode j|q                             j (default): Jingle with the XTLS security precondition
                                         (the draft); q: the IQ-based tunnel of the XTLS ProtoXEP
                                         (urn:xmpp:tmp:xtls), for peers that speak only that;
                                         the peer must be a verified contact (or XTLS_OTP)
${TRANSPORT_HELP}

Type a line to send it; /quit or end of input closes the chat.
Starting a chat with a peer not verified yet (and no XTLS_OTP or --ask-otp): a one-time
code is generated and shown for you to tell them (8 digits, about 26.6 bits).

${ACCEPT_NEW_KEY_HELP}

${ACCOUNT_HELP}
`;

export async function chatCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      ...ACCOUNT_OPTIONS,
      ...ACCEPT_NEW_KEY_OPTION,
      ...TRANSPORT_OPTION,
      yes: { type: "boolean" },
      mode: { type: "string" },
      "ask-otp": { type: "boolean" },
      from: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(CHAT_HELP);
    return EXIT.ok;
  }
  const peer = positionals[0] === undefined ? undefined : checkPeer(positionals[0], "the chat's JID");
  const transport = transportOf(values, io.env);
  const mode = values.mode ?? "j";
  if (mode !== "j" && mode !== "q") throw new UsageError(`--mode must be j or q, got "${mode}"`);
  const account = await accountFor(values, io);
  const otp = await oneTimePasswordUpFront(values["ask-otp"] === true, io);
  const fromContact = firstContactFrom(values.from, otp, values.yes === true);
  const { xtls, close, lost, explain } = await connect(account, io.prompter, io.style, io.stderr, io.env, {
    otp,
    acceptNewKey: acceptNewKeyOf(values),
    ibbOnly: transport === "ibb",
    ...(peer ? { peer } : {}),
  });
  logRefusals(xtls, io.stderr, "chat");
  const modeQ =
    mode === "q"
      ? new IqTunnelService(xtls.link, {
          engine: xtls.engine,
          ...(otp !== undefined || io.env.XTLS_OTP
            ? { askPassword: async () => otp ?? io.env.XTLS_OTP ?? "" }
            : {}),
          accept: async ({ peer: from }) => decide(from),
        })
      : undefined;
  let answered = false;
  // Whether to take a chat (or tunnel) offered by `from`, by the same rules in both modes.
  const decide = async (from: string): Promise<boolean> => {
    // Starting one ourselves: only that peer's own start (both at once: the ProtoXEP's rule).
    if (peer) return from === peer;
    if (answered) return false;
    if (values.yes) {
      if (!(await acceptsWithoutAsking(xtls, from, otp, fromContact))) {
        io.stderr.write(
          `xtls chat: declined a chat from ${from}: not a verified contact (${howToAllow(from)})\n`,
        );
        return false;
      }
    } else {
      const stranger = !(await xtls.isVerified(from));
      const question = `${from}${stranger ? " (not a verified contact)" : ""} wants to chat. Accept?`;
      if (!(await io.prompter.confirm(question))) return false;
    }
    if (answered) return false;
    answered = true;
    return true;
  };
  try {
    let chat: ChatLike;
    if (modeQ) {
      if (!peer) io.stderr.write(`waiting for a chat (Mode Q) as ${xtls.link.jid}\n`);
      const tunnel = peer
        ? await Promise.race([modeQ.open(peer, { discover: true }), lost])
        : await Promise.race([lost, new Promise<IqTunnel>((resolve) => modeQ.once("tunnel", resolve))]);
      chat = tunnelChat(tunnel);
    } else if (peer) chat = jingleChat(await Promise.race([xtls.openChat(peer, { transport }), lost]));
    else {
      io.stderr.write(`waiting for a chat as ${xtls.link.jid}\n`);
      chat = jingleChat(
        await Promise.race([
          lost,
          new Promise<Chat>((resolve, reject) => {
            xtls.on("chat", async (incoming) => {
              if (answered) {
                await incoming.decline().catch(() => {});
                return;
              }
              // Decide before anything else happens for the offer (see policy.ts).
              if (values.yes) {
                if (!(await acceptsWithoutAsking(xtls, incoming.peer, otp, fromContact))) {
                  await incoming.decline(STRANGER_DECLINE_TEXT).catch(() => {});
                  io.stderr.write(
                    `xtls chat: declined a chat from ${incoming.peer}: not a verified contact (${howToAllow(incoming.peer)})\n`,
                  );
                  return;
                }
              } else {
                const stranger = !(await xtls.isVerified(incoming.peer));
                const question = `${incoming.peer}${stranger ? " (not a verified contact)" : ""} wants to chat. Accept?`;
                if (!(await io.prompter.confirm(question))) {
                  await incoming.decline().catch(() => {});
                  return;
                }
              }
              if (answered) {
                await incoming.decline().catch(() => {});
                return;
              }
              answered = true;
              incoming.accept().then(resolve, reject);
            });
          }),
        ]),
      );
    }
    const who = chat.peerIdentity;
    io.stderr.write(
      `${io.style.green("encrypted")} chat with ${chat.peer} — ${chat.tls?.protocol} ${chat.tls?.cipher} over ${chat.over}\n` +
        (who ? `  their certificate ${formatFingerprint(who.fingerprint)} (${who.trust.source})\n` : ""),
    );
    chat.on("message", (m) => {
      io.stdout.write(
        values.json
          ? `${JSON.stringify({ from: m.from, body: m.body })}\n`
          : `${io.style.cyan(m.from)}: ${m.body}\n`,
      );
    });
    const ended = new Promise<Error | undefined>((resolve) => chat.once("close", (error) => resolve(error)));
    let endedBy: Error | undefined;
    for (;;) {
      const line = await Promise.race([
        io.prompter.ask(""),
        ended.then((error) => {
          endedBy = error;
          return null;
        }),
        lost,
      ]);
      if (line === null || line.trim() === "/quit") break;
      if (line.trim()) await Promise.race([chat.send(line), lost]);
    }
    if (endedBy) throw endedBy;
    await Promise.race([chat.close().catch(() => {}), lost]);
    return EXIT.ok;
  } catch (error) {
    throw await explain(error);
  } finally {
    io.prompter.close();
    await modeQ?.close().catch(() => {});
    await close();
  }
}

/** The transport in words, for the line that opens a chat. */
export function transportLabel(namespace: string): string {
  if (namespace.startsWith("urn:xmpp:jingle:transports:ibb:")) return "in-band bytestreams (IBB)";
  if (namespace.startsWith("urn:xmpp:jingle:transports:s5b:")) return "SOCKS5 (s5b)";
  return namespace || "an unknown transport";
}

/** What the terminal loop needs of a chat, in either mode. */
interface ChatLike {
  readonly peer: string;
  readonly peerIdentity: PeerIdentity | undefined;
  readonly tls: { protocol: string; cipher: string } | undefined;
  /** The carrier in words. */
  readonly over: string;
  on(event: "message", listener: (m: { from: string; body: string }) => void): unknown;
  once(event: "close", listener: (error?: Error) => void): unknown;
  send(line: string): Promise<void>;
  close(): Promise<void>;
}

function jingleChat(chat: Chat): ChatLike {
  return Object.assign(chat, { over: transportLabel(chat.session.transportNamespace) }) as Chat & ChatLike;
}

/** A Mode Q tunnel as a chat: text messages in and out, close with close_notify and <close/>. */
function tunnelChat(tunnel: IqTunnel): ChatLike {
  return {
    peer: tunnel.peerJid,
    peerIdentity: tunnel.peer,
    tls: tunnel.channel ? { protocol: tunnel.channel.protocol, cipher: tunnel.channel.cipher } : undefined,
    over: "the XTLS ProtoXEP's IQ tunnel (Mode Q)",
    on: (_event, listener) =>
      tunnel.on("stanza", (stanza: Element) => {
        const body = stanza.name === "message" ? stanza.getChildText("body") : null;
        if (body !== null) listener({ from: stanza.attrs.from ?? tunnel.peerJid, body });
      }),
    once: (_event, listener) => tunnel.once("close", listener),
    send: (line) => tunnel.send(xml("message", { type: "chat" }, xml("body", {}, line))),
    close: () => tunnel.close(),
  };
}
