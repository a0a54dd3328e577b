export { type Deadline, deadline, withDeadline } from "./abort.js";
export { Base64Error, type DecodeOptions, decodeBase64Strict, encodeBase64 } from "./base64.js";
export { compareJids, compareOctets } from "./collation.js";
export {
  CAPS_NODE,
  capsVerification,
  DEFAULT_IDENTITY,
  type DiscoIdentity,
  DiscoInfo,
  type DiscoInfoResult,
  type DiscoRegistry,
  PeerDiscoCache,
  type PeerDiscoCacheOptions,
  parseDiscoInfo,
  queryDiscoInfo,
} from "./disco.js";
export { type DuplexPairOptions, duplexPair } from "./duplex-pair.js";
export { AbortError, TimeoutError, XtlsError } from "./errors.js";
export {
  buildIqReply,
  DEFAULT_REQUEST_TIMEOUT_MS,
  IqEngine,
  type IqEngineOptions,
  type IqReply,
  LinkClosedError,
  newStanzaId,
} from "./iq-engine.js";
export {
  bareJid,
  isFullJid,
  type Jid,
  JidError,
  normalizeJid,
  parseJid,
  sameBareJid,
  sameJid,
  tryParseJid,
} from "./jid.js";
export type {
  IqHandler,
  IqRequest,
  IqType,
  RequestOptions,
  StanzaListener,
  Unsubscribe,
  XmppLink,
} from "./link.js";
export { LinkBase } from "./link-base.js";
export {
  auditIqReplies,
  type Interceptor,
  type InterceptResult,
  type Interposition,
  LocalLink,
  type LocalLinkOptions,
  LocalRouter,
  type RouteEvent,
  type RouteInfo,
  type RouteOutcome,
} from "./local-router.js";
export { canonicalNamespace, NAMESPACE_ALIASES, type Namespace, NS } from "./namespaces.js";
export { randomId } from "./random-id.js";
export {
  type AppCondition,
  DEFAULT_ERROR_TYPE,
  StanzaError,
  type StanzaErrorCondition,
  type StanzaErrorOptions,
  type StanzaErrorType,
} from "./stanza-error.js";
export {
  CLIENT_STREAM_HEADER,
  type StanzaStreamEvents,
  StanzaStreamParser,
  type StanzaStreamParserOptions,
  XmlStreamError,
  type XmlStreamErrorCondition,
} from "./stanza-parser.js";
export {
  cloneElement,
  Element,
  type ElementConstructor,
  escapeXml,
  iqPayload,
  isElement,
  type XmlAttrs,
  type XmlAttrsInput,
  type XmlChild,
  xml,
} from "./xml.js";
export {
  type ChunkParser,
  fromXmppClient,
  holdToTagEnd,
  SM_ACK_EVERY,
  streamManagementSettled,
  type XmppJsClient,
  type XmppJsContext,
  XmppJsLink,
  type XmppJsLinkOptions,
} from "./xmppjs.js";
