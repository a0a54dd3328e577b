/** Every deadline the tests wait under, named for what it waits for (deadlines.js says why these numbers). */
export declare const deadlines: {
  readonly testMs: number;
  readonly hookMs: number;
  readonly buildMs: number;
  readonly loginMs: number;
  readonly outputMs: number;
  readonly exitMs: number;
  readonly exampleMs: number;
  readonly pollMs: number;
  readonly commandsTestMs: number;
  readonly registryStartMs: number;
  readonly publishMs: number;
  readonly installMs: number;
};
