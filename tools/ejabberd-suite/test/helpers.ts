// Helpers of the ejabberd suite: connections to the test ejabberd. The byte-stream
// helpers, the XTLS parties and the flows the suite shares with the packages' Prosody
// tests are in @xtls/testkit.
import { streamManagementSettled } from "@xtls/core";
import { connectEjabberdClient, type XmppClient } from "@xtls/test-servers";
import { onCleanup, until as waitUntil } from "@xtls/testkit/support";

/**
 * A started @xmpp/client connection to the test ejabberd, stream management settled
 * (`streamManagementSettled`: traffic before `<enabled/>` leaves xmpp.js's `h` too low),
 * stopped by `cleanUp()` (@xtls/testkit/support).
 */
export async function connect(
  username: string,
  domain: string,
  extra: Record<string, unknown> = {},
): Promise<XmppClient> {
  const client = await connectEjabberdClient({ username, domain, ...extra });
  await streamManagementSettled(client);
  onCleanup(() => client.stop());
  return client;
}

/** True once `client` dropped (ejabberd closed the stream, or the socket broke). */
export function watchDrops(client: XmppClient): { readonly dropped: boolean; readonly errors: string[] } {
  const state = { dropped: false, errors: [] as string[] };
  client.on("disconnect", () => {
    state.dropped = true;
  });
  client.on("error", (e: { condition?: string; text?: string; message?: string }) =>
    state.errors.push(`${e.condition ?? ""} ${e.text ?? e.message ?? ""}`.trim()),
  );
  return state;
}

/** `until` (@xtls/testkit/support) with this suite's default of 10 s. */
export const until = (cond: () => boolean, ms = 10_000): Promise<void> => waitUntil(cond, ms);
