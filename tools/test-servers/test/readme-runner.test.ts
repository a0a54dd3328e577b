// The README runner itself (readme.js), on a README made up for the purpose.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readmeBlocks, readmeCommands, readmeRunner, shellWords } from "../index.js";

const HERE = join(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "xtls-readme-runner-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readme(text: string): string {
  const file = join(tmp, `README-${Math.random().toString(36).slice(2)}.md`);
  writeFileSync(file, text);
  return file;
}

const FENCE = "```";

describe("readmeBlocks", () => {
  it("finds the fenced blocks of a language with the README line of their first line of code", () => {
    const file = readme(
      [
        "# title", // 1
        "", // 2
        `${FENCE}ts`, // 3
        "const a = 1;", // 4
        FENCE, // 5
        `${FENCE}xml`, // 6
        "<a/>", // 7
        FENCE, // 8
        "- a list item:", // 9
        "", // 10
        `  ${FENCE}ts`, // 11
        "  const b = 2;", // 12
        `  ${FENCE}`, // 13
        "",
      ].join("\n"),
    );
    const blocks = readmeBlocks(file);
    expect(blocks.map((b) => [b.index, b.line, b.code])).toEqual([
      [1, 4, "const a = 1;\n"],
      [2, 12, "const b = 2;\n"],
    ]);
    expect(readmeBlocks(file, "xml").map((b) => b.code)).toEqual(["<a/>\n"]);
  });
});

describe("readmeCommands", () => {
  it("splits comments off, joins continuation lines, and splits words as a shell does", () => {
    const file = readme(
      [
        "text", // 1
        `${FENCE}sh`, // 2
        "pnpm demo      # the demo", // 3
        "pnpm demo --server x \\", // 4
        "  --password '…#1'", // 5
        '$ FOO=1 node a.js && echo "a b"', // 6
        "", // 7
        FENCE,
        `${FENCE}ts`,
        "not(a, command);",
        FENCE,
      ].join("\n"),
    );
    expect(
      readmeCommands(file).map(({ line, command, words, comment }) => ({ line, command, words, comment })),
    ).toEqual([
      { line: 3, command: "pnpm demo", words: ["pnpm", "demo"], comment: "the demo" },
      {
        line: 4,
        command: "pnpm demo --server x --password '…#1'",
        words: ["pnpm", "demo", "--server", "x", "--password", "…#1"],
        comment: undefined,
      },
      {
        line: 6,
        command: 'FOO=1 node a.js && echo "a b"',
        words: ["FOO=1", "node", "a.js", "&&", "echo", "a b"],
        comment: undefined,
      },
    ]);
  });

  it("shellWords keeps quoted spaces and escapes, and refuses an unterminated quote", () => {
    expect(shellWords(`a "b c" 'd"e' f\\ g ""`)).toEqual(["a", "b c", 'd"e', "f g", ""]);
    expect(() => shellWords("a 'b")).toThrow(/unterminated/);
  });
});

describe("ReadmeRunner", () => {
  const file = readme(
    [
      "# example", // 1
      `${FENCE}ts`, // 2
      'import { text } from "node:stream/consumers";', // 3
      'import { Readable } from "node:stream";', // 4
      'console.log("got", await text(Readable.from(["a", "b"])));', // 5
      'process.stdout.write("out\\n");', // 6
      FENCE, // 7
      `${FENCE}ts`, // 8
      "const n: number = 2;", // 9
      "", // 10
      'if (n > 1) throw new Error("boom");', // 11
      FENCE, // 12
      `${FENCE}ts`, // 13
      "await new Promise(() => {});", // 14
      FENCE, // 15
      `${FENCE}ts`, // 16
      'import net from "node:net";', // 17
      "const server = net.createServer().listen(0);", // 18
      "setTimeout(() => server.close(), 1000);", // 19
      FENCE, // 20
      `${FENCE}ts`, // 21
      "const s: string = undefinedThing;", // 22
      FENCE, // 23
      "",
    ].join("\n"),
  );
  const runner = readmeRunner({ readme: file, dir: HERE, timeoutMs: 2000, settleMs: 500 });
  afterAll(() => runner.cleanup());

  it("runs a block and returns what it printed, and puts console and stdout back", async () => {
    const log = console.log;
    const write = process.stdout.write;
    const { logs, stdout, block } = await runner.run(1);
    expect(logs).toEqual(["got ab"]);
    expect(stdout).toBe("out\n");
    expect(block.line).toBe(3);
    expect(console.log).toBe(log);
    expect(process.stdout.write).toBe(write);
  });

  it("names the block and the README line of an exception", async () => {
    const error = await runner.run(2).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/README-\w+\.md block 2 \(line 9\) threw: boom/);
    expect((error as Error).stack).toContain(`${file}:11:`);
  });

  it("fails a block that does not finish in time", async () => {
    await expect(runner.run(3, { timeoutMs: 300 })).rejects.toThrow(
      /block 3 \(line 14\) did not finish within 300 ms/,
    );
  });

  it("fails a block that leaves a server listening, and waits for one that closes it", async () => {
    await expect(runner.run(4)).rejects.toThrow(/block 4 \(line 17\) finished but left 1 TCPServerWrap open/);
    await new Promise((r) => setTimeout(r, 700)); // that server closes after 1 s
    const patient = readmeRunner({ readme: file, dir: HERE, settleMs: 3000 });
    try {
      await patient.run(4);
    } finally {
      patient.cleanup();
    }
  });

  it("type-checks every block, with README positions", async () => {
    const diagnostics = await runner.typecheck();
    expect(diagnostics).toEqual([
      expect.stringMatching(
        /\/README-\w+\.md:22:19 \(block 5\) TS2304: Cannot find name 'undefinedThing'\.$/,
      ),
    ]);
  }, 120_000);

  it("knows which blocks were never run", () => {
    expect(runner.notRun()).toEqual([5]);
  });
});
