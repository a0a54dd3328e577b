/** `xtls receive --dir DIR`: wait for files and store them, verified. */
import { mkdir } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { IncomingFileOffer } from "@xtls/client";
import {
  ACCEPT_NEW_KEY_HELP,
  ACCEPT_NEW_KEY_OPTION,
  ACCOUNT_HELP,
  ACCOUNT_OPTIONS,
  acceptNewKeyOf,
  connect,
  EXIT,
  resolveAccount,
  UsageError,
} from "../account.js";
import { formatBytes, ProgressBar } from "../progress.js";
import { describeError, exitCodeOf, logRefusals } from "./common.js";
import type { CommandIo } from "./io.js";

export const RECEIVE_HELP = `xtls receive --dir DIR — wait for files, store them once verified

  --dir-out DIR / --into DIR   where files go (default: the current directory)
  --yes                        accept every offer without asking
  --count N                    stop after N files (default 1; 0 = keep going)
  --json                       one JSON line per file received

A file is written under a temporary name and renamed only when its size and SHA-256 match.
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
  const account = resolveAccount(values, io.env, true);
  await mkdir(into, { recursive: true });
  const { xtls, close } = await connect(account, io.prompter, io.style, io.stderr, io.env, {
    acceptNewKey: acceptNewKeyOf(values),
  });
  logRefusals(xtls, io.stderr, "receive");
  io.stderr.write(`waiting for files as ${xtls.link.jid} (certificate ${xtls.fingerprint.slice(0, 16)}…)\n`);
  let received = 0;
  let failure: unknown;
  try {
    await new Promise<void>((resolve) => {
      const take = async (offer: IncomingFileOffer) => {
        const ok =
          values.yes ||
          (await io.prompter.confirm(
            `${offer.peer} offers ${offer.name} (${formatBytes(offer.size)}, ${offer.mediaType}). Accept?`,
          ));
        if (!ok) {
          await offer.decline();
          io.stderr.write(`declined ${offer.name}\n`);
          return;
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
          failure = error;
          io.stderr.write(`xtls receive: ${offer.name}: ${describeError(error)}\n`);
        }
        if ((count > 0 && received >= count) || failure) resolve();
      };
      xtls.on("file", (offer) => void take(offer));
      xtls.on("chat", (incoming) => void incoming.decline());
    });
  } finally {
    await close();
  }
  return failure ? exitCodeOf(failure) : EXIT.ok;
}
