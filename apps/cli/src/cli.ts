/** The `xtls` command line. */
import { readFileSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { parseArgs } from "node:util";
import { EXIT } from "./account.js";
import { chatCommand } from "./commands/chat.js";
import { describeError, exitCodeOf } from "./commands/common.js";
import { identityCommand } from "./commands/identity.js";
import type { CommandIo } from "./commands/io.js";
import { loginCommand, logoutCommand } from "./commands/login.js";
import { receiveCommand } from "./commands/receive.js";
import { sendCommand } from "./commands/send.js";
import { trustCommand } from "./commands/trust.js";
import { type DemoMode, runDemo, serverLinks } from "./demo.js";
import { Prompter } from "./prompt.js";
import { runStory } from "./story.js";
import { colorWanted, makeStyle } from "./style.js";
import { widthOf, wrappingStream, wrapText } from "./wrap.js";

export interface CliIo {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  readonly stdin?: Readable & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

export { EXIT };

const HELP = `xtls — end-to-end encryption for XMPP with TLS 1.3 run through XMPP

Usage:
  xtls demo [options]             the whole story on an embedded router, no server needed
  xtls chat [JID]                 an end-to-end encrypted chat
  xtls send FILE --to JID         send a file, encrypted, verified by the receiver
  xtls receive [--into DIR]       wait for files
  xtls login                      set your account up once (then no --jid needed)
  xtls logout                     forget it
  xtls trust list|verify|forget|export
  xtls identity show|new
  xtls --version
  xtls <command> --help

Exit codes: 0 success, 1 failed, 2 usage error, 3 the peer could not be verified
(wrong one-time password, codes differ, someone in the middle, a pinned peer's key CHANGED,
srp stripped from the negotiation, locked out after failed passwords), 4 declined or
cancelled, 5 the XMPP server is unreachable, refused the login, or went away, 6 the peer
is offline (the server answered for it: no such resource online, or no XTLS there).
An unknown option is exit 2 with one line. With --json, a failure is also one JSON object
on stdout: {"error": "...", "code": N}.
`;

const DEMO_HELP = `xtls demo — Romeo and Juliet, from strangers to an encrypted chat and file

Modes:
  story (default)    the whole story: first contact with a one-time password (srp), an
                     encrypted chat, an encrypted file transfer with a progress bar and a
                     hash check, and a second session that needs no password
  jingle             the draft's flow: a Jingle session with the XTLS security precondition,
                     TLS 1.3 over an in-band bytestream (XEP-0047/0261), then an end-to-end
                     XML stream (XEP-0246/0247) with message, presence and IQ both ways
  q                  the IQ-based tunnel of the XTLS ProtoXEP (urn:xmpp:tmp:xtls)

Runs on the embedded in-process router unless --server is given.

Options:
  --mode story|jingle|q   what to show (default story)                      [env XTLS_MODE]
  --transport ibb|s5b     jingle mode's transport: in-band bytestreams (default), or SOCKS5
                          (a direct connection, the server's proxy) with IBB as fallback
  --server URL            a real XMPP server, e.g. xmpp://127.0.0.1:15222   [env XTLS_SERVER]
  --romeo JID             Romeo's account (default romeo@montague.lit)      [env XTLS_ROMEO_JID]
  --juliet JID            Juliet's account (default juliet@capulet.lit)     [env XTLS_JULIET_JID]
  --password PW           password for both accounts (default "secret")     [env XTLS_PASSWORD]
  --romeo-password PW     Romeo's password                                  [env XTLS_ROMEO_PASSWORD]
  --juliet-password PW    Juliet's password                                 [env XTLS_JULIET_PASSWORD]
  --width N               wrap to N columns (default: the terminal's width; piped,
                          unwrapped and the transcript 140 wide); under 100 the
                          transcript takes one column
  --color / --no-color    force colours on or off (default: on for a terminal)
  --json                  print a JSON summary instead of the transcript
  -h, --help              this help
`;

const MODES = ["story", "jingle", "q"] as const;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return "unknown";
  }
}

/**
 * What node:util's parseArgs threw, as the usage error a user reads (exit 2): an unknown
 * option is one line naming it; undefined for any other error.
 */
function usageOf(error: unknown, command: string): string | undefined {
  const code = (error as { code?: unknown })?.code;
  if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS_")) return undefined;
  const message = (error as Error).message;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = message.match(/^Unknown option '([^']+)'/)?.[1] ?? message;
    return `xtls: unknown option ${option} (see xtls ${command} --help)`;
  }
  return `xtls ${command}: ${message.split(". ")[0]!.replace(/\.$/, "")} (see xtls ${command} --help)`;
}

