// The story across federation, through the `xtls` command as users run it: Romeo on a Prosody
// serving montague.lit, Juliet on an ejabberd serving capulet.lit, every stanza between them
// over s2s, both servers requiring STARTTLS with certificates of the suite's test CA (given to
// the CLI with --ca). And the STARTTLS refusal: a server certificate the CLI cannot verify is
// exit 5 with one line naming the server.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deadlines, REPO_ROOT, type StartedCommand, startCommand } from "@xtls/test-servers";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { CA_FILE, capulet, type FederatedServer, montague, OTHER_CA_FILE, stranger } from "../src/servers.js";

const missing = inject("federationMissing");
const APP = join(REPO_ROOT, "apps", "cli");
const BIN = join(APP, "dist", "bin.js");
const PASSWORD = "wherefore-1597";
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

let dir: string;
const runs: StartedCommand[] = [];

beforeAll(async () => {
  if (missing) return;
  const r = spawnSync(
    join(REPO_ROOT, "node_modules", ".bin", "tsc"),
    ["-b", join(APP, "tsconfig.build.json")],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`building apps/cli failed:\n${r.stdout}${r.stderr}`);
  dir = await mkdtemp(join(tmpdir(), "xtls-federation-"));
}, deadlines.buildMs);

afterEach(async () => {
  await Promise.all(runs.splice(0).map((r) => r.kill("SIGKILL")));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * `xtls ARGS` against `server` (its c2s address; the JID's domain is the server's), with the
 * suite's CA given by --ca unless `ca` says otherwise. NODE_EXTRA_CA_CERTS (which the suite sets
 * for its own processes) is removed unless `env` gives it: each test says what the CLI trusts.
 */
function xtls(
  server: FederatedServer,
  args: string[],
  {
    env = {},
    stdin,
    ca = CA_FILE,
  }: { env?: Record<string, string>; stdin?: string; ca?: string | null } = {},
): StartedCommand {
  const {
    NO_COLOR: _n,
    FORCE_COLOR: _f,
    XTLS_OTP: _o,
    NODE_EXTRA_CA_CERTS: _e,
    XTLS_CA: _c,
    ...inherited
  } = process.env;
  const run = startCommand(process.execPath, [BIN, ...args, ...(ca ? ["--ca", ca] : [])], {
    env: { ...inherited, XTLS_SERVER: server.service, XTLS_PASSWORD: server.password, ...env },
    stdin,
    label: `xtls ${args.join(" ")}`,
  });
  runs.push(run);
  return run;
}

const romeo = (tag: string) => [
  "--jid",
  "romeo@montague.lit",
  "--resource",
  `orchard-${tag}`,
  "--dir",
  join(dir, `${tag}-romeo`),
];
const juliet = (tag: string) => [
  "--jid",
  "juliet@capulet.lit",
  "--resource",
  `balcony-${tag}`,
  "--dir",
  join(dir, `${tag}-juliet`),
];
const JULIET = (tag: string) => `juliet@capulet.lit/balcony-${tag}`;
const ROMEO = (tag: string) => `romeo@montague.lit/orchard-${tag}`;

describe.skipIf(missing)(
  "xtls across federation: romeo@montague.lit (Prosody) and juliet@capulet.lit (ejabberd), STARTTLS with --ca",
  () => {
    it("first contact with a one-time password (srp), chat both ways, a file; the second session needs no password", async () => {
      // 1. Juliet waits for a chat, with the password in hand for Romeo's first contact; Romeo
      //    opens it across s2s, types a line, Juliet answers one.
      const j1 = xtls(capulet, ["chat", ...juliet("a"), "--yes", "--from", "romeo@montague.lit", "--json"], {
        env: { XTLS_OTP: PASSWORD },
      });
      await j1.waitFor("waiting for a chat as");
      const r1 = xtls(montague, ["chat", JULIET("a"), ...romeo("a"), "--json"], {
        env: { XTLS_OTP: PASSWORD },
      });
      await r1.waitFor(/encrypted chat with juliet@capulet\.lit\/balcony-a — TLSv1\.3/);
      r1.child.stdin.write("Did my heart love till now?\n");
      await j1.waitFor("Did my heart love till now?");
      j1.child.stdin.write("Art thou not Romeo, and a Montague?\n");
      await r1.waitFor("Art thou not Romeo, and a Montague?");
      r1.child.stdin.end("/quit\n");
      expect(await r1.exited(), r1.seen()).toBe(0);
      expect(await j1.exited(), j1.seen()).toBe(0);
      const lines = (run: StartedCommand) =>
        run
          .stdout()
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l));
      expect(lines(j1)).toContainEqual({ from: ROMEO("a"), body: "Did my heart love till now?" });
      expect(lines(r1)).toContainEqual({ from: JULIET("a"), body: "Art thou not Romeo, and a Montague?" });

      // 2. A file, and 3. the second session: no password anywhere (stdin empty, no XTLS_OTP):
      //    both are pinned verified contacts now.
      const file = join(dir, "sonnet.bin");
      const bytes = randomBytes(300_000);
      await writeFile(file, bytes);
      const inbox = join(dir, "inbox-a");
      const j2 = xtls(capulet, ["receive", ...juliet("a"), "--into", inbox, "--yes", "--json"], {
        stdin: "",
      });
      await j2.waitFor("waiting for files as");
      const r2 = xtls(montague, ["send", file, "--to", JULIET("a"), ...romeo("a"), "--json"], { stdin: "" });
      expect(await r2.exited(), r2.seen()).toBe(0);
      expect(await j2.exited(), j2.seen()).toBe(0);
      const sent = JSON.parse(r2.stdout());
      expect(sent).toMatchObject({
        file: "sonnet.bin",
        size: 300_000,
        trust: "trust-store",
        sha256: sha256(bytes),
      });
      expect(r2.stderr()).not.toMatch(/One-time password/);
      expect(await readdir(inbox)).toEqual(["sonnet.bin"]);
      expect(sha256(await readFile(join(inbox, "sonnet.bin")))).toBe(sha256(bytes));
    });
  },
);

