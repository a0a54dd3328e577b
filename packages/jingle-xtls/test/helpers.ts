// Two (or more) XTLS parties, each with the real plug-ins (@xtls/testkit's parties:
// @xtls/ibb's Jingle transport, XtlsSecurity over @xtls/tls, and @xtls/xmlstream's
// Jingle application), with this package's names and defaults.
import { until as waitUntil } from "@xtls/testkit/support";

export {
  acceptEverything,
  identityOf,
  inbox,
  JULIET_LINE,
  type Opened,
  openXmlStreamSession,
  type Party,
  type PartyOptions,
  partyOn,
  ROMEO_LINE,
} from "@xtls/testkit/parties";

export const ROMEO = "romeo@montague.lit/orchard";
export const JULIET = "juliet@capulet.lit/balcony";
export const MALLORY = "mallory@montague.lit/arras";

/** `until` (@xtls/testkit/support) with this package's default of 10 s. */
export const until = (cond: () => boolean, ms = 10_000): Promise<void> => waitUntil(cond, ms);
