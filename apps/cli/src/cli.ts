/** The `xtls` command line. */
import { readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { type DemoMode, runDemo } from "./demo.js";
import { colorWanted, makeStyle } from "./style.js";

export interface CliIo {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

/** Exit codes: 0 success, 1 the operation failed, 2 usage error. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const HELP = `xtls — end-to-end encryption for XMPP with TLS 1.3 run through XMPP

Usage:
  xtls demo [options]      Romeo and Juliet open an end-to-end encrypted session and talk through it
  xtls --version
  xtls <command> --help

Run "xtls demo --help" for the demo's options.
`;

const DEMO_HELP = `xtls demo — Romeo and Juliet open an XTLS session and exchange stanzas through it

Modes:
  jingle (default)   the draft's flow: a Jingle session with the XTLS security precondition,
                     TLS 1.3 over an in-band bytestream (XEP-0047/0261), then an end-to-end
                     XML stream (XEP-0246/0247) with message, presence and IQ both ways
  q                  the IQ-based tunnel of the XTLS ProtoXEP (urn:xmpp:tmp:xtls)

Runs on the embedded in-process router unless --server is given.

Options:
  --mode jingle|q         which protocol (default jingle)                   [env XTLS_MODE]
  --server URL            a real XMPP server, e.g. xmpp://127.0.0.1:15222   [env XTLS_SERVER]
  --romeo JID             Romeo's account (default romeo@montague.lit)      [env XTLS_ROMEO_JID]
  --juliet JID            Juliet's account (default juliet@capulet.lit)     [env XTLS_JULIET_JID]
  --password PW           password for both accounts (default "secret")     [env XTLS_PASSWORD]
  --romeo-password PW     Romeo's password                                  [env XTLS_ROMEO_PASSWORD]
  --juliet-password PW    Juliet's password                                 [env XTLS_JULIET_PASSWORD]
  --width N               transcript width in columns
  --color / --no-color    force colours on or off (default: on for a terminal)
  --json                  print a JSON summary instead of the transcript
  -h, --help              this help
`;

const MODES = ["jingle", "q"] as const;

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

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    io.stdout.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === "--version" || command === "-v") {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (command === "demo") return demo(rest, io);
  io.stderr.write(`xtls: unknown command "${command}". Run "xtls --help".\n`);
  return EXIT.usage;
}

async function demo(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        mode: { type: "string" },
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
    io.stderr.write(`xtls demo: ${(error as Error).message}. Run "xtls demo --help".\n`);
    return EXIT.usage;
  }
  if (values.help) {
    io.stdout.write(DEMO_HELP);
    return EXIT.ok;
  }
  const env = io.env;
  const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);
  const service = str(values.server) ?? env.XTLS_SERVER;
  const password = str(values.password) ?? env.XTLS_PASSWORD ?? "secret";
  const width = str(values.width) ? Number(values.width) : undefined;
  if (width !== undefined && !(width > 0)) {
    io.stderr.write(`xtls demo: --width must be a positive number\n`);
    return EXIT.usage;
  }
  const mode = str(values.mode) ?? env.XTLS_MODE ?? "jingle";
  if (!(MODES as readonly string[]).includes(mode)) {
    io.stderr.write(`xtls demo: --mode must be one of ${MODES.join(", ")}, got "${mode}"\n`);
    return EXIT.usage;
  }
  if (service !== undefined && !/^(xmpp|xmpps|ws|wss):\/\//.test(service)) {
    io.stderr.write(`xtls demo: --server must look like xmpp://host:port, got "${service}"\n`);
    return EXIT.usage;
  }
  const color = values["no-color"]
    ? false
    : colorWanted(io.stdout, env, values.color === true ? true : undefined);
  const devnull = { write: () => true } as unknown as Writable;
  try {
    const result = await runDemo({
      out: values.json ? devnull : io.stdout,
      mode: mode as DemoMode,
      style: makeStyle(color),
      width,
      server: service
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
        : undefined,
    });
    if (values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return result.plaintextLeaks === 0 ? EXIT.ok : EXIT.failed;
  } catch (error) {
    io.stderr.write(`xtls demo: ${(error as Error).message}\n`);
    return EXIT.failed;
  }
}
