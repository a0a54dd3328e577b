// The release path into a real registry, and what a user gets from it: Verdaccio on 127.0.0.1
// with a throwaway storage; every public package built and published into it with
// `pnpm publish -r` (the versions as they are; `changeset version` is checked on a scratch
// copy); then plain `npm install` in fresh folders under the system's temporary directory,
// outside the workspace, and the packages used there as a user would: each README's first
// example as an ES module, the same under require(), TypeScript projects (nodenext, bundler,
// CommonJS), @xtls/ibb alone, @xtls/client with @xmpp/client against the test Prosody.
// Every step prints its wall time; the table of them closes the run.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { deadlines, prosody, readmeBlocks, readmeCommands, startCommand } from "@xtls/test-servers";
import ts from "typescript";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  publicPackages,
  type Registry,
  ROOT,
  run,
  scratchCopy,
  startRegistry,
  userEnv,
  writeNpmrc,
} from "./registry.js";

const times: Array<{ step: string; secs: number }> = [];
/** Runs `fn` as a named step, printing and recording its wall time. */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    const secs = (Date.now() - t0) / 1000;
    times.push({ step: name, secs });
    console.log(`registry-suite: ${name}: ${secs.toFixed(1)} s`);
  }
}

const packages = publicPackages();
const rootManifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const base = mkdtempSync(join(tmpdir(), "xtls-registry-"));
let registry: Registry;
let npmrc: string;

/** `npm install` in `dir` from the throwaway registry, with nothing of the machine's npm config. */
async function npmInstall(dir: string, specs: string[], dev = false) {
  return run(
    "npm",
    [
      "install",
      ...(dev ? ["--save-dev"] : []),
      ...specs,
      "--registry",
      registry.url,
      "--userconfig",
      npmrc,
      "--no-audit",
      "--no-fund",
      "--no-update-notifier",
    ],
    { cwd: dir, ms: deadlines.installMs, label: `npm install ${specs.join(" ")}` },
  );
}

/** A fresh consumer project: a folder with its own package.json and nothing else. */
function project(name: string, type: "module" | "commonjs" = "module"): string {
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: `consumer-${name}`, version: "1.0.0", private: true, type }, null, 2)}\n`,
  );
  return dir;
}

/** The @xtls packages npm put in `dir`'s node_modules. */
const installedXtls = (dir: string) =>
  readdirSync(join(dir, "node_modules", "@xtls"))
    .map((p) => `@xtls/${p}`)
    .sort();

/** The first ```ts block of a package's README. */
const firstExample = (pkg: string, index = 0) => {
  const block = readmeBlocks(join(ROOT, "packages", pkg, "README.md"))[index];
  if (!block) throw new Error(`packages/${pkg}/README.md has no ts block ${index + 1}`);
  return block.code;
};

/** What the example says it prints: the `// …` comment after each `console.log(…);` line. */
const expectedOutput = (code: string) =>
  [...code.matchAll(/^\s*console\.log\(.*\);?\s*\/\/\s*(.+)$/gm)].map((m) => (m[1] ?? "").trim());

