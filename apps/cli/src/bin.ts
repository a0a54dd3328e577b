#!/usr/bin/env node
import { main } from "./cli.js";

// Output piped into a reader that stops early (`xtls demo | head -1`): the rest has nowhere
// to go, and that is no failure — end quietly, no stack trace. (Exit 0: what was asked for
// was read; a pipeline with `set -o pipefail` does not fail because of `head`.)
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
// Let stdout drain, then leave even if a socket or timer of a failed run lingers.
process.stdout.write("", () => process.exit(code));
