// A throwaway npm registry (Verdaccio) and plain-npm consumers of it, for registry.test.ts.
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { deadlines, type StartedCommand, startCommand } from "@xtls/test-servers";

export const ROOT = join(import.meta.dirname, "..", "..", "..");
const VERDACCIO = join(import.meta.dirname, "..", "node_modules", "verdaccio", "bin", "verdaccio");

/** Ports the other suites and servers on this machine use (Prosody, ejabberd, attack suite). */
const RESERVED: Array<[number, number]> = [
  [15000, 19399],
  [24000, 24399],
  [25000, 29399],
];

/** A free TCP port on 127.0.0.1 from the kernel's ephemeral range, outside the reserved ones. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
    });
    if (port && !RESERVED.some(([lo, hi]) => port >= lo && port <= hi)) return port;
  }
}

/** The public workspace packages: what a release publishes. */
export function publicPackages(): Array<{ name: string; version: string; dir: string }> {
  const out = [];
  for (const group of ["packages", "apps"]) {
    for (const entry of readdirSync(join(ROOT, group))) {
      const dir = join(ROOT, group, entry);
      let manifest: { name: string; version: string; private?: boolean };
      try {
        manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      } catch {
        continue;
      }
      if (!manifest.private) out.push({ name: manifest.name, version: manifest.version, dir });
    }
  }
  return out;
}

/**
 * The environment a user's shell would give npm and node: this test's own npm/pnpm/vitest
 * variables and the workspace's node_modules/.bin directories removed.
 */
export function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!/^(npm_|pnpm_|VITEST|TURBO_|NODE_OPTIONS$|NODE_PATH$|NODE_ENV$|INIT_CWD$)/i.test(key))
      env[key] = value;
  env.PATH = (process.env.PATH ?? "")
    .split(":")
    .filter((p) => p && !p.startsWith(ROOT))
    .join(":");
  return { ...env, ...extra };
}

/** Runs a command to its end; rejects with what it printed unless it exits with `expectCode`. */
export async function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; ms?: number; expectCode?: number; label?: string },
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const started = startCommand(command, args, {
    cwd: options.cwd,
    env: options.env ?? userEnv(),
    stdin: "",
    ...(options.label ? { label: options.label } : {}),
  });
  const code = await started.exited(options.ms ?? deadlines.exitMs);
  const expectCode = options.expectCode ?? 0;
  if (code !== expectCode) throw new Error(`exit ${code} (expected ${expectCode})${started.seen()}`);
  return { stdout: started.stdout(), stderr: started.stderr(), code };
}

export interface Registry {
  readonly url: string;
  readonly port: number;
  /** A token for publishing (a user created through the registry's own API). */
  readonly token: string;
  /** The registry's log, for a failure message. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts Verdaccio on 127.0.0.1 with its storage, configuration and users under `dir`.
 * `@xtls/*` is served only from what is published into it (never proxied: a scope of the same
 * name on npmjs must not stand in for ours); every other package is proxied from
 * registry.npmjs.org, as a user's install would fetch it.
 */
export async function startRegistry(dir: string): Promise<Registry> {
  // The free port can be taken between our probe and Verdaccio's listen: then another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRegistryOn(dir, await freePort());
    } catch (error) {
      if (attempt >= 3 || !String(error).includes("EADDRINUSE")) throw error;
    }
  }
}

async function startRegistryOn(dir: string, port: number): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(dir, "storage"))}`,
      "auth:",
      "  htpasswd:",
      `    file: ${JSON.stringify(join(dir, "htpasswd"))}`,
      "uplinks:",
      "  npmjs:",
      "    url: https://registry.npmjs.org/",
      "    timeout: 60s",
      "packages:",
      '  "@xtls/*":',
      "    access: $all",
      "    publish: $authenticated",
      '  "**":',
      "    access: $all",
      "    publish: $authenticated",
      "    proxy: npmjs",
      "web:",
      "  enable: false",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  const url = `http://127.0.0.1:${port}/`;
  const server: StartedCommand = startCommand(
    process.execPath,
    [VERDACCIO, "--config", config, "--listen", `127.0.0.1:${port}`],
    { cwd: dir, env: userEnv(), label: "verdaccio" },
  );
  try {
    await server.waitFor("http address", deadlines.registryStartMs);
    const deadline = Date.now() + deadlines.registryStartMs;
    for (;;) {
      const ok = await fetch(`${url}-/ping`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline)
        throw new Error(
          `verdaccio did not answer /-/ping within ${deadlines.registryStartMs} ms${server.seen()}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    const response = await fetch(`${url}-/user/org.couchdb.user:xtls-release`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "xtls-release", password: "registry-suite-only" }),
    });
    const body = (await response.json()) as { token?: string };
    if (!response.ok || !body.token)
      throw new Error(`verdaccio refused the release user: ${response.status} ${JSON.stringify(body)}`);
    return { url, port, token: body.token, log: () => server.seen(), stop: () => server.kill() };
  } catch (error) {
    await server.kill();
    throw error;
  }
}

/** An npm user configuration that points at `registry` (and nothing of the machine's ~/.npmrc). */
export function writeNpmrc(file: string, registry: Registry, withToken = false): string {
  const host = registry.url.replace(/^https?:/, "");
  writeFileSync(
    file,
    [`registry=${registry.url}`, ...(withToken ? [`${host}:_authToken=${registry.token}`] : []), ""].join(
      "\n",
    ),
  );
  return file;
}

/**
 * A scratch copy of what `changeset version` reads and writes (every manifest, .changeset/, the
 * workspace file), with the workspace's node_modules linked for the changelog generator.
 */
export function scratchCopy(to: string): void {
  const listed = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  for (const file of listed.split("\n")) {
    if (!/(^|\/)package\.json$|^\.changeset\/|^pnpm-workspace\.yaml$/.test(file)) continue;
    if (!existsSync(join(ROOT, file))) continue; // deleted in the work tree
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(to, file));
  }
  symlinkSync(join(ROOT, "node_modules"), join(to, "node_modules"));
}
