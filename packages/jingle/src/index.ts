export { JingleReasonError, SessionTerminatedError, TransportFailedError } from "./errors.js";
export {
  bindJingle,
  createJingleManager,
  type IncomingSession,
  JingleManager,
  type JingleManagerEvents,
  type JingleManagerOptions,
  type JingleSignalling,
  linkSignalling,
  newSid,
} from "./manager.js";
export {
  buildJingle,
  buildReason,
  type Content,
  type Creator,
  JINGLE_ACTIONS,
  type Jingle,
  type JingleAction,
  type JingleErrorCondition,
  jingleError,
  namespaceOf,
  parseJingle,
  REASON_CONDITIONS,
  type Reason,
  type ReasonCondition,
  type Senders,
} from "./model.js";
export type {
  ApplicationFormat,
  ApplicationHandle,
  ContentContext,
  SecuredStream,
  SecurityHandle,
  SecurityMethod,
  TransportHandle,
  TransportMethod,
} from "./plugins.js";
export {
  type AcceptOptions,
  type InitiateOptions,
  JingleSession,
  type SessionEvents,
  type SessionPhase,
  type SessionState,
} from "./session.js";
