#!/usr/bin/env node
// Usage: servers.js install|start|stop|status|acquire|release
import {
  acquireProsody,
  ensureProsodyInstalled,
  prosodyStatus,
  releaseProsody,
  startProsody,
  stopProsody,
} from "../prosody.js";

const [cmd = "status", arg] = process.argv.slice(2);
const pid = arg ? Number(arg) : undefined;
switch (cmd) {
  case "install":
    ensureProsodyInstalled();
    break;
  case "start":
    await startProsody();
    break;
  case "stop":
    await stopProsody();
    break;
  case "acquire":
    await acquireProsody(pid);
    break;
  case "release":
    await releaseProsody(pid);
    break;
  case "status":
    console.log(JSON.stringify(prosodyStatus(), null, 2));
    break;
  default:
    console.error("usage: servers.js install|start|stop|status|acquire [pid]|release [pid]");
    process.exit(2);
}