/** `--json` asked for: a failure is also one JSON object on stdout, `{ "error", "code" }`. */
function jsonFailure(args: readonly string[], io: CliIo, error: string, code: number): void {
  if (args.includes("--json")) io.stdout.write(`${JSON.stringify({ error, code })}\n`);
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    io.stdout.write(wrapText(HELP, widthOf(io.stdout)));
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === "--version" || command === "-v") {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (command === "demo") return demo(rest, io);
  const run = COMMANDS[command];
  if (!run) {
    io.stderr.write(`xtls: unknown command "${command}". Run "xtls --help".\n`);
    return EXIT.usage;
  }
  const color = colorWanted(
    io.stderr,
    io.env,
    rest.includes("--no-color") ? false : rest.includes("--color") ? true : undefined,
  );
  const prompter = new Prompter({ stdin: io.stdin, stderr: io.stderr });
  const args = rest.filter((a) => a !== "--color" && a !== "--no-color");
  // Help is prose: wrapped to the terminal. Everything else a command prints stays as it is.
  const help = args.includes("--help") || args.includes("-h");
  const stdout = help ? wrappingStream(io.stdout, widthOf(io.stdout)) : io.stdout;
  try {
    return await run(args, { ...io, stdout, style: makeStyle(color), prompter });
  } catch (error) {
    prompter.endLine();
    const usage = usageOf(error, command);
    if (usage !== undefined) {
      io.stderr.write(`${usage}\n`);
      jsonFailure(args, io, usage, EXIT.usage);
      return EXIT.usage;
    }
    const code = exitCodeOf(error);
    const hint = code === EXIT.usage ? ` Run "xtls ${command} --help".` : "";
    const message = describeError(error);
    io.stderr.write(`xtls ${command}: ${message}${hint}\n`);
    jsonFailure(args, io, message, code);
    return code;
  } finally {
    prompter.close();
  }
}

const COMMANDS: Record<string, (argv: readonly string[], io: CommandIo) => Promise<number>> = {
  chat: chatCommand,
  send: sendCommand,
  receive: receiveCommand,
  trust: trustCommand,
  identity: identityCommand,
  login: loginCommand,
  logout: logoutCommand,
};

async function demo(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        mode: { type: "string" },
        transport: { type: "string" },
        server: { type: "string" },
        romeo: { type: "string" },
        juliet: { type: "string" },
        password: { type: "string" },
        "romeo-password": { type: "string" },
        "juliet-password": { type: "string" },
        width: { type: "string" },
        color: { type: "boolean" },
        "no-color": { type: "boolean" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    const usage = usageOf(error, "demo") ?? `xtls demo: ${(error as Error).message}`;
    io.stderr.write(`${usage}\n`);
    jsonFailure(argv, io, usage, EXIT.usage);
    return EXIT.usage;
  }
  const usage = (message: string) => {
    io.stderr.write(`xtls demo: ${message}\n`);
    jsonFailure(argv, io, message, EXIT.usage);
    return EXIT.usage;
  };
  const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);
  const width = str(values.width) ? Number(values.width) : undefined;
  if (width !== undefined && !(Number.isInteger(width) && width >= 20)) {
    return usage("--width must be a whole number of columns, at least 20");
  }
  if (values.help) {
    io.stdout.write(wrapText(DEMO_HELP, widthOf(io.stdout, width)));
    return EXIT.ok;
  }
  const env = io.env;
  const service = str(values.server) ?? (env.XTLS_SERVER || undefined);
  const password = str(values.password) ?? env.XTLS_PASSWORD ?? "secret";
  const mode = str(values.mode) ?? env.XTLS_MODE ?? "story";
  if (!(MODES as readonly string[]).includes(mode)) {
    return usage(`--mode must be one of ${MODES.join(", ")}, got "${mode}"`);
  }
  const transport = str(values.transport) ?? "ibb";
  if (transport !== "ibb" && transport !== "s5b") {
    return usage(`--transport must be ibb or s5b, got "${transport}"`);
  }
  if (service !== undefined && !/^(xmpp|xmpps|ws|wss):\/\//.test(service)) {
    return usage(`--server must look like xmpp://host:port, got "${service}"`);
  }
  // Wrapped to --width, else to the terminal (not when piped, unless --width).
  const out = wrappingStream(io.stdout, widthOf(io.stdout, width));
  const color = values["no-color"]
    ? false
    : colorWanted(io.stdout, env, values.color === true ? true : undefined);
  const devnull = { write: () => true } as unknown as Writable;
  const server = service
    ? {
        service,
        romeo: {
          jid: str(values.romeo) ?? env.XTLS_ROMEO_JID ?? "romeo@montague.lit",
          password: str(values["romeo-password"]) ?? env.XTLS_ROMEO_PASSWORD ?? password,
        },
        juliet: {
          jid: str(values.juliet) ?? env.XTLS_JULIET_JID ?? "juliet@capulet.lit",
          password: str(values["juliet-password"]) ?? env.XTLS_JULIET_PASSWORD ?? password,
        },
      }
    : undefined;
  try {
    let result: { plaintextLeaks: number };
    if (mode === "story") {
      const links = server ? await serverLinks(server) : undefined;
      try {
        result = await runStory({ out: values.json ? devnull : out, style: makeStyle(color), links });
      } finally {
        await links?.dispose();
      }
    } else {
      result = await runDemo({
        out: values.json ? devnull : out,
        mode: mode as DemoMode,
        transport,
        style: makeStyle(color),
        width: widthOf(io.stdout, width),
        server,
      });
    }
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.plaintextLeaks === 0 ? EXIT.ok : EXIT.failed;
  } catch (error) {
    const message = (error as Error).message;
    io.stderr.write(`xtls demo: ${message}\n`);
    jsonFailure(argv, io, message, EXIT.failed);
    return EXIT.failed;
  }
}
