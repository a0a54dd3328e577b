#!/usr/bin/env node
/**
 * `xtls-web-demo` (`pnpm --filter @xtls/web-demo start`): starts the local agent and
 * prints Romeo's and Juliet's page addresses.
 */
import { parseArgs } from "node:util";
import { startWebDemo } from "./server.js";

const HELP = `Usage: xtls-web-demo [options]

Starts the XTLS web demo: a local agent on 127.0.0.1 that serves Romeo's and Juliet's
pages. Open each address in its own browser window: start a chat with a one-time password
or by comparing a code, chat, and send files. Runs on the embedded in-process router
unless --server is given.

Options:
  --port N                TCP port on 127.0.0.1 (default 0: any free port)  [env XTLS_WEB_PORT]
  --server URL            a real XMPP server, e.g. xmpp://127.0.0.1:15222   [env XTLS_SERVER]
  --romeo JID             Romeo's account (default romeo@montague.lit)      [env XTLS_ROMEO_JID]
  --juliet JID            Juliet's account (default juliet@capulet.lit)     [env XTLS_JULIET_JID]
  --password PW           password for both accounts (default "secret")     [env XTLS_PASSWORD]
  --romeo-password PW     Romeo's password                                  [env XTLS_ROMEO_PASSWORD]
  --juliet-password PW    Juliet's password                                 [env XTLS_JULIET_PASSWORD]
  --dir DIR               keep identities, trust stores and received files in DIR/romeo and
                          DIR/juliet (default: in memory; a temporary inbox)
  -h, --help              this help
`;

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        server: { type: "string" },
        romeo: { type: "string" },
        juliet: { type: "string" },
        password: { type: "string" },
        "romeo-password": { type: "string" },
        "juliet-password": { type: "string" },
        dir: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`xtls-web-demo: ${(error as Error).message} (see --help)\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const env = process.env;
  const str = (v: string | boolean | undefined) => (typeof v === "string" ? v : undefined);
  const portText = str(values.port) ?? env.XTLS_WEB_PORT ?? "0";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`xtls-web-demo: --port must be 0 to 65535, got "${portText}"\n`);
    return 2;
  }
  const service = str(values.server) ?? env.XTLS_SERVER;
  if (service !== undefined && !/^(xmpps?|wss?):\/\/[^/]+/.test(service)) {
    process.stderr.write(`xtls-web-demo: --server must look like xmpp://host:port, got "${service}"\n`);
    return 2;
  }
  const password = str(values.password) ?? env.XTLS_PASSWORD ?? "secret";
  const dir = str(values.dir);
  let demo: Awaited<ReturnType<typeof startWebDemo>>;
  try {
    demo = await startWebDemo({
      port,
      ...(dir ? { dir } : {}),
      ...(service
        ? {
            server: {
              service,
              romeo: {
                jid: str(values.romeo) ?? env.XTLS_ROMEO_JID ?? "romeo@montague.lit",
                password: str(values["romeo-password"]) ?? env.XTLS_ROMEO_PASSWORD ?? password,
              },
              juliet: {
                jid: str(values.juliet) ?? env.XTLS_JULIET_JID ?? "juliet@capulet.lit",
                password: str(values["juliet-password"]) ?? env.XTLS_JULIET_PASSWORD ?? password,
              },
            },
          }
        : {}),
    });
  } catch (error) {
    process.stderr.write(`xtls-web-demo: ${(error as Error).message}\n`);
    return 1;
  }
  const { romeo, juliet } = demo.people;
  process.stdout.write(
    `XTLS web demo on ${demo.network}\n` +
      `  Romeo  (${romeo.jid}):  ${demo.urls.romeo}\n` +
      `  Juliet (${juliet.jid}): ${demo.urls.juliet}\n` +
      "Open each address in its own browser window. The keys in them are the only way in: " +
      "share each only with its person. Ctrl-C stops.\n",
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await demo.close();
  return 0;
}

process.exitCode = await main();
