export {
  NS_XTLS_JINGLE_DRAFT,
  supportsXtls,
  type XtlsChannel,
  XtlsSecurity,
  type XtlsSecurityOptions,
} from "./precondition.js";
export {
  parseSecurity,
  securityElement,
  type XtlsMethod,
  type XtlsSecurityInfo,
} from "./security-element.js";
