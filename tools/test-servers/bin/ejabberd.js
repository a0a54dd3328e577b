#!/usr/bin/env node
// Usage: node tools/test-servers/bin/ejabberd.js install|start|stop|status|acquire [pid]|release [pid]|log
import {
  acquireEjabberd,
  ejabberdLogTail,
  ejabberdStatus,
  ensureEjabberdInstalled,
  releaseEjabberd,
  startEjabberd,
  stopEjabberd,
} from "../ejabberd.js";

const [cmd = "status", arg] = process.argv.slice(2);
const pid = arg ? Number(arg) : undefined;
switch (cmd) {
  case "install":
    ensureEjabberdInstalled();
    break;
  case "start":
    await startEjabberd();
    break;
  case "stop":
    await stopEjabberd();
    break;
  case "acquire":
    await acquireEjabberd(pid);
    break;
  case "release":
    await releaseEjabberd(pid);
    break;
  case "status":
    console.log(JSON.stringify(ejabberdStatus(), null, 2));
    break;
  case "log":
    console.log(ejabberdLogTail(Number(arg ?? 40)));
    break;
  default:
    console.error("usage: ejabberd.js install|start|stop|status|acquire [pid]|release [pid]|log [lines]");
    process.exit(2);
}
