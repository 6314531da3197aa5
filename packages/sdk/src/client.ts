// The client a host app embeds: verified checks, downloads and atomic installs (docs/protocol.md).
import type {
  Clock,
  Ed25519Verify,
  HttpClient,
  Inflate,
  PatchDecoder,
  RandomBytes,
  Sha256,
  Sleep,
  StoredFile,
  Timer,
  UpdraftStorage,
} from "./adapters.ts";
import { type CheckAnswer, type CheckResult, checkAnswer, parseAnswer, type UpdateResult } from "./answer.ts";
import { fromBase64url, toBase64url, toHex, utf8Decode, utf8Encode } from "./bytes.ts";
import {
  type KeysetPayload,
  type ManifestFile,
  manifestText,
  parseManifest,
  type ServiceKey,
  type SignedKeyset,
} from "./canonical.ts";
import {
  DEFAULT_PATCH_DECODERS,
  fetchHttp,
  fflateInflate,
  nobleEd25519Verify,
  nobleSha256,
  platformRandom,
  platformTimer,
  systemClock,
  timerSleep,
} from "./defaults.ts";
import { type DownloadContext, downloadManifest, downloadPackage, httpError, partialBlobName } from "./download.ts";
import { UpdraftError, VERSION_FAILURE_CODES } from "./errors.ts";
import {
  createEventQueue,
  type EventOptions,
  type EventStats,
  type EventType,
  eventErrorCode,
  eventOptions,
} from "./events.ts";
import {
  keysetSuccession,
  type PinnedKey,
  pinKeys,
  revokedAfter,
  type VerifiedKeyset,
  verifyKeyset,
} from "./keyset.ts";
import { applyPatch, PATCH_FORMAT } from "./patch.ts";
import { verifyPublisherSignature } from "./publisher.ts";
import { DEFAULT_RETRY, type RetryPolicy, readBody, sendWithRetry } from "./retry.ts";
import { compareVersions } from "./semver.ts";
import { isSafePath, unpackVerified, verifyFiles } from "./unpack.ts";

/** Device fields sent with every check (docs/protocol.md §1.1); all optional. */
export interface DeviceInfo {
  userId?: string | null;
  appVersion?: string | null;
  platform?: string | null;
  osVersion?: string | null;
  brand?: string | null;
  model?: string | null;
  network?: string | null;
  language?: string | null;
  attributes?: Record<string, string>;
}

/** A version shipped inside the host app (installed outside the SDK): it has sequence 0. */
export interface BundledVersion {
  version: string;
  /** sha256 of its package, when the app knows it. */
  sha256?: string | null;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The service's base URL, e.g. `https://updraft.example.com` (checks go to `/v1/check`). */
  baseUrl: string;
  appId: string;
  env: string;
  /** Stable per installation, resettable by the user (never a hardware id). */
  deviceId: string;
  /** Device fields for targeting; a function is read at every check (the network may change). */
  device?: DeviceInfo | (() => DeviceInfo);
  /** Pinned root public keys (base64url raw 32 bytes): the only keys that can vouch for service keys. */
  rootKeys: readonly string[];
  /** Distinct pinned root keys that must sign a key set. Default 1. */
  rootThreshold?: number;
  /** A signed key set bundled with the app, trusted (once verified) until a newer one is fetched. */
  initialKeyset?: SignedKeyset;
  /**
   * Pinned publisher public keys (base64url raw 32 bytes); never fetched from the service. A list
   * trusts every key for every mini program; a map (mini program key → keys) trusts each key only
   * for the mini programs it lists, so one publisher cannot sign another's (a mini program the map
   * does not name has no trusted key).
   */
  publisherKeys: readonly string[] | Readonly<Record<string, readonly string[]>>;
  /** Install results without a publisher signature (development only). Default false. */
  allowUnsigned?: boolean;
  /** Versions shipped with the app, by mini program key; used while the SDK installed none. */
  bundled?: Readonly<Record<string, BundledVersion>>;
  storage: UpdraftStorage;
  /** Default: the platform's fetch ({@link fetchHttp}). */
  http?: HttpClient;
  /** Default: @noble/ed25519. */
  ed25519?: Ed25519Verify;
  /** Default: @noble/hashes. */
  sha256?: Sha256;
  /** Default: fflate. */
  inflate?: Inflate;
  /** Default: crypto.getRandomValues; `NO_RANDOM_SOURCE` from createClient when the platform has none. */
  random?: RandomBytes;
  /** Default: Date.now. */
  clock?: Clock;
  /** Default: setTimeout. */
  sleep?: Sleep;
  /** Schedules event sends. Default: setTimeout, unref'd on Node ({@link platformTimer}). */
  timer?: Timer;
  /** Backoff jitter source in [0, 1). Default Math.random (jitter needs no secrecy). */
  jitter?: () => number;
  /** Patch decoders present; their formats are sent as `patchFormats`. Default: the pure-JavaScript `zstdJsDecoder`. */
  patchDecoders?: readonly PatchDecoder[];
  /** Tolerated difference between the local clock and the service's. Default 60 s. */
  clockSkewMs?: number;
  /** A trusted key set older than this is refreshed before the next check. Default 1 h. */
  keysetRefreshMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Told about failures the client worked around (a key set refresh that failed while the trusted one is still valid). */
  onWarning?: (error: UpdraftError) => void;
  /** Device events sent to `POST /v1/events` (docs/sdk.md, "Device events"). On by default. */
  events?: EventOptions;
}

