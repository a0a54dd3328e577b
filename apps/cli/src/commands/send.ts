/** `xtls send FILE --to JID`: an end-to-end encrypted file transfer. */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import { sendableFileName } from "@xtls/file-transfer";
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
import { formatBytes, ProgressBar } from "../progress.js";
import type { CommandIo } from "./io.js";
import { oneTimePasswordUpFront } from "./policy.js";

export const SEND_HELP = `xtls send FILE --to JID — send a file, end-to-end encrypted (XEP-0234 inside XTLS)

  --to JID      the peer's full JID, e.g. juliet@capulet.lit/balcony
  --ask-otp     ask a one-time password agreed with the peer, at the start (hidden on a
                terminal, else stdin's first line) instead of generating a code
  --json        print a JSON summary instead of text
${TRANSPORT_HELP}

First contact (the peer is not a verified contact yet): a one-time code is generated and
shown ("Tell juliet@capulet.lit this one-time code: 1234-5678"); the receiver types it
when asked. 8 random digits, about 26.6 bits; srp gives an attacker one guess per
attempt, and attempts are limited across runs. XTLS_OTP or --ask-otp use yours instead.

The receiver stores the file only once its size and SHA-256 match; this command returns
when it has. Progress (rate, ETA) goes to stderr.

${ACCEPT_NEW_KEY_HELP}

${ACCOUNT_HELP}
`;

export async function sendCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      ...ACCOUNT_OPTIONS,
      ...ACCEPT_NEW_KEY_OPTION,
      ...TRANSPORT_OPTION,
      to: { type: "string" },
      "ask-otp": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout.write(SEND_HELP);
    return EXIT.ok;
  }
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError("xtls send FILE --to JID (one file)");
  const peer = checkPeer(values.to);
  const transport = transportOf(values, io.env);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`not a readable file: ${file}`);
  const account = await accountFor(values, io);
  // A name with a control character (or one XML forbids) cannot go into the offer: the
  // server would drop our connection. Clean it before any stanza goes out, and say so.
  const name = sendableFileName(basename(file));
  if (name !== basename(file)) io.stderr.write(`sending ${escapeControls(basename(file))} as ${name}\n`);
  const otp = await oneTimePasswordUpFront(values["ask-otp"] === true, io);
  const { xtls, close, lost, explain } = await connect(account, io.prompter, io.style, io.stderr, io.env, {
    otp,
    acceptNewKey: acceptNewKeyOf(values),
    ibbOnly: transport === "ibb",
    peer,
  });
  try {
    const t0 = performance.now();
    const transfer = await Promise.race([xtls.sendFile(peer, file, { name, transport }), lost]);
    const bar = new ProgressBar(io.stderr, io.style, name, info.size);
    transfer.on("progress", ({ bytes, rate }) => bar.update(bytes, rate));
    const result = await Promise.race([transfer.done, lost]);
    bar.finish();
    const ms = performance.now() - t0;
    const channel = transfer.session?.secured as
      | { peer?: { fingerprint: string; trust: { source: string } } }
      | undefined;
    const summary = {
      file: result.name,
      size: result.size,
      sha256: Buffer.from(result.hash.value, "base64").toString("hex"),
      peer,
      peerFingerprint: channel?.peer?.fingerprint,
      trust: channel?.peer?.trust.source,
      transport: transfer.session?.transportNamespace,
      ms: Math.round(ms),
    };
    if (values.json) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      io.stdout.write(
        `${io.style.green("sent")} ${result.name} (${formatBytes(result.size)}) to ${peer} in ${(ms / 1000).toFixed(1)} s\n` +
          `  SHA-256 ${summary.sha256} ${io.style.green("verified by the receiver")}\n` +
          (summary.peerFingerprint
            ? `  peer certificate ${formatFingerprint(summary.peerFingerprint)} (${summary.trust})\n`
            : ""),
      );
    }
    return EXIT.ok;
  } catch (error) {
    throw await explain(error);
  } finally {
    await close();
  }
}

/** `bad\x01name.txt` as those characters: control characters never reach the terminal raw. */
function escapeControls(name: string): string {
  return name.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
    /[\u0000-\u001f\u007f-\u009f\ufffe\uffff]/g,
    (c) => {
      const code = c.charCodeAt(0);
      return code < 0x100
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : `\\u${code.toString(16).padStart(4, "0")}`;
    },
  );
}
