// SECURITY.md's promise, checked after the tests ran: every row of its attack table names
// tests (`file` › name) that exist and passed in this run. A row whose test was renamed,
// moved, skipped or failed makes `pnpm test` fail, so the table cannot drift from the suite.
import { existsSync, readFileSync } from "node:fs";
import { join, sep } from "node:path";

/** The `file` › name references of each row of the attack table. */
export function securityTableRows(markdown) {
  const rows = [];
  for (const line of markdown.split("\n")) {
    if (!line.startsWith("|") || /^\|\s*-/.test(line) || /^\|\s*attack\s*\|/.test(line)) continue;
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((c) => c.trim());
    const attack = cells[0];
    const refs = [...(cells[2] ?? "").matchAll(/`([^`]+\.test\.ts)` › (.+?)(?=;\s*`|$)/g)].map((m) => ({
      file: m[1],
      name: m[2].trim(),
    }));
    const named = (cells[2] ?? "").match(/`[^`]+\.test\.ts`/g)?.length ?? 0;
    if (named !== refs.length)
      refs.push({ file: "SECURITY.md", name: `a test file named without a test in "${attack}"` });
    rows.push({ attack, refs });
  }
  return rows;
}

/** Problems: rows without a test, and tests that did not pass (or do not exist). */
export function checkSecurityTable(root, markdown = readFileSync(join(root, "SECURITY.md"), "utf8")) {
  const rows = securityTableRows(markdown);
  const problems = [];
  const reports = new Map();
  const resultsOf = (file) => {
    const pkg = file.split("/").slice(0, 2).join("/");
    if (!reports.has(pkg)) {
      const path = join(root, pkg, "test-results", "vitest.json");
      reports.set(pkg, existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined);
    }
    return reports.get(pkg);
  };
  if (rows.length === 0) problems.push("SECURITY.md: no attack table found");
  for (const { attack, refs } of rows) {
    if (refs.length === 0) problems.push(`SECURITY.md: "${attack}" names no test`);
    for (const { file, name } of refs) {
      if (file === "SECURITY.md") {
        problems.push(`SECURITY.md: ${name}`);
        continue;
      }
      const report = resultsOf(file);
      const suite = report?.testResults?.find((s) => s.name.split(sep).join("/").endsWith(file));
      // `name` is a test's title (or full name); "*" is every test of the file; "group › *"
      // every test of a describe block.
      const all = suite?.assertionResults ?? [];
      const group = name.endsWith(" › *") ? name.slice(0, -4) : undefined;
      const results =
        name === "*"
          ? all
          : group !== undefined
            ? all.filter((a) => a.ancestorTitles.includes(group))
            : all.filter((a) => a.title === name || a.fullName === name);
      if (!report) problems.push(`SECURITY.md: no test report for ${file} (did its package's tests run?)`);
      else if (results.length === 0) problems.push(`SECURITY.md: ${file} › "${name}" does not exist`);
      else if (!results.every((a) => a.status === "passed"))
        problems.push(
          `SECURITY.md: ${file} › "${name}" did not pass (${results.map((a) => a.status).join(", ")})`,
        );
    }
  }
  return { rows: rows.length, refs: rows.reduce((n, r) => n + r.refs.length, 0), problems };
}
