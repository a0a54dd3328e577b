/**
 * How many cases each property runs: `FUZZ_RUNS` (default 10 000, the CI size; `pnpm fuzz`
 * sets 100 000). `FUZZ_SEED` (and `FUZZ_PATH`) replay what fast-check printed for a
 * failure, so every failure is reproducible from its seed.
 */
import type * as fc from "fast-check";

function positiveInteger(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`expected a positive integer, got "${value}"`);
  return n;
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new TypeError(`expected an integer, got "${value}"`);
  return n;
}

/** The base number of cases: handler properties with a share of 1 run this many. */
export const FUZZ_RUNS = positiveInteger(process.env.FUZZ_RUNS) ?? 10_000;

/**
 * The share of `FUZZ_RUNS` each property runs, so that the whole suite takes about a
 * minute on the project's 2-core machine at the CI size (measured; see the README). A
 * share below 1 is a property whose cases are expensive: a TLS handshake or a real TCP
 * connection per case, or several live sessions at once.
 */
export const SHARE = {
  /** IBB, Mode Q, disco: the handler properties at full size. */
  ibb: 1,
  modeq: 1,
  disco: 1,
  /** One TCP connection (or several) to the loopback streamhosts per case. */
  socks5: 0.3,
  /** Sessions set up per case, with TLS handshakes in three of the six states. */
  jingle: 0.4,
  /** An IBB stream, a Jingle session and a Mode Q tunnel live in every case. */
  mixed: 0.2,
  /** A full TLS handshake and XML stream per case. */
  jingleEstablished: 0.02,
  modeqOpen: 0.02,
  tlsCarrier: 0.05,
  /** An XmlStream per case. */
  xmlStream: 0.1,
  /**
   * Regressions: properties aimed at a bug this suite found (and that was fixed), each
   * case built to hit it; the general properties keep covering the same ground.
   */
  regression: 0.05,
  /** Pure functions. */
  parser: 0.3,
  jid: 0.5,
  base64: 0.5,
} as const;

/**
 * fast-check parameters for a property: `FUZZ_RUNS × fraction` cases (properties whose
 * every case runs a TLS handshake use a fraction; see the README).
 */
export function fuzzParams<T>(fraction = 1): fc.Parameters<T> {
  const seed = integer(process.env.FUZZ_SEED);
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: Math.max(1, Math.round(FUZZ_RUNS * fraction)),
    ...(seed !== undefined ? { seed } : {}),
    ...(path ? { path } : {}),
  };
}
