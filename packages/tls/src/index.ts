export { type AssessInput, assessPeer, type PeerAssessment } from "./assess.js";
export {
  type Attempt,
  AttemptLimiter,
  type AttemptLimiterOptions,
  type AttemptRecord,
  type AttemptRecordStore,
} from "./attempt-limiter.js";
export {
  ABORT_REASON_CODES,
  AUTH_PROTOCOL_VERSION,
  encodeAbort,
  encodeFrame,
  MAX_FRAME_BODY,
  MessageType,
} from "./auth-wire.js";
export {
  type CertificateOptions,
  type CreatedCertificate,
  createCertificate,
  OID_XMPP_ADDR,
  xmppAddrsOf,
} from "./certificate.js";
export {
  AdvertisedFingerprintMismatchError,
  AuthenticationCancelledError,
  type AuthFailureReason,
  AuthProtocolError,
  CertificateChangedError,
  type DetectedBy,
  type InTunnelMethod,
  MethodDowngradeError,
  PairingDisabledError,
  PeerAuthenticationError,
  PeerJidMismatchError,
  SasMismatchError,
  SecurityError,
  SrpAuthenticationError,
  TlsChannelError,
  TlsHandshakeError,
  TooManyAttemptsError,
  TruncationError,
  UntrustedCertificateError,
} from "./errors.js";
export {
  certificateMatches,
  type Fingerprint,
  type FingerprintAlgorithm,
  FingerprintFormatError,
  fingerprintMatches,
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
  generatePairingCode,
  type PairingCodeOptions,
  PairingMode,
  type PairingModeOptions,
} from "./pairing.js";
export {
  deriveSas,
  runSas,
  SAS_EMOJI,
  SAS_EXPORTER_LABEL,
  type SasAuth,
  type SasConfirmRequest,
  type SasEmoji,
  type ShortAuthenticationString,
  sasCommitment,
} from "./sas.js";
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
export { bindingDigest, type SessionBinding } from "./session-binding.js";
export { type CachedSession, SessionCache, type SessionCacheOptions } from "./session-cache.js";
export {
  DEFAULT_AUTH_TIMEOUT_MS,
  type PasswordRequest,
  SRP_EXPORTER_LABEL,
  SRP_GROUP,
  type SrpAuth,
  srpClientProof,
  srpIdentity,
  srpPasswordOctets,
  srpServerProof,
} from "./srp.js";
export { SrpClientSession, SrpGroup, SrpServerSession, srpVerifier } from "./srp-group.js";
export { type CaConfirmRequest, type CaPolicy, type CaVerdict, verifyCaIssued } from "./trust-anchors.js";
export {
  FileTrustStore,
  type FileTrustStoreOptions,
  type FirstVerification,
  hasVerificationRecords,
  MemoryTrustStore,
  type PinOptions,
  parseTrustFile,
  type StoredAttempts,
  type TrustEntry,
  type TrustFile,
  type TrustMethod,
  type TrustState,
  type TrustStore,
  TrustStoreError,
  type VerificationRecords,
} from "./trust-store.js";
export {
  assertNotChanged,
  type ChannelAuth,
  checkPresentedCertificate,
  type PeerIdentity,
  type PeerTrust,
  type PresentedCertificate,
  type VerifyInput,
  verifyPeerCertificate,
  type X509Auth,
} from "./verify.js";
