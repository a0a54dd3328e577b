/**
 * Prompts on the terminal: hidden input for passwords (nothing echoed, not even a mask),
 * and yes/no questions. When stdin is not a terminal, answers are read line by line from
 * it (scripts and tests pipe them in); when it is closed, a prompt answers `null`.
 */
import type { Readable, Writable } from "node:stream";

export interface PromptIo {
  readonly stdin?: Readable & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  /** Where questions go (stderr, so stdout stays clean for --json). */
  readonly stderr: Writable;
}

export class Prompter {
  readonly #io: PromptIo;
  #lines: string[] = [];
  #waiters: Array<(line: string | null) => void> = [];
  #ended = false;
  #buffer = "";
  #listening = false;
  #questionOpen = false;

  constructor(io: PromptIo) {
    this.#io = io;
  }

  /** Asks a question; `hidden` for passwords. Resolves `null` on end of input or Ctrl-C. */
  async ask(question: string, options: { hidden?: boolean } = {}): Promise<string | null> {
    const stdin = this.#io.stdin;
    if (!stdin) return null;
    // On a terminal, raw mode (no echo) before the question shows: an answer typed (or
    // pasted) the moment the question appears must not be echoed by the terminal.
    if (stdin.isTTY && stdin.setRawMode) stdin.setRawMode(true);
    this.#io.stderr.write(question);
    if (question) this.#questionOpen = true;
    try {
      if (stdin.isTTY && stdin.setRawMode)
        return await this.#readTty(
          stdin as typeof stdin & { setRawMode(raw: boolean): unknown },
          options.hidden === true,
        );
      return await this.#readLine();
    } finally {
      if (question) this.#questionOpen = false;
    }
  }

  /**
   * Ends the line of a question still waiting for its answer, so that what is written
   * next (a command's last line, when it fails meanwhile) starts a line of its own.
   */
  endLine(): void {
    if (!this.#questionOpen) return;
    this.#questionOpen = false;
    this.#io.stderr.write("\n");
  }

  async confirm(question: string): Promise<boolean> {
    const answer = await this.ask(`${question} [y/N] `);
    return answer !== null && /^(y|yes)$/i.test(answer.trim());
  }

  /** Stops reading stdin (so the process can exit). */
  close(): void {
    this.#io.stdin?.pause();
    this.#io.stdin?.removeAllListeners("data");
  }

  #readLine(): Promise<string | null> {
    const stdin = this.#io.stdin!;
    if (!this.#listening) {
      this.#listening = true;
      stdin.setEncoding?.("utf8");
      stdin.on("data", (chunk: string) => {
        this.#buffer += chunk;
        for (let nl = this.#buffer.indexOf("\n"); nl >= 0; nl = this.#buffer.indexOf("\n")) {
          this.#push(this.#buffer.slice(0, nl).replace(/\r$/, ""));
          this.#buffer = this.#buffer.slice(nl + 1);
        }
      });
      stdin.on("end", () => {
        if (this.#buffer) this.#push(this.#buffer);
        this.#buffer = "";
        this.#ended = true;
        for (const w of this.#waiters.splice(0)) w(null);
      });
    }
    stdin.resume();
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #push(line: string): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(line);
    else this.#lines.push(line);
  }

  // Raw mode: every key arrives as typed; we echo nothing for hidden input (a mask would
  // tell an onlooker the password's length).
  #readTty(
    stdin: NonNullable<PromptIo["stdin"]> & { setRawMode(raw: boolean): unknown },
    hidden: boolean,
  ): Promise<string | null> {
    return new Promise((resolve) => {
      let value = "";
      stdin.setRawMode(true);
      stdin.setEncoding?.("utf8");
      stdin.resume();
      const done = (result: string | null) => {
        stdin.off("data", onData);
        stdin.setRawMode(false);
        stdin.pause();
        this.#io.stderr.write("\n");
        resolve(result);
      };
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === "\r" || ch === "\n") return done(value);
          if (ch === "\u0003" || ch === "\u0004") return done(null); // Ctrl-C, Ctrl-D
          if (ch === "\u007f" || ch === "\b") {
            if (value.length > 0 && !hidden) this.#io.stderr.write("\b \b");
            value = value.slice(0, -1);
            continue;
          }
          if (ch < " ") continue;
          value += ch;
          if (!hidden) this.#io.stderr.write(ch);
        }
      };
      stdin.on("data", onData);
    });
  }
}
