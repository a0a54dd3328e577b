#!/usr/bin/env node
// Usage: node tools/federation-suite/bin/servers.js start|stop|status|logs
import {
  capulet,
  FED_DIR,
  federationLogs,
  missing,
  montague,
  startFederation,
  stopFederation,
  stranger,
} from "../src/servers.js";

const [cmd = "status"] = process.argv.slice(2);
switch (cmd) {
  case "start":
    await startFederation();
    break;
  case "stop":
    await stopFederation();
    break;
  case "status":
    console.log(
      JSON.stringify(
        { dir: FED_DIR, missing: (await missing()) ?? null, montague, capulet, stranger },
        null,
        2,
      ),
    );
    break;
  case "logs":
    console.log(federationLogs(80));
    break;
  default:
    console.error("usage: servers.js start|stop|status|logs");
    process.exit(2);
}
