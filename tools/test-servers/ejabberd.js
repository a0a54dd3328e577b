// Installs, starts and stops the test ejabberd (see ejabberd/README.md): the second XMPP
// server the integration suite runs against (tools/ejabberd-suite). Plain JS so that vitest
// configs and scripts can load it without a build step.
//
// ejabberd runs as one Erlang VM started directly with `erl … -s ejabberd` (no
// ejabberdctl, no systemd, no Erlang distribution, no epmd): ejabberdctl only runs as root
// or as the `ejabberd` user (it `su`s to it, which then needs access to this folder), and
// every ejabberdctl call boots a VM of its own. The PID we spawn is the VM's (`erl` execs),
// so we stop it by PID like Prosody: SIGTERM is a graceful `init:stop()`.
//
// Several test processes share one instance, as with Prosody: each registers its PID under
// .servers/ejabberd/users while holding a lock; the last one to leave stops the server.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectXmppClient } from "./clients.js";
import { alive, portOpen, sharedServer, sleep } from "./sharing.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "..", "..");
export const EJABBERD_DIR = process.env.XTLS_EJABBERD_DIR ?? join(REPO, ".servers", "ejabberd");
const TEMPLATE = join(HERE, "ejabberd", "ejabberd.yml");
// XTLS_* reaches the tests through turbo (turbo.json passes XTLS_* and PROSODY_* only).
const PORT_BASE = Number(process.env.XTLS_EJABBERD_PORT_BASE ?? 16000);
const CTL = "/usr/sbin/ejabberdctl";

export const ejabberd = {
  host: "127.0.0.1",
  c2sPort: PORT_BASE + 222,
  httpPort: PORT_BASE + 280,
  proxy65Port: PORT_BASE,
  service: `xmpp://127.0.0.1:${PORT_BASE + 222}`,
  websocket: `ws://127.0.0.1:${PORT_BASE + 280}/xmpp-websocket`,
  bosh: `http://127.0.0.1:${PORT_BASE + 280}/http-bind`,
  password: "secret",
  hosts: ["localhost", "montague.lit", "capulet.lit"],
  users: ["romeo", "juliet", "mallory", "benvolio", "nurse"],
  /** XEP-0198: ejabberd closes the stream once this many stanzas it sent are unacknowledged. */
  maxAckQueue: 5000,
};

const log = (msg) => process.stderr.write(`[ejabberd] ${msg}\n`);

function which(cmd) {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where Debian keeps ejabberd's Erlang applications and which `erl` runs them, read from
 * ejabberdctl (`ERL_LIBS='/usr/lib/x86_64-linux-gnu'`, `ERL="/usr/bin/erl"`).
 */
function runtime() {
  let script = "";
  try {
    script = readFileSync(CTL, "utf8");
  } catch {
    return undefined;
  }
  const erlLibs = /^ERL_LIBS=['"]?([^'"\n]+)/m.exec(script)?.[1];
  const erl = /^ERL=['"]?([^'"\n]+)/m.exec(script)?.[1] ?? which("erl");
  if (!erlLibs || !erl || !existsSync(erl)) return undefined;
  let version;
  try {
    version = readdirSync(erlLibs)
      .filter((d) => /^ejabberd-\d/.test(d) && existsSync(join(erlLibs, d, "ebin", "ejabberd.app")))
      .sort()
      .at(-1);
  } catch {}
  return version ? { erl, erlLibs, version: version.slice("ejabberd-".length) } : undefined;
}

/** Whether Debian's ejabberd is installed (its Erlang applications and `erl`). */
export function ejabberdInstalled() {
  return runtime() !== undefined;
}

/** Installs Debian's ejabberd when missing (as root), or explains what to install. */
export function ensureEjabberdInstalled() {
  if (ejabberdInstalled()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      "ejabberd is not installed and this is not root. Install it with `sudo apt-get install -y ejabberd` " +
        "(Debian/Ubuntu), then run the tests again. The tests start their own instance on 127.0.0.1 " +
        `(ports ${ejabberd.proxy65Port}, ${ejabberd.c2sPort}, ${ejabberd.httpPort}); the system service is not used.`,
    );
  }
  log("installing Debian's ejabberd (apt-get install -y ejabberd)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "-qq", "ejabberd"], { stdio: "inherit", env });
  } catch {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "ejabberd"], { stdio: "inherit", env });
  }
  if (!ejabberdInstalled())
    throw new Error(`apt-get finished but ejabberd's Erlang applications are still not found (via ${CTL})`);
}

const pidFile = () => join(EJABBERD_DIR, "run.pid");

function runningPid() {
  try {
    const pid = Number(readFileSync(pidFile(), "utf8"));
    if (!(pid > 0) || !alive(pid)) return undefined;
    // A recycled PID is not our server: the VM's command line names beam.
    if (existsSync(`/proc/${pid}/cmdline`) && !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("beam"))
      return undefined;
    return pid;
  } catch {
    return undefined;
  }
}

function readLog(file) {
  try {
    return readFileSync(join(EJABBERD_DIR, file), "utf8");
  } catch {
    return "";
  }
}

/** The config template with this instance's ports and folders filled in. */
function writeConfig() {
  const values = {
    C2S_PORT: ejabberd.c2sPort,
    HTTP_PORT: ejabberd.httpPort,
    PROXY65_PORT: ejabberd.proxy65Port,
    LOG_LEVEL: process.env.XTLS_EJABBERD_LOG_LEVEL ?? "info",
  };
  const config = readFileSync(TEMPLATE, "utf8").replace(/__([A-Z0-9_]+)__/g, (m, name) =>
    name in values ? String(values[name]) : m,
  );
  writeFileSync(join(EJABBERD_DIR, "ejabberd.yml"), config);
}

