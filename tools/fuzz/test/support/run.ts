/**
 * One fuzz case: a fresh world, the case's actions, the world left to settle, then the
 * properties: nothing escaped (no unhandled rejection, uncaught exception or crashed
 * handler) and the world's `check()` found nothing. Any failure throws, with every
 * problem listed, so fast-check shrinks the case and prints its seed.
 */
import { escapedSince, escapeMark } from "./guards.js";
import { type MalloryScript, type Policy, World } from "./world.js";

export interface CaseSetup {
  readonly romeo?: Policy;
  readonly juliet?: Policy;
  readonly mallory?: MalloryScript;
}

export async function fuzzCase(setup: CaseSetup, act: (world: World) => Promise<void>): Promise<void> {
  const mark = escapeMark();
  const world = await World.create({ romeo: setup.romeo, juliet: setup.juliet }, setup.mallory);
  let problems: string[];
  try {
    await act(world);
    await world.settle();
    problems = world.check();
  } finally {
    await world.close();
  }
  const escaped = escapedSince(mark);
  if (problems.length > 0 || escaped.length > 0) {
    throw new Error(`${[...problems, ...escaped].join("\n")}\n`);
  }
}
