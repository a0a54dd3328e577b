export { type CliIo, EXIT, main } from "./cli.js";
export {
  type DemoMode,
  type DemoOptions,
  type DemoResult,
  DRAFT_LINE,
  DRAFT_REPLY,
  REPLY_LINES,
  runDemo,
  SEED_LINES,
} from "./demo.js";
export { ONE_TIME_PASSWORD, runStory, STORY_LINES, type StoryOptions, type StoryResult } from "./story.js";
