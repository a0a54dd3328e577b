// slixmpp, the independent XMPP library some interop tests run against: Debian's
// python3-slixmpp (1.8.x), used with Debian's own /usr/bin/python3 (a pyenv or venv
// python3 earlier on PATH does not see Debian's packages).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const SYSTEM_PYTHON = "/usr/bin/python3";

const log = (msg) => process.stderr.write(`[slixmpp] ${msg}\n`);

/** Whether Debian's python3 can import slixmpp. */
export function slixmppAvailable() {
  if (!existsSync(SYSTEM_PYTHON)) return false;
  return spawnSync(SYSTEM_PYTHON, ["-c", "import slixmpp"], { stdio: "ignore" }).status === 0;
}

/** Installs python3-slixmpp with apt-get when it is missing (root only; otherwise says how). */
export function ensureSlixmppInstalled() {
  if (slixmppAvailable()) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      "slixmpp is not installed and this is not root. Install it with `sudo apt-get install -y python3-slixmpp` " +
        "(Debian/Ubuntu), then run the tests again.",
    );
  }
  log("installing Debian's python3-slixmpp (apt-get install -y python3-slixmpp)…");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "-qq", "python3-slixmpp"], { stdio: "inherit", env });
  } catch {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", "python3-slixmpp"], { stdio: "inherit", env });
  }
  if (!slixmppAvailable())
    throw new Error(`apt-get finished but ${SYSTEM_PYTHON} still cannot import slixmpp`);
}
