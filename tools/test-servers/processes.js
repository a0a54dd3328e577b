// A command spawned as a user would run it, with what it printed kept for the test, and waits
// that say what they waited for and what was seen when they fail.
import { spawn } from "node:child_process";
import { deadlines } from "./deadlines.js";

/** The last `max` characters of `text`, marked when cut. */
const tail = (text, max = 4000) => (text.length > max ? `…${text.slice(-max)}` : text);

/**
 * Spawns `command` with `args`; `stdin` (when given) is written and closed (an empty string is
 * a closed, empty input, so a prompt reads end of input); undefined leaves it open. The
 * result's `waitFor(text)` resolves once stdout or stderr contains `text` (a string or a
 * RegExp), and rejects, with both outputs, when the command exits first or the deadline passes.
 */
export function startCommand(command, args, { env, cwd, stdin, label } = {}) {
  const child = spawn(command, args, { env, cwd, stdio: ["pipe", "pipe", "pipe"] });
  const name = label ?? [command, ...args].join(" ").slice(0, 120);
  let out = "";
  let err = "";
  const listeners = new Set();
  const changed = () => {
    for (const l of listeners) l();
  };
  child.stdout.on("data", (d) => {
    out += d;
    changed();
  });
  child.stderr.on("data", (d) => {
    err += d;
    changed();
  });
  let exit;
  const done = new Promise((resolve) =>
    child.on("close", (code, signal) => {
      exit = code ?? signal;
      changed();
      resolve(code);
    }),
  );
  child.stdin.on("error", () => {}); // a command that exits before reading its input
  if (stdin !== undefined) child.stdin.end(stdin);
  const seen = () => `\n--- stdout of ${name}:\n${tail(out)}\n--- stderr:\n${tail(err)}`;
  const waitFor = (text, ms = deadlines.outputMs) =>
    new Promise((resolve, reject) => {
      const check = () => {
        if (
          typeof text === "string"
            ? out.includes(text) || err.includes(text)
            : text.test(out) || text.test(err)
        )
          finish(resolve);
        else if (exit !== undefined)
          finish(reject, new Error(`exited (${exit}) before printing "${text}"${seen()}`));
      };
      const timer = setTimeout(
        () => finish(reject, new Error(`did not print "${text}" within ${ms} ms${seen()}`)),
        ms,
      );
      const finish = (settle, value) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle(value);
      };
      listeners.add(check);
      check();
    });
  const exited = (ms = deadlines.exitMs) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`did not exit within ${ms} ms${seen()}`));
      }, ms);
      void done.then((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  const kill = async (signal = "SIGTERM") => {
    if (exit === undefined) child.kill(signal);
    await done;
  };
  return { child, stdout: () => out, stderr: () => err, done, waitFor, exited, kill, seen };
}
