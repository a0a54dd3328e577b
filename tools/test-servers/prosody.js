// Installs, starts and stops the test Prosody (see prosody/README.md). Plain JS so that
// vitest configs and scripts can load it without a build step.
//
// Several test processes may want the server at once (turbo runs packages in parallel).
// They share one instance: each user registers its PID under .servers/prosody/users while
// holding a lock; the last one to leave (or the first to find only dead PIDs) stops it.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { alive, portOpen, sharedServer, sleep } from "./sharing.js";

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, "..", "..");
export const PROSODY_DIR = process.env.XTLS_PROSODY_DIR ?? join(REPO_ROOT, ".servers", "prosody");
const PLUGIN_DIR = join(HERE, "prosody");
const PORT_BASE = Number(process.env.PROSODY_PORT_BASE ?? 15000);

export const prosody = {
  host: "127.0.0.1",
  c2sPort: PORT_BASE + 222,
  httpPort: PORT_BASE + 280,
  proxy65Port: PORT_BASE,
  service: `xmpp://127.0.0.1:${PORT_BASE + 222}`,
  websocket: `ws://127.0.0.1:${PORT_BASE + 280}/xmpp-websocket`,
  password: "secret",
  hosts: ["localhost", "montague.lit", "capulet.lit"],
  users: ["romeo", "juliet", "mallory", "benvolio", "nurse"],
};

const log = (msg) => process.stderr.write(`[prosody] ${msg}\n`);

function which(cmd) {
  try {
    return execFileSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Installs Debian's prosody when missing (as root), or explains what to install. */
export function ensureProsodyInstalled() {
  if (which("prosody")) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      "Prosody is not installed and this is not root. Install it with `sudo apt-get install -y prosody` " +
        "(Debian/Ubuntu), then run the tests again. The tests start it themselves on 127.0.0.1.",
    );
  }
  log("installing Debian's prosody (apt-get install -y prosody)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "-qq", "prosody"], { stdio: "inherit", env });
  } catch {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "prosody"], { stdio: "inherit", env });
  }
  if (!which("prosody")) throw new Error("apt-get finished but `prosody` is still not on PATH");
}

const pidFile = () => join(PROSODY_DIR, "run.pid");

function runningPid() {
  try {
    const pid = Number(readFileSync(pidFile(), "utf8"));
    return pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

// Prosody's datamanager stores a path component with every non-alphanumeric byte as %xx.
const encode = (s) => s.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

function writeAccounts() {
  for (const host of prosody.hosts) {
    const dir = join(PROSODY_DIR, "data", encode(host), "accounts");
    mkdirSync(dir, { recursive: true });
    for (const user of prosody.users) {
      writeFileSync(
        join(dir, `${encode(user)}.dat`),
        `return {\n\t["password"] = "${prosody.password}";\n};\n`,
      );
    }
  }
}

/** Starts the server if it is not running. Resolves when c2s, HTTP and proxy65 accept. */
export async function startProsody(env = {}) {
  ensureProsodyInstalled();
  const pid = runningPid();
  if (pid) return pid;
  for (const port of [prosody.c2sPort, prosody.httpPort, prosody.proxy65Port]) {
    if (await portOpen(port)) {
      throw new Error(
        `port ${port} on 127.0.0.1 is already in use (another Prosody? stop it or set PROSODY_PORT_BASE)`,
      );
    }
  }
  rmSync(join(PROSODY_DIR, "data"), { recursive: true, force: true });
  mkdirSync(join(PROSODY_DIR, "certs"), { recursive: true });
  writeAccounts();
  const out = openSync(join(PROSODY_DIR, "stdout.log"), "w");
  const child = spawn("prosody", ["--config", join(PLUGIN_DIR, "prosody.cfg.lua"), "-F"], {
    detached: true,
    stdio: ["ignore", out, out],
    env: {
      ...process.env,
      PROSODY_TEST_DIR: PROSODY_DIR,
      PROSODY_PORT_BASE: String(PORT_BASE),
      PROSODY_PLUGIN_DIR: PLUGIN_DIR,
      ...env,
    },
  });
  child.unref();
  writeFileSync(pidFile(), String(child.pid));
  const t0 = Date.now();
  while (Date.now() - t0 < 10_000) {
    if (!alive(child.pid)) {
      const logs = ["stdout.log", "prosody.log"].map((f) => {
        try {
          return readFileSync(join(PROSODY_DIR, f), "utf8");
        } catch {
          return "";
        }
      });
      throw new Error(`prosody exited during start:\n${logs.join("\n")}`);
    }
    const open = await Promise.all([prosody.c2sPort, prosody.httpPort, prosody.proxy65Port].map(portOpen));
    if (open.every(Boolean)) {
      log(
        `pid ${child.pid} ready in ${Date.now() - t0} ms (c2s ${prosody.c2sPort}, http ${prosody.httpPort}, proxy65 ${prosody.proxy65Port})`,
      );
      return child.pid;
    }
    await sleep(25);
  }
  process.kill(child.pid, "SIGKILL");
  throw new Error("prosody did not open its ports within 10 s");
}

/** Stops the server by PID (SIGTERM, SIGKILL after 3 s). */
export async function stopProsody() {
  const pid = runningPid();
  if (!pid) return;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 60 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  for (let i = 0; i < 40 && alive(pid); i++) await sleep(25);
  rmSync(pidFile(), { force: true });
  log(`stopped pid ${pid}`);
}

export function prosodyStatus() {
  const pid = runningPid();
  return { running: pid !== undefined, pid, ...prosody, dir: PROSODY_DIR };
}

// --- sharing between processes (sharing.js) ---------------------------------------------

const shared = sharedServer(PROSODY_DIR, { start: startProsody, stop: stopProsody, status: prosodyStatus });

/** Registers `pid` as a user of the shared server, starting it when needed. */
export const acquireProsody = (pid = process.pid) => shared.acquire(pid);

/** Unregisters `pid`; stops the server when nobody else uses it. */
export const releaseProsody = (pid = process.pid) => shared.release(pid);

export function prosodyLogTail(lines = 40) {
  try {
    return readFileSync(join(PROSODY_DIR, "prosody.log"), "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
