#!/usr/bin/env node
// Every spec reference in the repository resolves inside it. Checked over the tracked text
// files (`git ls-files`), before `pnpm test` runs any package:
//   - no mention of documents that are not in the repository (the names in FORBIDDEN);
//   - every `docs/….md` path (optionally `#anchor`) names a file that exists, and its anchor a
//     heading of that file, by GitHub's rules (lowercase; punctuation but `-` and `_` dropped;
//     spaces become `-`; repeated headings get `-1`, `-2`, …);
//   - in Markdown files, every relative link `[text](path)` names a file that exists (and, for a
//     Markdown target with `#anchor`, a heading of it).
// Public sections (`XEP-0047 §2.2`, `RFC 6120 §8.3.3`) are not checked here.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Documents the code once cited that are not part of the repository, as patterns (so that
 * this file does not name them itself and is checked like every other).
 */
const FORBIDDEN = [/\bPROTOCOLS\.md\b/, /\.\.\/shared\b/, /\bDESIGN\.md\b/, /\bSTYLE\.md\b/, /\bPEERS\.md\b/];

const BINARY = /\.(png|jpe?g|gif|ico|webp|pdf|zip|gz|tgz|woff2?|ttf|der|p12|pfx|bin|wasm)$/i;
const SKIPPED = [/(^|\/)node_modules\//, /(^|\/)pnpm-lock\.yaml$/, /(^|\/)package-lock\.json$/];

/** GitHub's anchor for a heading text. */
export function githubAnchor(heading) {
  return heading
    .replace(/<[^>]*>/g, "")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[`*~]/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a Markdown file's headings (fenced code blocks skipped). */
export function headingAnchors(markdown) {
  const anchors = new Set();
  const seen = new Map();
  let fence;
  for (const line of markdown.split("\n")) {
    const f = line.match(/^\s*(```|~~~)/);
    if (f) {
      fence = fence === undefined ? f[1] : fence === f[1] ? undefined : fence;
      continue;
    }
    if (fence !== undefined) continue;
    const h = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (!h) continue;
    const base = githubAnchor(h[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function trackedFiles(root) {
  const out = spawnSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" });
  if (out.status !== 0) throw new Error(`git ls-files failed: ${out.stderr}`);
  return out.stdout
    .split("\0")
    .filter(Boolean)
    .filter((f) => !BINARY.test(f) && !SKIPPED.some((re) => re.test(f)))
    .filter((f) => existsSync(join(root, f)) && statSync(join(root, f)).isFile());
}

/**
 * Problems (`file:line: what`) and how many references were checked. `files` defaults to
 * the tracked text files; `read` to reading them from `root`.
 */
export function checkReferences(root, { files = trackedFiles(root), read } = {}) {
  const readText = read ?? ((f) => readFileSync(join(root, f), "utf8"));
  const anchorsOf = new Map();
  const anchors = (file) => {
    if (!anchorsOf.has(file)) anchorsOf.set(file, headingAnchors(readText(file)));
    return anchorsOf.get(file);
  };
  const exists = (file) => existsSync(join(root, file));
  const problems = [];
  let checked = 0;

  /** `target` relative to the repository root; `anchor` without `#`. */
  const resolve = (where, shown, target, anchor) => {
    checked++;
    if (!exists(target)) {
      problems.push(`${where}: ${shown}: ${target} does not exist`);
      return;
    }
    if (anchor && /\.md$/i.test(target) && !anchors(target).has(anchor.toLowerCase()))
      problems.push(`${where}: ${shown}: ${target} has no heading with the anchor #${anchor}`);
  };

  for (const file of files) {
    let text;
    try {
      text = readText(file);
    } catch {
      continue;
    }
    if (text.includes("\0")) continue;
    const isMarkdown = /\.md$/i.test(file);
    const isThisScript = file === "scripts/check-references.mjs";
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      const where = `${file}:${i + 1}`;
      for (const pattern of FORBIDDEN) {
        const name = line.match(pattern)?.[0];
        if (name) problems.push(`${where}: mentions ${name}, which is not in the repository`);
      }

      // Repository doc paths: docs/….md, optionally #anchor, wherever they appear.
      for (const m of line.matchAll(/(?<![\w./-])((?:\.\.\/)*docs\/[\w./-]*?\.md)(?:#([\w-]+))?/g)) {
        if (isThisScript) continue;
        const path = m[1];
        // In a relative Markdown link the path is resolved from the file; elsewhere from the root.
        const fromFile = path.startsWith("../") || path.startsWith("./");
        const target = fromFile ? relative(root, join(root, dirname(file), path)) : path;
        resolve(where, m[0], target.split(sep).join("/"), m[2]);
      }

      // Relative Markdown links.
      if (isMarkdown)
        for (const m of line.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
          const url = m[1];
          if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith("//") || url.startsWith("/")) continue;
          const [pathPart, anchor] = url.split("#");
          if (/(^|\/)docs\/[\w./-]*\.md$/.test(pathPart)) continue; // checked above
          const target = pathPart
            ? normalize(join(dirname(file), decodeURIComponent(pathPart)))
                .split(sep)
                .join("/")
            : file;
          if (target.startsWith("..")) {
            problems.push(`${where}: ${m[0]}: points outside the repository`);
            continue;
          }
          resolve(where, m[0], target.replace(/\/$/, "") || ".", anchor);
        }
    }
  }
  return { problems, checked, files: files.length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const { problems, checked, files } = checkReferences(root);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`references: ${problems.length} problem(s) in ${files} tracked files`);
    process.exit(1);
  }
  console.log(`references: ${checked} in ${files} tracked files, all resolve`);
}