/** How a launch of the installed version went, for {@link UpdraftClient.reportLaunch}. */
export interface LaunchOutcome {
  ok: boolean;
  /** For a failed launch: a short code, sent upper-cased with anything but `[A-Z0-9_]` as `_` (64 at most). */
  errorCode?: string | null;
}

/** The installed version of a mini program. */
export interface InstalledVersion {
  id: string;
  version: string;
  /** The release's sequence; 0 for a version bundled with the app. */
  sequence: number;
  /** sha256 of the package, when known. */
  sha256: string | null;
  /** null for a bundled version. */
  releaseId: string | null;
  manifestSha256: string | null;
  /** The storage file set holding its files; null for a bundled version (the app has the files). */
  fileSet: string | null;
  installedAt: number | null;
  bundled: boolean;
  /** How the files arrived: the full package, or an incremental patch; absent for bundled versions. */
  via?: "package" | "patch";
}

/** What {@link UpdraftClient.update} did. */
export type UpdateOutcome =
  | { action: "none"; installed: InstalledVersion | null }
  | { action: "removed"; installed: null }
  | { action: "update" | "rollback"; installed: InstalledVersion; result: UpdateResult };

/** The client. Every method refuses what it cannot verify and then leaves the installed state as it was. */
export interface UpdraftClient {
  /**
   * Asks the service about `ids` (default: every mini program installed or bundled) and returns the
   * verified answer: signature by a trusted service key (fetching `GET /v1/keys` when needed), fresh,
   * for this request (nonce, app, env, device), one result per id in order. Installs nothing.
   */
  check(ids?: readonly string[]): Promise<CheckAnswer>;
  /**
   * Downloads, verifies and installs an `update`/`rollback` result of this client's `check`:
   * downgrade rule, publisher signature, manifest, package size and sha256, every file; then stages
   * the files and switches the installed-version record. On a verification failure the version is
   * recorded as failed (sent in `failed` by later checks) and nothing else changes.
   */
  install(result: UpdateResult): Promise<InstalledVersion>;
  /**
   * Checks one mini program and applies the answer whatever its update mode (use
   * {@link updateModePolicy} to decide when to call this): installs an update or rollback, or
   * uninstalls a verified `removed`.
   */
  update(id: string): Promise<UpdateOutcome>;
  /** The installed version (by the SDK, else bundled), or null. */
  installed(id: string): Promise<InstalledVersion | null>;
  /** A file of the installed version (SDK-installed only), or null. */
  readFile(id: string, path: string): Promise<Uint8Array | null>;
  /** Versions recorded as failed for `id`, sent in `failed` with its next checks. */
  failedVersions(id: string): Promise<string[]>;
  /** Records that `version` failed (e.g. to launch); later checks send it in `failed`. */
  reportFailure(id: string, version: string): Promise<void>;
  /**
   * Queues a `launch_ok` or `launch_failed` event for the version of `id` the SDK installed (its
   * version and releaseId). Resolves false, queuing nothing, when events are off or no SDK-installed
   * version is there (none, or a bundled one: it has no releaseId). Never throws. It records no
   * failed version: call {@link reportFailure} too for a version that must not be offered again.
   */
  reportLaunch(id: string, outcome: LaunchOutcome): Promise<boolean>;
  /**
   * Sends the queued device events now, in batches of at most 100; resolves once all are sent, or
   * when a send failed and the queue backed off (the events stay queued; a timer tries again). While
   * backed off (after a 429's Retry-After, or a 5xx or network failure) it sends nothing. Never throws.
   */
  flushEvents(): Promise<void>;
  /** The event queue: events queued, dropped unsent so far, and when a backed-off send is tried again. */
  eventStats(): Promise<EventStats>;
  /** Fetches `GET /v1/keys` now and returns the trusted key set (throws the `KEYSET_*` reason). */
  refreshKeys(): Promise<KeysetPayload>;
  /**
   * Deletes file sets no installed version uses (replaced versions, interrupted installs). Call it
   * when no mini program is open (at launch): an async update leaves the open version's files in place.
   */
  cleanup(): Promise<void>;
}

const KEYSET_RECORD = "keyset";
// Device events are kept in the record "events" (events.ts).
const INSTALLED = "installed/";
const FAILED = "failed/";
/** The manifest text of a stored file set (what a patch's base stream is built from). */
const MANIFEST = "manifest/";
/** sha256 of patches that failed to apply here, per mini program: never tried again. */
const FAILED_PATCHES = "failed-patches/";
const MAX_FAILED_PATCHES = 20;
/** Patch failures after which the same patch is tried again at a later install. */
const TRANSIENT_PATCH_FAILURES: ReadonlySet<string> = new Set([
  "NETWORK_ERROR",
  "DOWNLOAD_INCOMPLETE",
  "HTTP_ERROR",
  "STORAGE_ERROR",
]);
/** The service keeps at most 50 failed versions per mini program (docs/protocol.md §1.1). */
const MAX_FAILED = 50;
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;
const MAX_KEYS_BYTES = 1024 * 1024;

