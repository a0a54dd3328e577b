export {
  type KeyInfo,
  keyinfoElement,
  PubkeyFormatError,
  parseKeyinfos,
  pubkeysRequest,
  pubkeysResult,
  requestedFingerprints,
} from "./elements.js";
export {
  deletePublishedCertificates,
  fetchPublishedCertificates,
  type PublishOptions,
  publishCertificates,
  retractCertificate,
} from "./pep.js";
export { learnFromPeer, pepResolver } from "./resolver.js";
export {
  type EndToEndStream,
  type PeerKeys,
  PubkeyMismatchError,
  requestPubkeys,
  type ServePubkeysOptions,
  servePubkeys,
} from "./service.js";
export {
  createUserCertificate,
  issueDeviceIdentity,
  learnUserCertificate,
  trustDeviceVouchedFor,
  type UserCertificate,
  type VouchVerdict,
  vouches,
} from "./user-certificate.js";