describe.skipIf(missing)("STARTTLS: the CLI refuses a server certificate it cannot verify", () => {
  it("a server whose certificate another CA signed (a man in the middle of STARTTLS) is exit 5 with one line naming the server; nothing is logged in", async () => {
    // The stranger says it is montague.lit, with a certificate of a CA the CLI was not given.
    const run = xtls(stranger, ["receive", ...romeo("mitm"), "--yes"], { stdin: "" });
    expect(await run.exited(), run.seen()).toBe(5);
    const lines = run.stderr().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^xtls receive: the TLS certificate of the server montague\.lit at xmpp:\/\/127\.0\.0\.4:26722 could not be verified \(.+\); not logging in\./,
    );
    expect(run.stdout()).not.toContain("waiting for files");
    // Given that other CA explicitly, the same server is trusted: the refusal was the CA's.
    const trusting = xtls(stranger, ["receive", ...romeo("mitm"), "--yes"], { stdin: "", ca: OTHER_CA_FILE });
    await trusting.waitFor("waiting for files as romeo@montague.lit/");
  });

  it("the real server without its CA (no --ca, no NODE_EXTRA_CA_CERTS) is exit 5; with NODE_EXTRA_CA_CERTS or XTLS_CA it logs in", async () => {
    for (const server of [montague, capulet]) {
      const who = server === montague ? romeo("noca") : juliet("noca");
      const refused = xtls(server, ["receive", ...who, "--yes"], { stdin: "", ca: null });
      expect(await refused.exited(), refused.seen()).toBe(5);
      expect(refused.stderr()).toContain(
        `the TLS certificate of the server ${server.domain} at ${server.service} could not be verified`,
      );
      for (const env of [{ NODE_EXTRA_CA_CERTS: CA_FILE }, { XTLS_CA: CA_FILE }] as Record<
        string,
        string
      >[]) {
        const ok = xtls(server, ["receive", ...who, "--yes"], { stdin: "", ca: null, env });
        await ok.waitFor(
          `waiting for files as ${server === montague ? "romeo@montague.lit" : "juliet@capulet.lit"}/`,
        );
        await ok.kill("SIGKILL");
      }
    }
  });

  it("--ca naming a file that holds no certificate is a usage error (exit 2)", async () => {
    const bogus = join(dir, "not-a-ca.pem");
    await writeFile(bogus, "hello\n");
    const run = xtls(montague, ["receive", ...romeo("bogus"), "--yes"], { stdin: "", ca: bogus });
    expect(await run.exited(), run.seen()).toBe(2);
    expect(run.stderr()).toContain(`--ca: ${bogus} holds no PEM certificate`);
  });
});
