export {
  type AddressClass,
  type AllowableAddressClass,
  allowedAddress,
  type CandidatePolicy,
  classifyAddress,
  DEFAULT_CANDIDATE_POLICY,
  S5bAddressRefusedError,
} from "./address-policy.js";
export { ConnectionRace, connectStreamhost, type RaceWinner, type StreamhostAddress } from "./connector.js";
export {
  activateElement,
  DEFAULT_STREAMHOST_PORT,
  dstAddr,
  offerElement,
  parseQuery,
  type QueryFields,
  type StreamHost,
  streamhostUsedElement,
} from "./elements.js";
export {
  S5bActivationError,
  S5bClosedError,
  S5bConnectionLostError,
  S5bNoStreamhostError,
  S5bProtocolError,
  S5bRefusedError,
  S5bSidInUseError,
  S5bStreamhostError,
} from "./errors.js";
export {
  type Candidate,
  type CandidateType,
  candidatePriority,
  parseTransport,
  type TransportFields,
  TYPE_PREFERENCE,
  transportElement,
} from "./jingle-elements.js";
export {
  type S5bNomination,
  S5bTransport,
  type S5bTransportEvents,
  type S5bTransportOptions,
} from "./jingle-transport.js";
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_STAGGER_MS,
  type S5bExpectOptions,
  type S5bOpenOptions,
  type S5bRequest,
  Socks5Bytestreams,
  type Socks5BytestreamsEvents,
  type Socks5BytestreamsOptions,
} from "./service.js";
export {
  DEFAULT_HIGH_WATER_MARK,
  PendingConnection,
  type PendingMode,
  S5bStream,
  type S5bStreamInit,
} from "./stream.js";
export {
  Expectation,
  type RefusalReason,
  StreamhostListener,
  type StreamhostListenerEvents,
  type StreamhostListenerOptions,
} from "./streamhost-listener.js";
