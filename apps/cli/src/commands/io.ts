import type { Readable, Writable } from "node:stream";
import type { Prompter } from "../prompt.js";
import type { Style } from "../style.js";

export interface CommandIo {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  readonly stdin?: Readable & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly style: Style;
  readonly prompter: Prompter;
}
