export { connectXmppClient, startWithin } from "./clients.js";
export { deadlines } from "./deadlines.js";
export {
  acquireEjabberd,
  connectEjabberdClient,
  EJABBERD_DIR,
  ejabberd,
  ejabberdInstalled,
  ejabberdLogTail,
  ejabberdStatus,
  ensureEjabberdInstalled,
  releaseEjabberd,
  startEjabberd,
  stopEjabberd,
} from "./ejabberd.js";
export { startCommand } from "./processes.js";
export {
  acquireProsody,
  ensureProsodyInstalled,
  PROSODY_DIR,
  prosody,
  prosodyLogTail,
  prosodyStatus,
  REPO_ROOT,
  releaseProsody,
  startProsody,
  stopProsody,
} from "./prosody.js";
export { ReadmeRunner, readmeBlocks, readmeCommands, readmeRunner, shellWords } from "./readme.js";
export { alive, portOpen } from "./sharing.js";
export { ensureSlixmppInstalled, SYSTEM_PYTHON, slixmppAvailable } from "./slixmpp.js";