/** TypeScript to JavaScript, types stripped (what a user's build does before node runs it). */
const transpile = (code: string, module: ts.ModuleKind) =>
  ts.transpileModule(code, {
    compilerOptions: { module, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: "example.ts",
  }).outputText;

/**
 * The example as a CommonJS program: its imports stay on top (compiled to require() calls),
 * the rest runs in an async main(), since CommonJS has no top-level await.
 */
function inMain(code: string): string {
  const lines = code.split("\n");
  let i = 0;
  while (i < lines.length && (/^import\s.*;\s*$/.test(lines[i] ?? "") || !lines[i]?.trim())) i++;
  if (/^import\s/.test(lines[i] ?? "")) throw new Error(`a multi-line import in the example: ${lines[i]}`);
  return [
    ...lines.slice(0, i),
    "async function main(): Promise<void> {",
    ...lines.slice(i),
    "}",
    "main().catch((error) => {",
    "  console.error(error);",
    "  process.exitCode = 1;",
    "});",
    "",
  ].join("\n");
}

beforeAll(async () => {
  expect(relative(ROOT, base).startsWith("..")).toBe(true); // the consumers live outside the workspace
  npmrc = join(base, "npmrc");
  await Promise.all([
    step("start Verdaccio", async () => {
      registry = await startRegistry(join(base, "verdaccio"));
      writeNpmrc(npmrc, registry);
    }),
    // The dist/ each package publishes (tsc -b: nothing to do when it is up to date).
    step("build the public packages", () =>
      run(
        process.execPath,
        [
          join(ROOT, "node_modules", "typescript", "bin", "tsc"),
          "-b",
          ...packages.map((p) => join(p.dir, "tsconfig.build.json")),
        ],
        { cwd: ROOT, env: process.env, ms: deadlines.buildMs, label: "tsc -b" },
      ),
    ),
  ]);
}, deadlines.buildMs + deadlines.registryStartMs);

afterAll(async () => {
  await registry?.stop();
  if (process.env.XTLS_KEEP_REGISTRY_DIR !== "1") rmSync(base, { recursive: true, force: true });
  else console.log(`registry-suite: consumers kept in ${base}`);
  console.log(
    `registry-suite: where the time went (wall seconds, ${times.reduce((s, t) => s + t.secs, 0).toFixed(1)} in all):\n${times
      .map((t) => `  ${t.secs.toFixed(1).padStart(6)}  ${t.step}`)
      .join("\n")}`,
  );
});

it("publishes every public package into the registry with pnpm publish -r; private ones stay out", async () => {
  const publishRc = writeNpmrc(join(base, "npmrc-publish"), registry, true);
  const { stdout } = await step("pnpm publish -r", () =>
    run("pnpm", ["publish", "-r", "--registry", registry.url, "--no-git-checks"], {
      cwd: ROOT,
      env: { ...process.env, npm_config_userconfig: publishRc },
      ms: deadlines.publishMs,
      label: "pnpm publish -r",
    }),
  );
  for (const p of packages) {
    expect(stdout).toContain(`+ ${p.name}@${p.version}`);
    const doc = (await (await fetch(`${registry.url}${p.name.replace("/", "%2f")}`)).json()) as {
      versions?: Record<string, unknown>;
    };
    expect(Object.keys(doc.versions ?? {}), p.name).toContain(p.version);
  }
  // A private package is never published (nor proxied: @xtls/* is served only from here).
  expect((await fetch(`${registry.url}@xtls%2ftest-servers`)).status).toBe(404);
  expect((await fetch(`${registry.url}@xtls%2fweb-demo`)).status).toBe(404);
});

it("changeset version (on a scratch copy) bumps and writes changelogs for the public packages only", async () => {
  const copy = join(base, "changeset-copy");
  await step("changeset version on a scratch copy", async () => {
    scratchCopy(copy);
    await run(process.execPath, [join(ROOT, "node_modules", "@changesets", "cli", "bin.js"), "version"], {
      cwd: copy,
      env: userEnv(),
      label: "changeset version",
    });
  });
  const versionOf = (dir: string) =>
    JSON.parse(readFileSync(join(copy, relative(ROOT, dir), "package.json"), "utf8")).version as string;
  for (const p of packages) {
    expect(versionOf(p.dir), p.name).not.toBe(p.version);
    expect(existsSync(join(copy, relative(ROOT, p.dir), "CHANGELOG.md")), p.name).toBe(true);
  }
  for (const group of ["apps", "tools"]) {
    for (const entry of readdirSync(join(copy, group))) {
      const dir = join(copy, group, entry);
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (!manifest.private) continue;
      const before = JSON.parse(readFileSync(join(ROOT, group, entry, "package.json"), "utf8"));
      expect(manifest.version, manifest.name).toBe(before.version);
      expect(existsSync(join(dir, "CHANGELOG.md")), manifest.name).toBe(false);
    }
  }
});

// The root README's install commands are the ones the tests below run, from this registry:
// a README that names other packages fails here until a test installs them.
it("the root README's npm install commands are the installs these tests run", () => {
  const installs = readmeCommands(join(ROOT, "README.md"))
    .filter((c) => c.words[0] === "npm" && c.words[1] === "install" && c.words[2]?.startsWith("@xtls/"))
    .map((c) => c.words.slice(2).join(" "));
  expect(installs).toEqual(["@xtls/tls", "@xtls/client @xmpp/client"]);
});

let tlsDir: string;

it("@xtls/tls installed alone: its README example runs as an ES module and prints what it says", async () => {
  tlsDir = project("tls");
  await step("npm install @xtls/tls", () => npmInstall(tlsDir, ["@xtls/tls"]));
  console.log(`registry-suite: @xtls/tls alone brings ${installedXtls(tlsDir).join(", ")}`);
  expect(readFileSync(join(tlsDir, "node_modules", "@xtls", "tls", "LICENSE"), "utf8")).toContain(
    "MIT License",
  );
  const code = firstExample("tls");
  const expected = expectedOutput(code);
  expect(expected).toEqual(["TLSv1.3 true", "I take thee at thy word"]);
  writeFileSync(join(tlsDir, "example.mjs"), transpile(code, ts.ModuleKind.ESNext));
  const { stdout } = await step("@xtls/tls README as ESM", () =>
    run(process.execPath, ["example.mjs"], { cwd: tlsDir }),
  );
  expect(stdout.trimEnd().split("\n")).toEqual(expected);
});

it("@xtls/tls under require(): the same example as a CommonJS program (.cjs) runs", async () => {
  const code = firstExample("tls");
  writeFileSync(join(tlsDir, "example.cjs"), transpile(inMain(code), ts.ModuleKind.CommonJS));
  expect(readFileSync(join(tlsDir, "example.cjs"), "utf8")).toContain('require("@xtls/tls")');
  const { stdout, stderr } = await step("@xtls/tls README under require()", () =>
    run(process.execPath, ["example.cjs"], { cwd: tlsDir }),
  );
  expect(stdout.trimEnd().split("\n")).toEqual(expectedOutput(code));
  if (stderr)
    console.log(`registry-suite: require() on Node ${process.version} printed on stderr:\n${stderr}`);
  expect(stderr).not.toContain("ERR_");
});

interface TsProject {
  name: string;
  type: "module" | "commonjs";
  compilerOptions: Record<string, unknown>;
  code: () => string;
}

const staticImportTls =
  'import { createIdentity } from "@xtls/tls";\nconsole.log(createIdentity("romeo@montague.lit").fingerprint.length);\n';
const resolutionModeTls = [
  'import type { Identity } from "@xtls/tls" with { "resolution-mode": "import" };',
  "",
  "async function main(): Promise<void> {",
  '  const { createIdentity } = await import("@xtls/tls");',
  '  const identity: Identity = createIdentity("romeo@montague.lit");',
  "  console.log(identity.fingerprint.length); // 64",
  "}",
  "void main();",
  "",
].join("\n");

/** The TypeScript consumers: each a folder of the @xtls/tls project with its own tsconfig. */
const tsProjects: TsProject[] = [
  {
    name: "ts-nodenext",
    type: "module",
    compilerOptions: { module: "nodenext" },
    code: () => firstExample("tls"),
  },
  {
    name: "ts-node16",
    type: "module",
    compilerOptions: { module: "node16" },
    code: () => firstExample("tls"),
  },
  {
    name: "ts-bundler",
    type: "module",
    compilerOptions: { module: "esnext", moduleResolution: "bundler" },
    code: () => firstExample("tls"),
  },
  {
    name: "ts-commonjs-nodenext",
    type: "commonjs",
    compilerOptions: { module: "nodenext" },
    code: () => inMain(firstExample("tls")),
  },
  {
    name: "ts-commonjs-node16-static",
    type: "commonjs",
    compilerOptions: { module: "node16" },
    code: () => staticImportTls,
  },
  {
    name: "ts-commonjs-node16",
    type: "commonjs",
    compilerOptions: { module: "node16" },
    code: () => resolutionModeTls,
  },
];

/**
 * Each project's tsc run (type-check and emit), started together once TypeScript is installed,
 * as many at a time as the machine has cores (pnpm test runs this suite alone), and awaited by
 * each project's own test.
 */
const compilations = new Map<string, Promise<{ code: number | null; output: string }>>();

async function compile(project: TsProject): Promise<{ code: number | null; output: string }> {
  const dir = join(tlsDir, project.name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: project.type })}\n`);
  writeFileSync(
    join(dir, "tsconfig.json"),
    `${JSON.stringify(
      {
        compilerOptions: {
          target: "es2022",
          strict: true,
          types: ["node"],
          outDir: "out",
          skipLibCheck: false, // our .d.ts are checked too, as in a project that does not skip them
          ...project.compilerOptions,
        },
        files: ["example.ts"],
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(dir, "example.ts"), project.code());
  const tsc = join(tlsDir, "node_modules", "typescript", "bin", "tsc");
  return step(`tsc ${project.name}`, async () => {
    const started = startCommand(process.execPath, [tsc, "-p", "."], {
      cwd: dir,
      env: userEnv(),
      stdin: "",
      label: `tsc (${project.name})`,
    });
    const code = await started.exited(deadlines.buildMs);
    return { code, output: started.seen() };
  });
}

/** Awaits `name`'s compilation, expects it to succeed, and runs what it emitted. */
async function compiledAndRun(name: string) {
  const compiled = compilations.get(name);
  if (!compiled) throw new Error(`${name} was not compiled: the TypeScript install failed (see its test)`);
  const { code, output } = await compiled;
  if (code !== 0) throw new Error(`tsc exited ${code}${output}`);
  return step(`run ${name}`, () =>
    run(process.execPath, [join("out", "example.js")], { cwd: join(tlsDir, name) }),
  );
}

it("TypeScript: the consumer's own typescript and @types/node install; the projects compile", async () => {
  const [major, minor] = String(rootManifest.devDependencies.typescript).replace(/^[~^]/, "").split(".");
  const nodeTypes = String(rootManifest.devDependencies["@types/node"]);
  await step("npm install typescript @types/node", () =>
    npmInstall(tlsDir, [`typescript@~${major}.${minor}.0`, `@types/node@${nodeTypes}`], true),
  );
  // At most `parallel` tsc processes at a time; every project's promise exists from here on.
  const parallel = Math.min(availableParallelism(), tsProjects.length);
  let running = 0;
  const waiting: Array<() => void> = [];
  const slot = async () => {
    if (running >= parallel) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  const t0 = Date.now();
  for (const project of tsProjects) {
    const done = slot().then(() => compile(project).finally(release));
    done.catch(() => {}); // awaited (and reported) by the project's own test
    compilations.set(project.name, done);
  }
  void Promise.allSettled(compilations.values()).then(() =>
    console.log(
      `registry-suite: the ${tsProjects.length} TypeScript projects compiled in ${((Date.now() - t0) / 1000).toFixed(1)} s (${parallel} at a time)`,
    ),
  );
  expect(existsSync(join(tlsDir, "node_modules", "typescript", "bin", "tsc"))).toBe(true);
});

it("TypeScript, ESM project, module nodenext: the README example type-checks (our .d.ts included) and runs", async () => {
  const { stdout } = await compiledAndRun("ts-nodenext");
  expect(stdout.trimEnd().split("\n")).toEqual(expectedOutput(firstExample("tls")));
});

it("TypeScript, ESM project, module node16: the README example type-checks and runs", async () => {
  const { stdout } = await compiledAndRun("ts-node16");
  expect(stdout.trimEnd().split("\n")).toEqual(expectedOutput(firstExample("tls")));
});

it("TypeScript, moduleResolution bundler: the README example type-checks and runs", async () => {
  const { stdout } = await compiledAndRun("ts-bundler");
  expect(stdout.trimEnd().split("\n")).toEqual(expectedOutput(firstExample("tls")));
});

it("TypeScript, CommonJS project, module nodenext: a static import of @xtls/tls type-checks (TypeScript ≥ 5.8), compiles to require() and runs", async () => {
  const { stdout } = await compiledAndRun("ts-commonjs-nodenext");
  expect(readFileSync(join(tlsDir, "ts-commonjs-nodenext", "out", "example.js"), "utf8")).toContain(
    'require("@xtls/tls")',
  );
  expect(stdout.trimEnd().split("\n")).toEqual(expectedOutput(firstExample("tls")));
});

it("TypeScript, CommonJS project, module node16: a static import is TS1479; resolution-mode types with import() work", async () => {
  const staticImport = await compilations.get("ts-commonjs-node16-static");
  expect(staticImport?.code).not.toBe(0);
  expect(staticImport?.output).toContain("error TS1479");
  const { stdout } = await compiledAndRun("ts-commonjs-node16");
  expect(stdout.trim()).toBe("64");
});

it("@xtls/ibb installed alone: its README example runs and the bytes arrive", async () => {
  const dir = project("ibb");
  await step("npm install @xtls/ibb", () => npmInstall(dir, ["@xtls/ibb"]));
  // Observed, not asserted: which @xtls packages come with it (@xtls/jingle, today).
  console.log(`registry-suite: @xtls/ibb alone brings ${installedXtls(dir).join(", ")}`);
  writeFileSync(join(dir, "example.mjs"), transpile(firstExample("ibb"), ts.ModuleKind.ESNext));
  const { stdout } = await step("@xtls/ibb README", () =>
    run(process.execPath, ["example.mjs"], { cwd: dir }),
  );
  expect(stdout).toBe("Did my heart love till now?\n");
});

it(
  "@xtls/client with @xmpp/client: the README's Romeo sends Juliet (README block 2) a chat line and a file through the test Prosody",
  async () => {
    const dir = project("client");
    await step("npm install @xtls/client @xmpp/client", () =>
      npmInstall(dir, [
        "@xtls/client",
        `@xmpp/client@${rootManifest.devDependencies["@xmpp/client"] ?? "^0.14.0"}`,
      ]),
    );
    const [romeoBlock, julietBlock] = [firstExample("client", 0), firstExample("client", 1)];
    // The README logs in to the project's Prosody at its usual address; the one these tests
    // share may listen elsewhere (PROSODY_PORT_BASE).
    const romeo = romeoBlock.replaceAll("xmpp://127.0.0.1:15222", prosody.service);
    // Juliet's block is the part after her login: it gets her xmpp.js client (resource
    // `balcony`, the one Romeo's block names) and an inbox unless it makes them itself.
    const julietPrelude = [
      ...(/from "node:fs\/promises"/.test(julietBlock) ? [] : ['import { mkdir } from "node:fs/promises";']),
      ...(/from "@xmpp\/client"/.test(julietBlock) ? [] : ['import { client } from "@xmpp/client";']),
      ...(/from "@xtls\/client"/.test(julietBlock) ? [] : ['import { createXtls } from "@xtls/client";']),
      ...(/\bclient\(/.test(julietBlock)
        ? []
        : [
            `const xmpp = client({ service: ${JSON.stringify(prosody.service)}, domain: "capulet.lit", username: "juliet", password: "secret", resource: "balcony" });`,
            "await xmpp.start();",
          ]),
      ...(/mkdir/.test(julietBlock) ? [] : ['await mkdir("./inbox", { recursive: true });']),
    ].join("\n");
    const julietCode = `${julietPrelude}\n${julietBlock.replaceAll("xmpp://127.0.0.1:15222", prosody.service)}\nconsole.log("juliet is listening");\n`;
    // Romeo's block opens a chat and sends a file; the program then says something, closes
    // XTLS (its SOCKS5 and IBB listeners) and logs out, and must then end by itself.
    const romeoCode = `${romeo}\nawait chat.send("Shall I compare thee to a summer's day?");\nawait chat.close();\nawait xtls.close();\nawait xmpp.stop();\nconsole.log("romeo is done");\n`;
    writeFileSync(join(dir, "juliet.mjs"), transpile(julietCode, ts.ModuleKind.ESNext));
    writeFileSync(join(dir, "romeo.mjs"), transpile(romeoCode, ts.ModuleKind.ESNext));
    const sonnet = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n";
    writeFileSync(join(dir, "sonnet.txt"), sonnet);

    await step("@xtls/client README (Romeo to Juliet through Prosody)", async () => {
      const juliet = startCommand(process.execPath, ["juliet.mjs"], {
        cwd: dir,
        env: userEnv(),
        label: "juliet.mjs",
      });
      try {
        await juliet.waitFor("juliet is listening", deadlines.loginMs);
        const romeoRun = await run(process.execPath, ["romeo.mjs"], { cwd: dir, label: "romeo.mjs" });
        expect(romeoRun.stdout).toContain("romeo is done");
        await juliet.waitFor("Shall I compare thee to a summer's day?");
        expect(readFileSync(join(dir, "inbox", "sonnet.txt"), "utf8")).toBe(sonnet);
      } finally {
        await juliet.kill();
      }
    });
  },
  deadlines.installMs + deadlines.commandsTestMs,
);

it("every public package installs together; import and require() give the same exports; the xtls command runs", async () => {
  const dir = project("all");
  await step(`npm install the ${packages.length} public packages`, () =>
    npmInstall(
      dir,
      packages.map((p) => p.name),
    ),
  );
  const names = JSON.stringify(packages.map((p) => p.name));
  writeFileSync(
    join(dir, "exports.mjs"),
    `for (const name of ${names}) console.log(name, Object.keys(await import(name)).sort().join(","));\n`,
  );
  writeFileSync(
    join(dir, "exports.cjs"),
    `for (const name of ${names}) console.log(name, Object.keys(require(name)).sort().join(","));\n`,
  );
  const viaImport = await run(process.execPath, ["exports.mjs"], { cwd: dir });
  const viaRequire = await run(process.execPath, ["exports.cjs"], { cwd: dir });
  expect(viaRequire.stdout).toBe(viaImport.stdout);
  for (const line of viaImport.stdout.trimEnd().split("\n")) expect(line.split(" ")[1], line).not.toBe("");
  for (const p of packages) {
    const installed = JSON.parse(readFileSync(join(dir, "node_modules", p.name, "package.json"), "utf8"));
    expect(installed.repository?.directory, p.name).toBe(relative(ROOT, p.dir));
    expect(existsSync(join(dir, "node_modules", p.name, "LICENSE")), `${p.name} LICENSE`).toBe(true);
  }
  const cli = packages.find((p) => p.name === "@xtls/cli");
  if (cli) {
    const { stdout } = await run(join(dir, "node_modules", ".bin", "xtls"), ["--version"], { cwd: dir });
    expect(stdout.trim()).toBe(cli.version);
  }
});
