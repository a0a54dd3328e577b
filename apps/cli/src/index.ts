export { type CliIo, EXIT, main } from "./cli.js";
export { type DemoOptions, type DemoResult, REPLY_LINES, runDemo, SEED_LINES } from "./demo.js";