interface StoredKeyset {
  payload: string;
  signatures: SignedKeyset["signatures"];
  /** When it was last fetched (or confirmed) from the service; 0 for a bundled one. */
  checkedAt: number;
  revoked: string[];
}

interface Trust {
  verified: VerifiedKeyset;
  checkedAt: number;
  revoked: string[];
}

interface Pins {
  roots: Map<string, PinnedKey>;
  /** Keys trusted for every mini program (the list form), or per mini program key (the map form). */
  publishers: Map<string, PinnedKey> | Map<string, Map<string, PinnedKey>>;
}

/** A removed mini program's record: nothing installed, and the bundled version no longer counts. */
interface RemovedRecord {
  removed: true;
}

/**
 * A client for one host app, environment and device. See {@link ClientOptions}; the adapters default
 * to pure JavaScript (any engine), the storage has no default (`memoryStorage()`, or `fileStorage(dir)`
 * from `@updraft/sdk/node`).
 */
export function createClient(options: ClientOptions): UpdraftClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/i.test(base)) {
    throw new UpdraftError("INVALID_OPTIONS", "baseUrl must be an absolute http(s) URL.");
  }
  for (const field of ["appId", "env", "deviceId"] as const) {
    if (typeof options[field] !== "string" || options[field] === "") {
      throw new UpdraftError("INVALID_OPTIONS", `${field} must be a non-empty string.`);
    }
  }
  const threshold = options.rootThreshold ?? 1;
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > new Set(options.rootKeys).size) {
    throw new UpdraftError("INVALID_OPTIONS", "rootThreshold must be between 1 and the number of root keys.");
  }
  const storage = options.storage;
  const verify = options.ed25519 ?? nobleEd25519Verify;
  const sha256 = options.sha256 ?? nobleSha256;
  const inflate = options.inflate ?? fflateInflate;
  const random = options.random ?? platformRandom();
  const now = options.clock ?? systemClock;
  const skewMs = options.clockSkewMs ?? 60_000;
  const refreshMs = options.keysetRefreshMs ?? 60 * 60 * 1000;
  const allowUnsigned = options.allowUnsigned ?? false;
  const patchDecoders = options.patchDecoders ?? DEFAULT_PATCH_DECODERS;
  const patchFormats = patchDecoders.map((d) => d.format);
  // What the service accepts (docs/protocol.md §1.1): anything else would fail every check with a 400.
  if (
    patchFormats.length > 8 ||
    new Set(patchFormats).size !== patchFormats.length ||
    patchFormats.some((f) => typeof f !== "string" || f.length < 1 || f.length > 32)
  ) {
    throw new UpdraftError("INVALID_OPTIONS", "patchDecoders: at most 8 distinct formats of 1 to 32 characters.");
  }
  // The SDK reads one patch container; a decoder for another format could never be used.
  if (patchFormats.some((f) => f !== PATCH_FORMAT)) {
    throw new UpdraftError("INVALID_OPTIONS", `patchDecoders: this SDK applies ${PATCH_FORMAT} patches only.`);
  }
  const ctx: DownloadContext = {
    http: options.http ?? fetchHttp(),
    sleep: options.sleep ?? timerSleep,
    now,
    jitter: options.jitter ?? Math.random,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    storage,
    sha256,
  };
  const warn = (error: unknown) => {
    if (error instanceof UpdraftError) options.onWarning?.(error);
  };
  const events = createEventQueue({
    url: `${base}/v1/events`,
    header: { appId: options.appId, env: options.env, deviceId: options.deviceId },
    options: eventOptions(options.events),
    storage,
    http: ctx.http,
    random,
    now,
    jitter: ctx.jitter,
    timer: options.timer ?? platformTimer,
    skewMs,
    warn,
  });
  /** Queues an event about the version a result offers (best effort: never throws). */
  const emit = (type: EventType, result: UpdateResult, errorCode: string | null = null) =>
    events.add({ type, miniProgram: result.id, version: result.version, releaseId: result.releaseId, errorCode });
  /** The event error code of a failure: its UpdraftError code, else `UNKNOWN`. */
  const failureCode = (error: unknown) => eventErrorCode(error instanceof UpdraftError ? error.code : "UNKNOWN");
  /** Results this client verified (and froze): the only ones `install` accepts. */
  /** Results of this client's verified answers, with their answer's expiry. */
  const verifiedResults = new WeakMap<object, number>();
  const locks = new Map<string, Promise<unknown>>();
  /** Staging a file set and switching to it, and cleanup, run one at a time (cleanup never sees a half-done install). */
  let fileSetQueue: Promise<unknown> = Promise.resolve();
  const fileSetsLocked = <T>(work: () => Promise<T>): Promise<T> => {
    const run = fileSetQueue.then(work, work);
    fileSetQueue = run.catch(() => undefined);
    return run;
  };

  async function pinPublishers(keys: ClientOptions["publisherKeys"]): Promise<Pins["publishers"]> {
    if (Array.isArray(keys)) return pinKeys(keys as readonly string[], sha256, "publisher");
    const byMiniProgram = new Map<string, Map<string, PinnedKey>>();
    for (const [id, list] of Object.entries(keys as Readonly<Record<string, readonly string[]>>)) {
      byMiniProgram.set(id, await pinKeys(list, sha256, "publisher"));
    }
    return byMiniProgram;
  }

  /** The publisher keys trusted for mini program `id`. */
  function publishersFor(pinned: Pins["publishers"], id: string): Map<string, PinnedKey> {
    if (Array.isArray(options.publisherKeys)) return pinned as Map<string, PinnedKey>;
    return (pinned as Map<string, Map<string, PinnedKey>>).get(id) ?? new Map();
  }

  let pinsPromise: Promise<Pins> | null = null;
  const pins = () => {
    pinsPromise ??= (async () => ({
      roots: await pinKeys(options.rootKeys, sha256, "root"),
      publishers: await pinPublishers(options.publisherKeys),
    }))();
    return pinsPromise;
  };

  // ---- key sets -------------------------------------------------------------------------------

  let trust: Trust | null = null;
  let trustLoaded = false;

  async function loadTrust(): Promise<Trust | null> {
    if (trustLoaded) return trust;
    const { roots } = await pins();
    const stored = parseStored(await storage.get(KEYSET_RECORD));
    let best: Trust | null = null;
    if (stored !== null) {
      // Storage is re-verified: a corrupted (or edited) record is no key set at all.
      try {
        best = {
          verified: await verifyKeyset(stored, roots, threshold, verify),
          checkedAt: stored.checkedAt,
          revoked: stored.revoked,
        };
      } catch (error) {
        warn(error);
      }
    }
    if (options.initialKeyset !== undefined) {
      const bundled = await verifyKeyset(options.initialKeyset, roots, threshold, verify);
      if (best === null || bundled.payload.version > best.verified.payload.version) {
        best = {
          verified: bundled,
          checkedAt: 0,
          revoked: revokedAfter(best?.verified.payload ?? null, best?.revoked ?? [], bundled.payload),
        };
      }
    }
    trust = best;
    trustLoaded = true;
    return trust;
  }

  function parseStored(text: string | null): StoredKeyset | null {
    if (text === null) return null;
    try {
      const v = JSON.parse(text) as StoredKeyset;
      return typeof v.checkedAt === "number" && Array.isArray(v.revoked) ? v : null;
    } catch {
      return null;
    }
  }

  // Refreshes run one at a time: each compares what it fetched with the set the one before it
  // stored, so two at once (a fresh set and a stale one from a lagging edge) never go back.
  let keysetTurn: Promise<unknown> = Promise.resolve();
  function refreshKeyset(): Promise<Trust> {
    const run = keysetTurn.then(refreshKeysetNow, refreshKeysetNow);
    keysetTurn = run.catch(() => undefined);
    return run;
  }

  /** Fetches GET /v1/keys and makes it the trusted set when it may follow the current one. */
  async function refreshKeysetNow(): Promise<Trust> {
    const current = await loadTrust();
    const { roots } = await pins();
    const body = await sendWithRetry(
      ctx,
      () => ({ method: "GET", url: `${base}/v1/keys`, headers: { accept: "application/json" } }),
      async (res) => {
        if (res.status !== 200) throw await httpError(res, "Fetching the key set");
        return readBody(res, MAX_KEYS_BYTES, "The key set");
      },
    );
    const text = utf8Decode(body);
    let keyset: unknown;
    try {
      keyset = text === null ? undefined : (JSON.parse(text) as { keyset?: unknown }).keyset;
    } catch {
      keyset = undefined;
    }
    if (keyset === null || keyset === undefined) {
      throw new UpdraftError("KEYSET_INVALID", "The service publishes no signed key set.");
    }
    const candidate = await verifyKeyset(keyset, roots, threshold, verify);
    const step = keysetSuccession(
      current === null ? null : { payload: current.verified.signed.payload, version: current.verified.payload.version },
      candidate,
    );
    const at = now();
    if (candidate.payload.expiresAt !== null && at > candidate.payload.expiresAt + skewMs) {
      throw new UpdraftError("KEYSET_EXPIRED", `The service's key set expired at ${candidate.payload.expiresAt}.`);
    }
    const next: Trust =
      step === "same" && current !== null
        ? { ...current, checkedAt: at }
        : {
            verified: candidate,
            checkedAt: at,
            revoked: revokedAfter(current?.verified.payload ?? null, current?.revoked ?? [], candidate.payload),
          };
    const record: StoredKeyset = {
      payload: next.verified.signed.payload,
      signatures: next.verified.signed.signatures,
      checkedAt: next.checkedAt,
      revoked: next.revoked,
    };
    await storage.set(KEYSET_RECORD, JSON.stringify(record));
    trust = next;
    return next;
  }

  const expired = (t: Trust, at: number) =>
    t.verified.payload.expiresAt !== null && at > t.verified.payload.expiresAt + skewMs;

  /** The trusted key set before a check: fetched when missing, expired, or older than the refresh interval. */
  async function freshTrust(): Promise<Trust> {
    const current = await loadTrust();
    const at = now();
    if (current === null) return refreshKeyset();
    if (expired(current, at)) {
      try {
        return await refreshKeyset();
      } catch (error) {
        throw new UpdraftError("KEYSET_EXPIRED", "The trusted key set expired and no newer one could be fetched.", {
          cause: error,
        });
      }
    }
    // Also when the set was confirmed "in the future" (a clock that was set ahead and fixed since).
    if (at - current.checkedAt > refreshMs || current.checkedAt > at) {
      try {
        return await refreshKeyset();
      } catch (error) {
        warn(error);
      }
    }
    return current;
  }

  const findKey = (t: Trust, keyId: string): ServiceKey | undefined =>
    t.verified.payload.keys.find((k) => k.keyId === keyId);

  // ---- state ----------------------------------------------------------------------------------

  async function readInstalled(id: string): Promise<InstalledVersion | RemovedRecord | null> {
    const text = await storage.get(INSTALLED + id);
    if (text === null) return null;
    try {
      return JSON.parse(text) as InstalledVersion | RemovedRecord;
    } catch (error) {
      throw new UpdraftError("STORAGE_ERROR", `The installed-version record of ${id} is unreadable.`, { cause: error });
    }
  }

  async function installed(id: string): Promise<InstalledVersion | null> {
    const record = await readInstalled(id);
    if (record !== null) return "removed" in record ? null : record;
    const bundled = options.bundled && Object.hasOwn(options.bundled, id) ? options.bundled[id] : undefined;
    if (bundled === undefined) return null;
    return {
      id,
      version: bundled.version,
      sequence: 0,
      sha256: bundled.sha256 ?? null,
      releaseId: null,
      manifestSha256: null,
      fileSet: null,
      installedAt: null,
      bundled: true,
    };
  }

  async function failedVersions(id: string): Promise<string[]> {
    const text = await storage.get(FAILED + id);
    if (text === null) return [];
    try {
      const list = JSON.parse(text) as unknown;
      return Array.isArray(list) ? list.filter((v): v is string => typeof v === "string") : [];
    } catch {
      return [];
    }
  }

  async function reportFailure(id: string, version: string): Promise<void> {
    const list = (await failedVersions(id)).filter((v) => v !== version);
    list.push(version);
    await storage.set(FAILED + id, JSON.stringify(list.slice(-MAX_FAILED)));
  }

  /** Runs `work` after every earlier locked work on `id`: one install per mini program at a time. */
  function locked<T>(id: string, work: () => Promise<T>, held = locks): Promise<T> {
    const before = held.get(id) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => undefined);
    held.set(id, tail);
    void tail.then(() => {
      if (held.get(id) === tail) held.delete(id);
    });
    return run;
  }
  /** Downloads of one package take turns: two mini programs with the same bytes share its partial file. */
  const downloads = new Map<string, Promise<unknown>>();

  // ---- check ----------------------------------------------------------------------------------

  async function check(ids?: readonly string[]): Promise<CheckAnswer> {
    const asked = ids === undefined ? await knownIds() : [...ids];
    if (asked.length === 0 || asked.length > 200) {
      throw new UpdraftError("INVALID_OPTIONS", "A check asks about 1 to 200 mini programs.");
    }
    if (new Set(asked).size !== asked.length)
      throw new UpdraftError("INVALID_OPTIONS", "A check names a mini program twice.");
    const miniPrograms = await Promise.all(
      asked.map(async (id) => {
        const inst = await installed(id);
        return {
          id,
          version: inst?.version ?? null,
          sha256: inst?.sha256 ?? null,
          // The service offers a rollback only when it is newer than this (the SDK refuses others).
          ...(inst ? { sequence: inst.sequence } : {}),
          failed: (await failedVersions(id)).slice(-MAX_FAILED),
        };
      }),
    );
    const nonce = toBase64url(random(16));
    const device = typeof options.device === "function" ? options.device() : (options.device ?? {});
    const body: Record<string, unknown> = {
      appId: options.appId,
      env: options.env,
      deviceId: options.deviceId,
    };
    for (const [k, v] of Object.entries(device)) if (v !== undefined && v !== null) body[k] = v;
    body.nonce = nonce;
    body.patchFormats = patchFormats;
    body.miniPrograms = miniPrograms;
    const requestBody = utf8Encode(JSON.stringify(body));

    let current = await freshTrust();
    const response = await sendWithRetry(
      ctx,
      () => ({
        method: "POST",
        url: `${base}/v1/check`,
        headers: { "content-type": "application/json", accept: "application/json" },
        body: requestBody,
      }),
      async (res) => {
        if (res.status !== 200) throw await httpError(res, "The check");
        return {
          bytes: await readBody(res, MAX_ANSWER_BYTES, "The answer"),
          signature: res.header("updraft-signature"),
          keyId: res.header("updraft-key-id"),
        };
      },
    );

    // The key that signed: named by the header (or, lacking it, by the unverified body: it only
    // selects the key to try, and must match the verified body afterwards).
    const keyId = response.keyId ?? peekKeyId(response.bytes);
    if (keyId === null) throw new UpdraftError("SIGNATURE_INVALID", "The answer names no signing key.");
    let refreshed = false;
    let key = findKey(current, keyId);
    if (key === undefined) {
      try {
        current = await refreshKeyset();
        refreshed = true;
      } catch (error) {
        warn(error);
      }
      key = findKey(current, keyId);
      if (key === undefined) {
        throw current.revoked.includes(keyId)
          ? new UpdraftError("KEY_REVOKED", `Key ${keyId} was dropped by a newer key set.`)
          : new UpdraftError("KEY_UNKNOWN", `Key ${keyId} is in no trusted key set.`);
      }
    }
    const signature = response.signature === null ? null : fromBase64url(response.signature);
    if (signature === null || signature.length !== 64) {
      throw new UpdraftError("SIGNATURE_INVALID", "The answer carries no valid Updraft-Signature.");
    }
    const publicKey = fromBase64url(key.publicKey);
    if (publicKey === null || !(await verify(signature, response.bytes, publicKey))) {
      throw new UpdraftError("SIGNATURE_INVALID", `The answer's signature does not verify with key ${keyId}.`);
    }
    const text = utf8Decode(response.bytes);
    if (text === null) throw new UpdraftError("MALFORMED_ANSWER", "The answer is not UTF-8.");
    const answer = parseAnswer(text);
    if (answer.keyId !== keyId)
      throw new UpdraftError("SIGNATURE_INVALID", "The answer names another key than its signer.");
    // The service publishes a newer key set: fetch it first, the signing key may be gone from it.
    if (answer.keysetVersion !== null && answer.keysetVersion > current.verified.payload.version && !refreshed) {
      try {
        current = await refreshKeyset();
      } catch (error) {
        warn(error);
      }
      key = findKey(current, keyId);
      if (key === undefined) throw new UpdraftError("KEY_REVOKED", `Key ${keyId} was dropped by a newer key set.`);
    }
    checkAnswer(
      answer,
      key,
      { appId: options.appId, env: options.env, deviceId: options.deviceId, nonce, ids: asked },
      now(),
      skewMs,
    );
    for (const r of answer.results) {
      deepFreeze(r);
      verifiedResults.set(r, answer.expiresAt);
    }
    return Object.freeze({ ...answer, results: Object.freeze([...answer.results]) });
  }

  async function knownIds(): Promise<string[]> {
    const ids = new Set<string>();
    for (const id of Object.keys(options.bundled ?? {})) ids.add(id);
    for (const key of await storage.keys(INSTALLED)) ids.add(key.slice(INSTALLED.length));
    const out: string[] = [];
    for (const id of ids) if ((await installed(id)) !== null) out.push(id);
    return out;
  }

  // ---- install --------------------------------------------------------------------------------

  async function install(result: UpdateResult): Promise<InstalledVersion> {
    const expiresAt = verifiedResults.get(result);
    if (expiresAt === undefined || (result.action !== "update" && result.action !== "rollback")) {
      throw new UpdraftError("NOT_VERIFIED", "install takes an update or rollback result of this client's check.");
    }
    // A result kept past its answer's lifetime may be one the service has since withdrawn: check again.
    if (now() > expiresAt + skewMs) {
      throw new UpdraftError("ANSWER_EXPIRED", "The result's answer has expired: check again before installing.");
    }
    return locked(result.id, async () => {
      const id = result.id;
      const current = await installed(id);
      if (current !== null && current.version === result.version && current.sha256 === result.package.sha256) {
        return current;
      }
      let files: { path: string; bytes: Uint8Array }[];
      let manifestBody: string;
      let via: "package" | "patch" = "package";
      // Every attempt reports one download event, then (once downloaded) one install event: a
      // failure before the bytes are in and match what was signed (a refusal before any transfer
      // included) is download_failed, the attempt the service's failure rate counts.
      let downloaded = false;
      try {
        refuseDowngrade(current, result);
        const { publishers } = await pins();
        await verifyPublisherSignature(result, publishersFor(publishers, id), allowUnsigned, verify);
        const { manifestUrl, manifestSha256 } = result.package;
        if (manifestUrl === null || manifestSha256 === null) {
          throw new UpdraftError("MANIFEST_MISSING", `Version ${result.version} of ${id} names no manifest.`);
        }
        const manifest = await downloadManifest(ctx, manifestUrl, manifestSha256);
        if (!manifest.every((f) => isSafePath(f.path))) {
          throw new UpdraftError("PACKAGE_INVALID", "The manifest names an unsafe path.");
        }
        manifestBody = manifestText(manifest);
        const patched = await patchedFiles(result, manifest, current);
        if (patched !== null) {
          files = patched;
          via = "patch";
          downloaded = true;
          await emit("download_ok", result);
        } else {
          const zip = await locked(result.package.sha256, () => downloadPackage(ctx, result.package), downloads);
          downloaded = true;
          await emit("download_ok", result);
          files = await unpackVerified(zip, manifest, inflate, sha256);
        }
      } catch (error) {
        if (error instanceof UpdraftError && VERSION_FAILURE_CODES.has(error.code)) {
          await reportFailure(id, result.version).catch(warn);
        }
        await emit(downloaded ? "install_failed" : "download_failed", result, failureCode(error));
        throw error;
      }
      const fileSet = `v-${toHex(random(12))}`;
      const record: InstalledVersion = {
        id,
        version: result.version,
        sequence: result.sequence,
        sha256: result.package.sha256,
        releaseId: result.releaseId,
        manifestSha256: result.package.manifestSha256,
        fileSet,
        installedAt: now(),
        bundled: false,
        via,
      };
      // Stage the files under a new name, then switch the one record that says what is installed.
      await fileSetsLocked(async () => {
        try {
          await storage.writeFileSet(fileSet, files);
        } catch (error) {
          await storage.deleteFileSet(fileSet).catch(() => undefined);
          throw new UpdraftError("STORAGE_ERROR", "The files could not be staged.", { cause: error });
        }
        // Kept for the next install's patch (its base stream is built from these paths and sizes):
        // best effort, since without it the next update only downloads the full package.
        await storage.set(MANIFEST + fileSet, manifestBody).catch(warn);
        try {
          await storage.set(INSTALLED + id, JSON.stringify(record));
        } catch (error) {
          await storage.delete(MANIFEST + fileSet).catch(() => undefined);
          await storage.deleteFileSet(fileSet).catch(() => undefined);
          throw new UpdraftError("STORAGE_ERROR", "The installed version could not be switched.", { cause: error });
        }
      }).catch(async (error: unknown) => {
        await emit("install_failed", result, failureCode(error));
        throw error;
      });
      await emit("install_ok", result);
      // A rollback result moved the device back to this version (the rollback release's releaseId).
      if (result.action === "rollback") await emit("rolled_back", result);
      // Installed: the failed list starts over, the partial download is done with.
      await storage.delete(FAILED + id).catch(() => undefined);
      await storage.deleteBlob(partialBlobName(result.package.sha256)).catch(() => undefined);
      if (result.patch !== null) await storage.deleteBlob(partialBlobName(result.patch.sha256)).catch(() => undefined);
      return record;
    });
  }

  /**
   * The target's files from the result's patch, applied to the installed version's files and checked
   * one by one against the (signed) target manifest; null when there is no usable patch: none
   * offered, no decoder for its format, not for the installed package, or one that already failed
   * here. A patch that fails to download, apply or verify is reported (onWarning, PATCH_FAILED) and
   * null is returned: the caller downloads the package. Unless it could not be fetched or stored
   * (TRANSIENT_PATCH_FAILURES), it is remembered and not tried again.
   */
  async function patchedFiles(
    result: UpdateResult,
    manifest: readonly ManifestFile[],
    current: InstalledVersion | null,
  ): Promise<StoredFile[] | null> {
    const patch = result.patch;
    if (patch === null || result.package.manifestSha256 === null) return null;
    const decoder = patchDecoders.find((d) => d.format === patch.format);
    if (decoder === undefined || patch.format !== PATCH_FORMAT) return null;
    if (current === null || current.fileSet === null || current.sha256 !== patch.baseSha256) return null;
    if (current.manifestSha256 === null) return null;
    try {
      if ((await failedPatches(result.id)).includes(patch.sha256)) return null;
      const text = await storage.get(MANIFEST + current.fileSet);
      const baseManifest = text === null ? null : parseManifest(text);
      if (text === null || baseManifest === null || toHex(await sha256(utf8Encode(text))) !== current.manifestSha256) {
        return null; // installed before manifests were kept: nothing to build the base from
      }
      const baseFiles: StoredFile[] = [];
      for (const f of baseManifest) {
        const bytes = await storage.readFile(current.fileSet, f.path);
        if (bytes === null) throw new UpdraftError("PATCH_FAILED", `The installed file ${f.path} is missing.`);
        baseFiles.push({ path: f.path, bytes });
      }
      const ref = { url: patch.url, sha256: patch.sha256, size: patch.size, manifestUrl: null, manifestSha256: null };
      const bytes = await locked(patch.sha256, () => downloadPackage(ctx, ref), downloads);
      // The signed answer names this patch (its sha256, checked by the download) for exactly this
      // base and target; every file is then checked against the target's signed manifest.
      const files = await applyPatch(bytes, baseFiles, manifest, (frame, dict, size) =>
        decoder.decompress(frame, dict, size),
      );
      await verifyFiles(files, manifest, sha256);
      return files;
    } catch (error) {
      const cause = error instanceof UpdraftError ? `${error.code}: ${error.message}` : String(error);
      warn(
        new UpdraftError(
          "PATCH_FAILED",
          `The patch to ${result.id} ${result.version} failed (${cause}); downloading the package.`,
          {
            cause: error,
          },
        ),
      );
      // A patch that could not be fetched or stored (network, HTTP, storage) may work at a later
      // install; any other failure is the patch's or the installed files' own: never tried again here.
      const transient = error instanceof UpdraftError && TRANSIENT_PATCH_FAILURES.has(error.code);
      if (!transient) {
        const list = (await failedPatches(result.id).catch(() => [] as string[])).filter((s) => s !== patch.sha256);
        list.push(patch.sha256);
        await storage.set(FAILED_PATCHES + result.id, JSON.stringify(list.slice(-MAX_FAILED_PATCHES))).catch(warn);
        await storage.deleteBlob(partialBlobName(patch.sha256)).catch(() => undefined);
      }
      return null;
    }
  }

  async function failedPatches(id: string): Promise<string[]> {
    const text = await storage.get(FAILED_PATCHES + id);
    try {
      const list = text === null ? [] : (JSON.parse(text) as unknown);
      return Array.isArray(list) ? list.filter((v): v is string => typeof v === "string") : [];
    } catch {
      return [];
    }
  }

  async function uninstall(id: string): Promise<void> {
    await locked(id, async () => {
      const record = await readInstalled(id);
      const removed: RemovedRecord = { removed: true };
      await storage.set(INSTALLED + id, JSON.stringify(removed));
      await storage.delete(FAILED + id).catch(() => undefined);
      if (record !== null && !("removed" in record) && record.fileSet !== null) {
        await storage.deleteFileSet(record.fileSet).catch(() => undefined);
      }
    });
  }

  async function update(id: string): Promise<UpdateOutcome> {
    const answer = await check([id]);
    const result = answer.results[0] as CheckResult;
    if (result.action === "none") return { action: "none", installed: await installed(id) };
    if (result.action === "removed") {
      await uninstall(id);
      return { action: "removed", installed: null };
    }
    return { action: result.action, installed: await install(result), result };
  }

  async function readFile(id: string, path: string): Promise<Uint8Array | null> {
    const inst = await installed(id);
    if (inst?.fileSet == null || !isSafePath(path)) return null;
    return storage.readFile(inst.fileSet, path);
  }

  async function refreshKeys(): Promise<KeysetPayload> {
    return (await refreshKeyset()).verified.payload;
  }

  function cleanup(): Promise<void> {
    return fileSetsLocked(async () => {
      const used = new Set<string>();
      for (const key of await storage.keys(INSTALLED)) {
        const record = await readInstalled(key.slice(INSTALLED.length));
        if (record !== null && !("removed" in record) && record.fileSet !== null) used.add(record.fileSet);
      }
      for (const set of await storage.listFileSets()) {
        if (used.has(set)) continue;
        await storage.deleteFileSet(set);
        await storage.delete(MANIFEST + set);
      }
      for (const key of await storage.keys(MANIFEST)) {
        if (!used.has(key.slice(MANIFEST.length))) await storage.delete(key);
      }
    });
  }

  async function reportLaunch(id: string, outcome: LaunchOutcome): Promise<boolean> {
    try {
      const inst = await installed(id);
      if (inst === null || inst.bundled || typeof inst.releaseId !== "string") return false;
      const ok = outcome?.ok === true;
      return await events.add({
        type: ok ? "launch_ok" : "launch_failed",
        miniProgram: id,
        version: inst.version,
        releaseId: inst.releaseId,
        errorCode: ok ? null : eventErrorCode(outcome?.errorCode),
      });
    } catch (error) {
      warn(error);
      return false;
    }
  }

  return {
    check,
    install,
    update,
    installed,
    readFile,
    failedVersions,
    reportFailure,
    reportLaunch,
    flushEvents: events.flush,
    eventStats: events.stats,
    refreshKeys,
    cleanup,
  };
}

/**
 * The downgrade rule: a version lower than the installed one (or equal with other bytes, or not
 * comparable) is installed only by a `rollback` result whose sequence is above the installed one's.
 * A version bundled with the app has sequence 0.
 */
export function refuseDowngrade(current: InstalledVersion | null, result: UpdateResult): void {
  if (current === null) return;
  const order = compareVersions(result.version, current.version);
  if (order !== null && order > 0) return;
  if (result.action === "rollback" && result.sequence > current.sequence) return;
  throw new UpdraftError(
    "DOWNGRADE_REFUSED",
    `Version ${result.version} of ${result.id} is not above the installed ${current.version}` +
      (result.action === "rollback"
        ? `, and the rollback's sequence ${result.sequence} is not above the installed ${current.sequence}.`
        : ", and the result is no rollback."),
  );
}

function peekKeyId(bytes: Uint8Array): string | null {
  try {
    const keyId = (JSON.parse(utf8Decode(bytes) ?? "") as { keyId?: unknown }).keyId;
    return typeof keyId === "string" ? keyId : null;
  } catch {
    return null;
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
