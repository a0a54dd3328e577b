// One test server shared by every test process on the machine: a lock directory
// serialises start/stop, and a file per process (named by its PID) counts the users; the
// last one to leave stops the server. Processes that died are forgotten.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Whether `pid` is a running process. A zombie (killed, not yet reaped by its parent) counts
 * as dead: it holds no ports, and taking it for a live server made a restart after SIGKILL
 * skip the start and the next connect fail with ECONNREFUSED.
 */
export const alive = (pid) => {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === "EPERM";
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces or parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true; // no /proc (not Linux): trust kill(pid, 0)
  }
};

/**
 * `acquire(pid)` registers a user, starting the server when needed; `release(pid)`
 * unregisters it, stopping the server when nobody else uses it.
 */
export function sharedServer(dir, { start, stop, status, lockTimeoutMs = 30_000 }) {
  const usersDir = () => join(dir, "users");
  const lockDir = () => join(dir, "lock");

  async function withLock(fn) {
    mkdirSync(dir, { recursive: true });
    const t0 = Date.now();
    for (;;) {
      try {
        mkdirSync(lockDir());
        writeFileSync(join(lockDir(), "owner"), String(process.pid));
        break;
      } catch (e) {
        if (e.code !== "EEXIST") throw e;
        let owner;
        try {
          owner = Number(readFileSync(join(lockDir(), "owner"), "utf8"));
        } catch {}
        if ((owner && !alive(owner)) || Date.now() - t0 > lockTimeoutMs)
          rmSync(lockDir(), { recursive: true, force: true });
        else await sleep(20);
      }
    }
    try {
      return await fn();
    } finally {
      rmSync(lockDir(), { recursive: true, force: true });
    }
  }

  function liveUsers() {
    mkdirSync(usersDir(), { recursive: true });
    const live = [];
    for (const f of readdirSync(usersDir())) {
      if (alive(Number(f))) live.push(Number(f));
      else rmSync(join(usersDir(), f), { force: true });
    }
    return live;
  }

  return {
    acquire: (pid = process.pid) =>
      withLock(async () => {
        liveUsers();
        await start();
        writeFileSync(join(usersDir(), String(pid)), "");
        return status();
      }),
    release: (pid = process.pid) =>
      withLock(async () => {
        rmSync(join(usersDir(), String(pid)), { force: true });
        if (liveUsers().length === 0) await stop();
      }),
  };
}
