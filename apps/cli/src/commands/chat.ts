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
  checkPeer,
  connect,
  EXIT,
  resolveAccount,
} from "../account.js";
import { logRefusals } from "./common.js";
import type { CommandIo } from "./io.js";

export const CHAT_HELP = `xtls chat [JID] — chat end to end encrypted (an XML stream inside XTLS)

  xtls chat juliet@capulet.lit/balcony   start a chat with that full JID
  xtls chat                              wait for someone to start one (asks before accepting)
  --yes                                  accept the first incoming chat without asking
  --json                                 one JSON line per message received

Type a line to send it; /quit or end of input closes the chat.

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
  const account = resolveAccount(values, io.env, true);
  const { xtls, close } = await connect(account, io.prompter, io.style, io.stderr, io.env, {
    acceptNewKey: acceptNewKeyOf(values),
  });
  logRefusals(xtls, io.stderr, "chat");
  try {
    let chat: Chat;
    if (peer) chat = await xtls.openChat(peer);
    else {
      io.stderr.write(`waiting for a chat as ${xtls.link.jid}\n`);
      chat = await new Promise<Chat>((resolve, reject) => {
        xtls.on("chat", async (incoming) => {
          if (!values.yes && !(await io.prompter.confirm(`${incoming.peer} wants to chat. Accept?`))) {
            await incoming.decline();
            return;
          }
          incoming.accept().then(resolve, reject);
        });
      });
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
    const ended = new Promise<void>((resolve) => chat.once("close", () => resolve()));
    for (;;) {
      const line = await Promise.race([io.prompter.ask(""), ended.then(() => null)]);
      if (line === null || line.trim() === "/quit") break;
      if (line.trim()) await chat.send(line);
    }
    await chat.close().catch(() => {});
    return EXIT.ok;
  } finally {
    io.prompter.close();
    await close();
  }
}
