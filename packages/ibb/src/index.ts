export {
  DEFAULT_BLOCK_SIZE,
  type IbbStanzaKind,
  MAX_BLOCK_SIZE,
  MAX_OFFERED_BLOCK_SIZE,
  MIN_RETRY_BLOCK_SIZE,
  nextSeq,
} from "./elements.js";
export {
  IbbClosedError,
  IbbDeliveryError,
  IbbProtocolError,
  IbbRefusedError,
  IbbSidInUseError,
  type IbbViolation,
} from "./errors.js";
export {
  IbbTransport,
  type IbbTransportOptions,
  NS_JINGLE_IBB_0,
} from "./jingle-transport.js";
export {
  DEFAULT_ACK_TIMEOUT_MS,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_WINDOW,
  type IbbAttachOptions,
  type IbbExpectOptions,
  type IbbOpenOptions,
  type IbbOpenRequest,
  InBandBytestreams,
  type InBandBytestreamsEvents,
  type InBandBytestreamsOptions,
} from "./service.js";
export { IbbStream, type IbbStreamInit, type IbbStreamState } from "./stream.js";
