// Debian's Chromium for the browser test (packages `chromium` and `chromium-driver`): the
// test drives /usr/bin/chromium with playwright-core, which never downloads a browser of
// its own. Plain JS so that the test setup and `node scripts/chromium.js` (CI, as root)
// can run it without a build step.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CHROMIUM = process.env.XTLS_CHROMIUM ?? "/usr/bin/chromium";
const PACKAGES = ["chromium", "chromium-driver"];
// Only for looks: without a colour emoji font the SAS emoji show as empty boxes (their
// names are shown under them either way).
const EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";
const EMOJI_PACKAGE = "fonts-noto-color-emoji";

const log = (msg) => process.stderr.write(`[chromium] ${msg}\n`);

function aptInstall(packages) {
  log(`installing Debian's ${packages.join(" ")} (apt-get install -y ${packages.join(" ")})…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env });
  } catch {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env });
  }
}

/**
 * Installs Debian's chromium (and the emoji font) when missing, as root; otherwise
 * explains what to install. Returns the Chromium binary's path.
 */
export function ensureChromiumInstalled() {
  const root = process.getuid?.() === 0;
  if (existsSync(CHROMIUM)) {
    if (root && !existsSync(EMOJI_FONT)) {
      try {
        aptInstall([EMOJI_PACKAGE]);
      } catch {
        log(`could not install ${EMOJI_PACKAGE}; the SAS emoji will show as boxes`);
      }
    }
    return CHROMIUM;
  }
  if (!root) {
    throw new Error(
      `Chromium is not installed (${CHROMIUM} is missing) and this is not root. Install it with ` +
        "`sudo apt-get install -y chromium chromium-driver fonts-noto-color-emoji` (Debian), or set XTLS_CHROMIUM to a " +
        "Chromium binary, then run the tests again.",
    );
  }
  aptInstall([...PACKAGES, EMOJI_PACKAGE]);
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get finished but ${CHROMIUM} is still missing`);
  return CHROMIUM;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  log(`using ${ensureChromiumInstalled()}`);
}
