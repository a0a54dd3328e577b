/** `xtls receive [--into DIR]`: wait for files and store them, verified. */
import { mkdir } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { IncomingFileOffer } from "@xtls/client";
import { formatFingerprint } from "@xtls/tls";
import {
  ACCEPT_NEW_KEY_HELP,
  ACCEPT_NEW_KEY_OPTION,
  ACCOUNT_HELP,
  ACCOUNT_OPTIONS,
  acceptNewKeyOf,
  accountFor,
  ConnectionError,
  connect,
  EXIT,
  UsageError,
} from "../account.js";
import { formatBytes, ProgressBar } from "../progress.js";
import { describeError, isVerificationAlarm, logRefusals } from "./common.js";
import type { CommandIo } from "./io.js";
import {
  acceptsWithoutAsking,
  firstContactFrom,
  howToAllow,
  oneTimePasswordUpFront,
  STRANGER_DECLINE_TEXT,
} from "./policy.js";

export const RECEIVE_HELP = `xtls receive [--into DIR] — wait for files, store them once verified

  --into DIR                   where files go (default: the current directory; --dir-out DIR
                               is the same)
  --yes                        accept without asking — only from verified contacts (pinned in
                               the trust store), or from the --from contact while a one-time
                               password is in hand (XTLS_OTP or --ask-otp); others are declined
  --from JID                   the contact the one-time password is for (needed with --yes)
  --ask-otp                    ask the one-time password for first contacts once, at the start
                               (hidden on a terminal, else the first line of stdin)
  --count N                    stop after N files received (default 1; 0 = keep going); a
                               declined or failed offer is reported on one line and not counted
  --json                       one JSON line per file received

Nothing happens for an offer before it is accepted: no connection to the addresses it names,
no file created, none of our addresses sent. A file is written under a temporary name and
renamed only when its size and SHA-256 match.
The account options' --dir is where the identity lives; files go to --into.

${ACCEPT_NEW_KEY_HELP}

${ACCOUNT_HELP}
`;

export async function receiveCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ...ACCOUNT_OPTIONS,
      ...ACCEPT_NEW_KEY_OPTION,
      into: { type: "string" },
      "dir-out": { type: "string" },
      yes: { type: "boolean" },
      "ask-otp": { type: "boolean" },
      from: { type: "string" },
      count: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.stdout.write(RECEIVE_HELP);
    return EXIT.ok;
  }
  const count = values.count === undefined ? 1 : Number(values.count);
  if (!Number.isInteger(count) || count < 0) throw new UsageError("--count must be a whole number");
  const into = values.into ?? values["dir-out"] ?? ".";
  const account = await accountFor(values, io);
  await mkdir(into, { recursive: true });
  const otp = await oneTimePasswordUpFront(values["ask-otp"] === true, io);
  const from = firstContactFrom(values.from, otp, values.yes === true);
  const { xtls, close, lost, explain } = await connect(account, io.prompter, io.style, io.stderr, io.env, {
    otp,
    acceptNewKey: acceptNewKeyOf(values),
  });
  logRefusals(xtls, io.stderr, "receive");
  io.stderr.write(
    `waiting for files as ${xtls.link.jid} (certificate ${formatFingerprint(xtls.fingerprint)})\n`,
  );
  let received = 0;
  let alarm: unknown;
  try {
    await Promise.race([
      lost,
      new Promise<void>((resolve) => {
        const take = async (offer: IncomingFileOffer) => {
          // Decide before anything else happens for the offer (see policy.ts).
          let ok: boolean;
          if (values.yes) {
            ok = await acceptsWithoutAsking(xtls, offer.peer, otp, from);
            if (!ok) {
              await offer.decline(STRANGER_DECLINE_TEXT).catch(() => {});
              io.stderr.write(
                `xtls receive: declined ${offer.name} from ${offer.peer}: not a verified contact (${howToAllow(offer.peer)})\n`,
              );
              return;
            }
          } else {
            const stranger = !(await xtls.isVerified(offer.peer));
            ok = await io.prompter.confirm(
              `${offer.peer}${stranger ? " (not a verified contact)" : ""} offers ${offer.name} (${formatBytes(offer.size)}, ${offer.mediaType}). Accept?`,
            );
            if (!ok) {
              await offer.decline().catch(() => {});
              io.stderr.write(`declined ${offer.name}\n`);
              return;
            }
          }
          try {
            const transfer = await offer.accept({ dir: into });
            const bar = new ProgressBar(io.stderr, io.style, offer.name, offer.size);
            transfer.on("progress", ({ bytes, rate }) => bar.update(bytes, rate));
            const result = await transfer.done;
            bar.finish();
            // Let the sender's session end cleanly before we possibly disconnect.
            await Promise.race([
              transfer.session?.done.catch(() => {}),
              new Promise((r) => setTimeout(r, 5000).unref()),
            ]);
            const sha256 = Buffer.from(result.hash.value, "base64").toString("hex");
            if (values.json)
              io.stdout.write(
                `${JSON.stringify({ path: result.path, size: result.size, sha256, from: offer.peer })}\n`,
              );
            else
              io.stdout.write(
                `${io.style.green("received")} ${result.path} (${formatBytes(result.size)}) from ${offer.peer}\n  SHA-256 ${sha256} ${io.style.green("verified")}\n`,
              );
            received++;
          } catch (error) {
            // A failed offer does not end the loop (only successes are counted): a peer
            // that cancels or a transfer that breaks (a secure channel cut off in transit
            // included) is one line. A verification failure does end it, with exit 3:
            // strangers were declined above, so a wrong password, a changed key, a
            // downgrade or a lockout comes from the contact we accepted or from someone in
            // the middle — an alarm for the user, not a line to scroll past. A lost
            // connection is reported once, by the command.
            const why = await explain(error);
            if (!(why instanceof ConnectionError))
              io.stderr.write(`xtls receive: ${offer.name} from ${offer.peer}: ${describeError(why)}\n`);
            if (isVerificationAlarm(why)) alarm = why;
          }
          if ((count > 0 && received >= count) || alarm) resolve();
        };
        xtls.on("file", (offer) => void take(offer));
        xtls.on("chat", (incoming) => void incoming.decline());
      }),
    ]);
  } finally {
    await close();
  }
  // The alarm was told on stderr already; with --json also as the failure object.
  if (alarm && values.json)
    io.stdout.write(`${JSON.stringify({ error: describeError(alarm), code: EXIT.security })}\n`);
  return alarm ? EXIT.security : EXIT.ok;
}