/** Creates every account (ejabberd.users on each of ejabberd.hosts) through the HTTP API. */
async function registerAccounts() {
  const url = `http://127.0.0.1:${ejabberd.httpPort}/api/register`;
  await Promise.all(
    ejabberd.hosts.flatMap((host) =>
      ejabberd.users.map(async (user) => {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ user, host, password: ejabberd.password }),
        });
        const body = await res.text();
        if (!res.ok && !body.includes("already registered"))
          throw new Error(`registering ${user}@${host} failed: HTTP ${res.status} ${body}`);
      }),
    ),
  );
}

/**
 * Starts the server if it is not running: a fresh database, the accounts registered.
 * Resolves when c2s, HTTP and proxy65 accept and the accounts exist (~1–2 s cold).
 */
export async function startEjabberd() {
  ensureEjabberdInstalled();
  const pid = runningPid();
  if (pid) return pid;
  const ports = [ejabberd.c2sPort, ejabberd.httpPort, ejabberd.proxy65Port];
  for (const port of ports) {
    if (await portOpen(port)) {
      throw new Error(
        `port ${port} on 127.0.0.1 is already in use (another ejabberd? stop it or set XTLS_EJABBERD_PORT_BASE)`,
      );
    }
  }
  const { erl, erlLibs } = runtime();
  const spool = join(EJABBERD_DIR, "spool");
  rmSync(spool, { recursive: true, force: true });
  mkdirSync(spool, { recursive: true });
  mkdirSync(join(EJABBERD_DIR, "logs"), { recursive: true });
  rmSync(join(EJABBERD_DIR, "logs", "ejabberd.log"), { force: true });
  writeConfig();
  writeFileSync(join(EJABBERD_DIR, "inetrc"), "");
  const out = openSync(join(EJABBERD_DIR, "stdout.log"), "w");
  const erlString = (s) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  const t0 = Date.now();
  // The same VM flags as `ejabberdctl foreground`, minus the distribution node name.
  const child = spawn(
    erl,
    ["+K", "true", "+P", "250000", "-noinput", "-mnesia", "dir", erlString(spool), "-s", "ejabberd"],
    {
      cwd: spool,
      detached: true,
      stdio: ["ignore", out, out],
      env: {
        ...process.env,
        EJABBERD_CONFIG_PATH: join(EJABBERD_DIR, "ejabberd.yml"),
        EJABBERD_LOG_PATH: join(EJABBERD_DIR, "logs", "ejabberd.log"),
        CONTRIB_MODULES_PATH: join(EJABBERD_DIR, "modules"),
        ERL_LIBS: erlLibs,
        ERL_INETRC: join(EJABBERD_DIR, "inetrc"),
        ERL_CRASH_DUMP_BYTES: "0",
        ERL_MAX_PORTS: "32000",
        ERL_MAX_ETS_TABLES: "1400",
      },
    },
  );
  child.unref();
  writeFileSync(pidFile(), String(child.pid));
  const failed = (why) => {
    const logs = `${readLog("stdout.log").split("\n").slice(-60).join("\n")}`;
    return new Error(`ejabberd ${why}:\n${logs}`);
  };
  while (Date.now() - t0 < 30_000) {
    if (!alive(child.pid)) throw failed("exited during start");
    const open = await Promise.all(ports.map(portOpen));
    if (open.every(Boolean)) {
      try {
        await registerAccounts();
      } catch (e) {
        await stopEjabberd();
        throw failed(`started but the accounts could not be registered (${e.message})`);
      }
      log(
        `pid ${child.pid} ready in ${Date.now() - t0} ms (c2s ${ejabberd.c2sPort}, http ${ejabberd.httpPort}, proxy65 ${ejabberd.proxy65Port})`,
      );
      return child.pid;
    }
    await sleep(25);
  }
  process.kill(child.pid, "SIGKILL");
  throw failed("did not open its ports within 30 s");
}

/** Stops the server by PID (SIGTERM: a graceful init:stop(), ~2 s; SIGKILL after 10 s). */
export async function stopEjabberd() {
  const pid = runningPid();
  if (!pid) return;
  const t0 = Date.now();
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 400 && alive(pid); i++) await sleep(25);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(25);
  rmSync(pidFile(), { force: true });
  log(`stopped pid ${pid} in ${Date.now() - t0} ms`);
}

export function ejabberdStatus() {
  const pid = runningPid();
  return { running: pid !== undefined, pid, ...ejabberd, dir: EJABBERD_DIR, version: runtime()?.version };
}

// --- sharing between processes (sharing.js) ---------------------------------------------

const shared = sharedServer(EJABBERD_DIR, {
  start: startEjabberd,
  stop: stopEjabberd,
  status: ejabberdStatus,
  lockTimeoutMs: 60_000,
});

/** Registers `pid` as a user of the shared server, starting it when needed. */
export const acquireEjabberd = (pid = process.pid) => shared.acquire(pid);

/** Unregisters `pid`; stops the server when nobody else uses it. */
export const releaseEjabberd = (pid = process.pid) => shared.release(pid);

export function ejabberdLogTail(lines = 40) {
  return readLog(join("logs", "ejabberd.log")).split("\n").slice(-lines).join("\n");
}

/**
 * A started `@xmpp/client` 0.14 connection to the test ejabberd, stream management
 * settled (see connectXmppClient). The resource is random unless given.
 */
export function connectEjabberdClient(options) {
  return connectXmppClient({ service: ejabberd.service, password: ejabberd.password, ...options });
}
