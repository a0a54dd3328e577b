export {
  type CertificateOptions,
  type CreatedCertificate,
  createCertificate,
  OID_XMPP_ADDR,
  xmppAddrsOf,
} from "./certificate.js";
export {
  AdvertisedFingerprintMismatchError,
  PeerJidMismatchError,
  SecurityError,
  TlsChannelError,
  TlsHandshakeError,
  TruncationError,
  UntrustedCertificateError,
} from "./errors.js";
export {
  certificateMatches,
  type Fingerprint,
  type FingerprintAlgorithm,
  FingerprintFormatError,
  fingerprintOf,
  formatFingerprint,
  parseFingerprint,
  tryParseFingerprint,
} from "./fingerprint.js";
export {
  type CreateIdentityOptions,
  createIdentity,
  type Identity,
  IdentityError,
  identityFromPem,
  loadIdentity,
  loadOrCreateIdentity,
  saveIdentity,
} from "./identity.js";
export {
  type ChannelRole,
  DEFAULT_CIPHER_SUITES,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  NodeTlsEngine,
  type NodeTlsEngineOptions,
  type OpenSecureChannelOptions,
  openSecureChannel,
  type SecureChannel,
  type SecureOptions,
  type TlsEngine,
} from "./secure-channel.js";
export { type CachedSession, SessionCache, type SessionCacheOptions } from "./session-cache.js";
export {
  FileTrustStore,
  type FileTrustStoreOptions,
  MemoryTrustStore,
  type PinOptions,
  parseTrustFile,
  type TrustEntry,
  type TrustFile,
  type TrustMethod,
  type TrustState,
  type TrustStore,
  TrustStoreError,
} from "./trust-store.js";
export {
  type ChannelAuth,
  type PeerIdentity,
  type VerifyInput,
  verifyPeerCertificate,
  type X509Auth,
} from "./verify.js";
