#!/usr/bin/env node
import { main } from "./cli.js";

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
// Let stdout drain, then leave even if a socket or timer of a failed run lingers.
process.stdout.write("", () => process.exit(code));
