/** `xtls chat [JID]`: an end-to-end encrypted chat on the terminal. */
import { parseArgs } from "node:util";
import type { Chat } from "@xtls/client";
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
      yes: { type: "boolean" },
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
  const account = await accountFor(values, io);
  const otp = await oneTimePasswordUpFront(values["ask-otp"] === true, io);
  const from = firstContactFrom(values.from, otp, values.yes === true);
  const { xtls, close, lost, explain } = await connect(account, io.prompter, io.style, io.stderr, io.env, {
    otp,
    acceptNewKey: acceptNewKeyOf(values),
    ...(peer ? { peer } : {}),
  });
  logRefusals(xtls, io.stderr, "chat");
  try {
    let chat: Chat;
    if (peer) chat = await Promise.race([xtls.openChat(peer), lost]);
    else {
      io.stderr.write(`waiting for a chat as ${xtls.link.jid}\n`);
      let answered = false;
      chat = await Promise.race([
        lost,
        new Promise<Chat>((resolve, reject) => {
          xtls.on("chat", async (incoming) => {
            if (answered) {
              await incoming.decline().catch(() => {});
              return;
            }
            // Decide before anything else happens for the offer (see policy.ts).
            if (values.yes) {
              if (!(await acceptsWithoutAsking(xtls, incoming.peer, otp, from))) {
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
      ]);
    }
    const who = chat.peerIdentity;
    io.stderr.write(
      `${io.style.green("encrypted")} chat with ${chat.peer} — ${chat.tls?.protocol} ${chat.tls?.cipher}\n` +
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
    await close();
  }
}
