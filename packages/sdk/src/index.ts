// @updraft/sdk: the client a host app embeds to receive mini program updates from Updraft, verified
// end to end (service signature, key rotation, publisher signature, sizes, hashes, manifest) and
// installed atomically. The core uses no platform API: see adapters.ts. Node storage: "@updraft/sdk/node".

export type {
  Clock,
  Ed25519Verify,
  HttpClient,
  HttpRequest,
  HttpResponse,
  Inflate,
  PatchDecoder,
  RandomBytes,
  Sha256,
  Sleep,
  StoredFile,
  Timer,
  UpdraftStorage,
} from "./adapters.ts";
export {
  type AnswerExpectation,
  type CheckAnswer,
  type CheckResult,
  checkAnswer,
  type NoUpdateResult,
  type PackageRef,
  type PatchRef,
  parseAnswer,
  type UpdateMode,
  type UpdateResult,
} from "./answer.ts";
export { fromBase64url, toBase64url, toHex, utf8Decode, utf8Encode } from "./bytes.ts";
export * from "./canonical.ts";
export {
  type BundledVersion,
  type ClientOptions,
  createClient,
  type DeviceInfo,
  type InstalledVersion,
  type LaunchOutcome,
  refuseDowngrade,
  type UpdateOutcome,
  type UpdraftClient,
} from "./client.ts";
export {
  DEFAULT_PATCH_DECODERS,
  type FetchLike,
  type FetchResponseLike,
  fetchHttp,
  fflateInflate,
  nobleEd25519Verify,
  nobleSha256,
  platformRandom,
  platformTimer,
  systemClock,
  timerSleep,
  zstdJsDecoder,
} from "./defaults.ts";
export { type DownloadContext, downloadManifest, downloadPackage, MAX_MANIFEST_BYTES } from "./download.ts";
export { isUpdraftError, UpdraftError, type UpdraftErrorCode, VERSION_FAILURE_CODES } from "./errors.ts";
export {
  batchBody,
  DEFAULT_EVENT_OPTIONS,
  type DeviceEvent,
  EVENT_LIMITS,
  EVENT_RETRY,
  EVENT_TYPES,
  type EventOptions,
  type EventStats,
  type EventType,
  eventErrorCode,
} from "./events.ts";
export {
  keysetSuccession,
  type PinnedKey,
  pinKeys,
  revokedAfter,
  type VerifiedKeyset,
  verifyKeyset,
} from "./keyset.ts";
export { type MemoryStorage, memoryStorage } from "./memory-storage.ts";
export {
  applyPatch,
  createPatch,
  PATCH_FORMAT,
  PatchError,
  type PatchFile,
  type PatchSegment,
  parsePatch,
  type ZstdCompress,
  type ZstdDecompress,
} from "./patch.ts";
export { verifyPublisherSignature } from "./publisher.ts";
export {
  backoffDelay,
  DEFAULT_RETRY,
  parseRetryAfter,
  type RetryContext,
  type RetryPolicy,
  retryDelay,
  sendWithRetry,
} from "./retry.ts";
export { compareVersions } from "./semver.ts";
export { isSafePath, readZip, unpackVerified, type ZipEntry } from "./unpack.ts";
export {
  defaultHostPolicy,
  type HostUpdatePolicy,
  type UpdateModeContext,
  type UpdateTiming,
  updateModePolicy,
} from "./update-mode.ts";
export { zstdDecompress } from "./zstd-decode.ts";
