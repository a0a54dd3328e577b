/** The Chromium binary the browser test drives (default /usr/bin/chromium; env XTLS_CHROMIUM). */
export const CHROMIUM: string;
/** Installs Debian's chromium and chromium-driver when missing (as root), or throws saying what to install. */
export function ensureChromiumInstalled(): string;
