export { describeFailure, describeKeyChange } from "./failure.js";
export { type Account, EMBEDDED_JIDS, type Network, type ServerOptions } from "./network.js";
export { Person, type PersonOptions, type StoredFile, verifiedPeer } from "./person.js";
export type { AgentMessage, FirstContact, PageMessage, VerifiedPeer } from "./protocol.js";
export { UPLOAD_CHUNK, UPLOAD_WINDOW } from "./protocol.js";
export { LOOPBACK, startWebDemo, type WebDemo, type WebDemoOptions } from "./server.js";
