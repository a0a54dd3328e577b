/** A spawned command with what it printed, and waits that report what was seen when they fail. */
export interface StartedCommand {
  readonly child: import("node:child_process").ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly done: Promise<number | null>;
  /** Resolves once stdout or stderr contains `text`; rejects with both outputs on exit or deadline. */
  waitFor(text: string | RegExp, ms?: number): Promise<void>;
  /** Sends `signal` (default SIGTERM) unless it exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** The exit code, or a rejection with both outputs when it does not exit within `ms`. */
  exited(ms?: number): Promise<number | null>;
  /** Both outputs, for a failure message. */
  seen(): string;
}
export function startCommand(
  command: string,
  args: readonly string[],
  options?: { env?: NodeJS.ProcessEnv; cwd?: string; stdin?: string; label?: string },
): StartedCommand;
