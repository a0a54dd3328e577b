/** `xtls login`: set the account up once, so that later commands need no flags. */
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import {
  ACCOUNT_OPTIONS,
  accountFor,
  connect,
  EXIT,
  type SavedAccount,
  savedAccount,
  savedAccountPath,
  UsageError,
} from "../account.js";
import type { CommandIo } from "./io.js";

export const LOGIN_HELP = `xtls login [--jid JID] — set your account up once; later commands need no flags

  --jid JID          your account (asked on a terminal when missing)          [XTLS_JID]
  --server URL       only if the domain's SRV records (or <domain>:5222) are not right
  --resource NAME    this device's resource (default xtls-cli)
  --password PW      the password to check (asked without echo on a terminal) [XTLS_PASSWORD]
  --save-password    also store the password (in the file below, mode 0600); without it,
                     later commands ask for it on a terminal, or take XTLS_PASSWORD
  --json             print what was stored (never the password) as JSON

It logs in once to check the account, then stores the JID, the server and the resource
given (and the password only with --save-password) in ~/.config/xtls/account.json, file
mode 0600. Options and XTLS_* variables still win over what is stored.

  xtls logout        forget the stored account (identity and trust store stay)
`;

export async function loginCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ...ACCOUNT_OPTIONS,
      "save-password": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.stdout.write(LOGIN_HELP);
    return EXIT.ok;
  }
  let jid = values.jid ?? io.env.XTLS_JID;
  if (!jid && io.stdin?.isTTY)
    jid = (await io.prompter.ask("Your account (a JID like romeo@montague.lit): ")) ?? "";
  if (!jid) throw new UsageError("which account? give --jid (or set XTLS_JID)");
  // Only what is given now counts; a file from an earlier login is not read.
  const fresh = { ...values, jid };
  const account = await accountFor(fresh, io, false);
  const { client, close } = await connect(account, io.prompter, io.style, io.stderr, io.env);
  const bound = client.jid?.toString() ?? account.jid;
  await close();
  const server = values.server ?? (io.env.XTLS_SERVER || undefined);
  const saved: SavedAccount = {
    jid: account.jid,
    ...(server ? { server } : {}),
    ...(values.resource ? { resource: values.resource } : {}),
    ...(values["save-password"] ? { password: account.password } : {}),
  };
  const path = savedAccountPath();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600); // an existing file keeps its mode on write
  const { password: _p, ...shown } = saved;
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ ...shown, passwordSaved: saved.password !== undefined, path })}\n`);
  } else {
    io.stdout.write(
      `${io.style.green("logged in")} as ${bound}; saved to ${path} (mode 0600)\n` +
        (saved.password !== undefined
          ? "  the password is saved there too\n"
          : "  the password is not saved: commands ask for it on a terminal (or take XTLS_PASSWORD)\n"),
    );
  }
  return EXIT.ok;
}

export async function logoutCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(LOGIN_HELP);
    return EXIT.ok;
  }
  parseArgs({ args: [...argv], options: {} });
  const had = savedAccount();
  await rm(savedAccountPath(), { force: true });
  io.stdout.write(had ? `forgot the account ${had.jid}\n` : "no account was stored\n");
  return EXIT.ok;
}
