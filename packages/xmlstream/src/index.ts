export { StreamClosedError, StreamTruncatedError } from "./errors.js";
export {
  NS_JINGLE_XMLSTREAM_DRAFT,
  XmlStreamApplication,
  XmlStreamSession,
  type XmlStreamSessionOptions,
} from "./jingle-application.js";
export {
  StreamError,
  type StreamErrorCondition,
  type StreamErrorOptions,
  type StreamErrorOrigin,
} from "./stream-error.js";
export {
  checkStreamHeader,
  EMPTY_STREAM_FEATURES,
  type HeaderProblem,
  STREAM_CLOSE,
  STREAM_VERSION,
  type StreamHeaderAttributes,
  streamHeader,
} from "./stream-header.js";
export {
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_OPEN_TIMEOUT_MS,
  DEFAULT_QUEUE_LIMIT,
  openXmlStream,
  XmlStream,
  type XmlStreamEvents,
  type XmlStreamOptions,
  type XmlStreamRole,
  type XmlStreamState,
} from "./xml-stream.js";
