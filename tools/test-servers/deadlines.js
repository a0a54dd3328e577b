// Every deadline the tests wait under, in one place, each named for what it waits for.
//
// They are not tuned to the machine: on an idle 2-core machine each wait takes a tenth of its
// deadline or less, and `pnpm test` never runs more test workers than there are cores
// (scripts/test.mjs), so a busy machine slows a test down without pushing it past these. They
// exist so that a hang fails, and fails with what was seen (a spawned command's output, the last
// stanzas of a login): read that before raising a number here.
export const deadlines = Object.freeze({
  /** One test, unless its file says otherwise. */
  testMs: 30_000,
  /** A beforeAll/afterAll hook: builds, server starts. */
  hookMs: 60_000,
  /** `tsc -b` of an app and the packages it uses, before its binary is spawned. */
  buildMs: 120_000,
  /** An XMPP login to a test server, stream management settled. */
  loginMs: 20_000,
  /** A spawned command prints the line a test waits for (it starts, logs in, says it is ready). */
  outputMs: 30_000,
  /** A spawned command exits once its work is done. */
  exitMs: 60_000,
  /** A README's code example runs to its end (logins, a session, a transfer). */
  exampleMs: 30_000,
  /** `expect.poll`: something that has to arrive (a stanza, a state) arrives. */
  pollMs: 10_000,
  /** A test that spawns several commands, each logging in and running a session. */
  commandsTestMs: 90_000,
  /** A local npm registry (Verdaccio, tools/registry-suite) answers its first request. */
  registryStartMs: 60_000,
  /** `pnpm publish -r` of every public package into that registry. */
  publishMs: 180_000,
  /** One `npm install` from that registry (third-party packages proxied from npmjs). */
  installMs: 180_000,
});
