export type { IncomingFileOffer, IncomingFileTransfer, OutgoingFileTransfer } from "@xtls/file-transfer";
export type { RefusedSession } from "@xtls/jingle";
export { Chat, type ChatEvents, type ChatMessage } from "./chat.js";
export {
  createXtls,
  type IncomingChat,
  type OpenChatOptions,
  type TransportChoice,
  Xtls,
  type XtlsEvents,
  type XtlsOptions,
  type XtlsSendFileOptions,
} from "./client.js";
