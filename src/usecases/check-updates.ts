import { type Decision, decide } from "../domain/decide";
import { buildDeviceProfile, type SdkDeviceFields, userAgentCanFill } from "../domain/device-profile";
import { AppError } from "../domain/errors";
import { couldBeTarget } from "../domain/keys";
import { choosePatch } from "../domain/patch-offer";
import { decidePreview, type PreviewRefusal } from "../domain/preview";
import { signingRefusal } from "../domain/service-keys";
import type { SnapshotMiniProgram, SnapshotPatch, SnapshotRelease } from "../domain/snapshot";
import type { DeviceProfile } from "../domain/targeting/rules";
import { canaryContext, settleAdmission } from "./canary-context";
import type { DeliveryView, Deps } from "./ports";

export interface CheckedMiniProgram {
  id: string;
  version: string | null;
  sha256: string | null;
  failed: string[];
  /** From a test QR code (docs/preview.md); null or absent when not previewing. */
  previewToken?: string | null;
  /** The installed version's release sequence, when the client sends it (0: shipped with the app). */
  sequence?: number | null;
}

/** A device check: who the device is, its attributes (SdkDeviceFields) and what it has installed. */
export interface CheckInput extends SdkDeviceFields {
  appId: string;
  env: string;
  deviceId: string;
  userId: string | null;
  nonce: string | null;
  /** Patch formats the client can apply (reserved for incremental patches; absent: none). */
  patchFormats?: string[];
  miniPrograms: CheckedMiniProgram[];
}

/**
 * Where the request came from, as only the platform can tell: `request.cf` and the User-Agent. Each
 * is read only when it can matter (an asked mini program with geography rules, a profile the UA can
 * fill), so both may be getters. `defer` keeps work alive after the response (waitUntil).
 */
export interface RequestOrigin {
  readonly cf: unknown;
  readonly userAgent: string | null;
  readonly defer?: (work: Promise<unknown>) => void;
}

export type CheckResult =
  | { id: string; action: "none" | "removed" }
  | {
      id: string;
      action: "update" | "rollback";
      version: string;
      releaseId: string;
      /** The release's per-target sequence: a client refuses a lower version unless a rollback carries a newer one. */
      sequence: number;
      updateMode: string;
      package: {
        url: string;
        sha256: string;
        size: number;
        /** Where the canonical manifest text is served and its sha256; null for versions uploaded before it was kept. */
        manifestUrl: string | null;
        manifestSha256: string | null;
      };
      /** An incremental patch from the installed package (docs/patches.md); absent: download `package`. */
      patch?: { url: string; sha256: string; size: number; baseSha256: string; format: string };
      signature: string | null;
      publisherKeyId: string | null;
      config: unknown;
    };

const utf8 = new TextEncoder();
const NONE: readonly string[] = [];

/** How long a signed check answer may be trusted by the client. */
export const CHECK_TTL_MS = 5 * 60 * 1000;

/**
 * Decides every asked mini program for one device from the delivery state only (never the
 * relational store): the asked mini programs' parts (held by the isolate, or fetched: SERVICE_UNAVAILABLE
 * when they cannot be read and no copy is held, since "no update" would be a signed untruth),
 * eligibility, then canary targeting with list shards and time-window admissions fetched as needed.
 * `mode` "lookup" never admits anyone (explain). `view` is null for a target that does not exist.
 */
export async function decideAll(
  deps: Deps,
  input: CheckInput,
  origin: RequestOrigin,
  mode: "admit" | "lookup",
): Promise<{
  view: DeliveryView | null;
  decisions: Decision[];
  /** Per asked mini program that carried a preview token, what became of it (null: none carried one). */
  previews: (PreviewRefusal | "APPLIED" | undefined)[] | null;
  /** The device's profile as targeting saw it. */
  profile: DeviceProfile;
}> {
  // Plain loops on this path: a cold request pays for every builtin it touches (map, forEach, join).
  const asked = input.miniPrograms;
  const mps: (SnapshotMiniProgram | undefined)[] = [];
  for (let i = 0; i < asked.length; i++) mps.push(undefined);
  let view: DeliveryView | null | undefined = null;
  if (couldBeTarget(input.appId, input.env)) {
    view = deps.delivery.peek(input.appId, input.env, asked, mps);
    if (view === undefined) view = await deps.delivery.load(input.appId, input.env, asked, mps, origin.defer);
  }
  const geo = view?.geography ? deps.geoFromCf(origin.cf) : null;
  const device = {
    profile: buildDeviceProfile(input, geo, userAgentCanFill(input) ? deps.parseUserAgent(origin.userAgent) : null),
    ids: { userId: input.userId, deviceId: input.deviceId },
  };
  const prepared = view ? canaryContext(deps, view, mps, device, deps.clock.now()) : null;
  const canary = prepared instanceof Promise ? await prepared : prepared;
  const explain = mode === "lookup";
  // Synchronous for every mini program; only a decision waiting on a time-window admission awaits.
  const decisions: Decision[] = [];
  // Allocated only when a token is present: nearly every device check carries none.
  let previews: (PreviewRefusal | "APPLIED" | undefined)[] | null = null;
  let settling: Promise<void>[] | null = null;
  for (let i = 0; i < asked.length; i++) {
    const m = asked[i] as CheckedMiniProgram;
    const q = { appVersion: input.appVersion, installed: m.version, failed: m.failed, installedSequence: m.sequence };
    const mp = canary ? mps[i] : undefined;
    if (m.previewToken && mp !== undefined) {
      const claims = deps.previews === null ? null : deps.previews.verify(m.previewToken);
      const preview = decidePreview(mp, claims, { ...q, userId: input.userId, now: deps.clock.now() });
      previews ??= [];
      previews[i] = typeof preview === "string" ? preview : "APPLIED";
      if (typeof preview !== "string") {
        decisions.push(preview);
        continue;
      }
    }
    const first = decide(mp, q, canary?.ctx ?? null, explain);
    decisions.push(first);
    if (canary && first.action === "none" && first.pendingAdmission) {
      settling ??= [];
      settling.push(
        settleAdmission(deps, mp, q, canary, mode, first).then((settled) => {
          decisions[i] = settled;
        }),
      );
    }
  }
  if (settling !== null) await Promise.all(settling);
  return { view, decisions, previews, profile: device.profile };
}

// Per release, the JSON every device offered it shares: `"version":…,"releaseId":…,"sequence":…`,
// `"package":…` and `"signature":…,"config":…` (with the package URL of `base`). Serialized once per
// release object (a snapshot's releases live as long as the snapshot) instead of once per answer.
const fragments = new WeakMap<SnapshotRelease, { base: string; head: string; pkg: string; tail: string }>();

function fragmentsOf(release: SnapshotRelease, base: string): { head: string; pkg: string; tail: string } {
  let f = fragments.get(release);
  if (f === undefined || f.base !== base) {
    const head = JSON.stringify({ version: release.version, releaseId: release.releaseId, sequence: release.seq });
    const { sha256, size } = release.package;
    const manifestSha256 = release.package.manifestSha256 ?? null;
    const pkg = JSON.stringify({
      package: {
        url: `${base}/${sha256}`,
        sha256,
        size,
        manifestUrl: manifestSha256 === null ? null : `${base}/${manifestSha256}`,
        manifestSha256,
      },
    });
    const tail = JSON.stringify({
      signature: release.publisherSignature,
      publisherKeyId: release.publisherKeyId ?? null,
      config: release.config,
    });
    f = { base, head: head.slice(1, -1), pkg: pkg.slice(1, -1), tail: tail.slice(1, -1) };
    fragments.set(release, f);
  }
  return f;
}

// A patch's `"patch":{…}` member, serialized once per patch object, like the release fragments.
const patchFragments = new WeakMap<SnapshotPatch, { base: string; json: string }>();

function patchFragmentOf(patch: SnapshotPatch, base: string): string {
  let f = patchFragments.get(patch);
  if (f === undefined || f.base !== base) {
    const json = JSON.stringify({
      patch: {
        url: `${base}/${patch.sha256}`,
        sha256: patch.sha256,
        size: patch.size,
        baseSha256: patch.base,
        format: patch.format,
      },
    });
    f = { base, json: json.slice(1, -1) };
    patchFragments.set(patch, f);
  }
  return f.json;
}

/**
 * `JSON.stringify(s)` for a string. Ids and nonces are nearly always printable ASCII without quotes
 * or backslashes, which need no escaping: they are quoted directly (measured about 10 µs cheaper per
 * answer than calling JSON.stringify for each of 20 results on a cold request).
 */
export function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/**
 * One result of the answer as JSON: exactly `JSON.stringify` of the CheckResult (same keys, same
 * order), built from the release's cached fragments. (`updateMode` is one of three plain words.)
 */
export function resultJson(id: string, decision: Decision, base: string, patch: SnapshotPatch | null = null): string {
  if (decision.action === "none" || decision.action === "removed") {
    return `{"id":${jsonString(id)},"action":"${decision.action}"}`;
  }
  const { head, pkg, tail } = fragmentsOf(decision.release, base);
  const p = patch === null ? "" : `,${patchFragmentOf(patch, base)}`;
  return `{"id":${jsonString(id)},"action":"${decision.action}",${head},"updateMode":"${decision.updateMode}",${pkg}${p},${tail}}`;
}

/**
 * The patch an offered result carries for the device (choosePatch), or null. Costs nothing unless
 * the device declared patch formats and the release has patches.
 */
function patchFor(decision: Decision, m: CheckedMiniProgram, formats: readonly string[], maxRatio: number) {
  if (formats.length === 0 || (decision.action !== "update" && decision.action !== "rollback")) return null;
  if (decision.release.patches === undefined) return null;
  const offer = choosePatch(decision.release, m, formats, maxRatio);
  return offer.choice === "PATCH" ? offer.patch : null;
}

/**
 * Answers a device's update check. An unknown app, environment, mini program or installed version
 * yields `none`, exactly like "no update". Returns the body, its UTF-8 bytes and the signature over them.
 * The body is `JSON.stringify` of a CheckResponse (see resultJson).
 */
export async function checkUpdates(deps: Deps, input: CheckInput, origin: RequestOrigin, packageBaseUrl: string) {
  const signer = deps.signer;
  if (signer === null) throw new AppError("SERVICE_MISCONFIGURED", "The service has no signing key configured.");
  const keys = deps.serviceKeys();
  if (typeof keys === "string") throw new AppError("SERVICE_MISCONFIGURED", keys);
  const keysetVersion = keys.version;
  // Answers a device would refuse (the signing key outside its window) are not sent: a 503 shows.
  if (keys.signsFrom !== null || keys.signsUntil !== null) {
    const refusal = signingRefusal(keys, deps.clock.now());
    if (refusal !== null) throw new AppError("SERVICE_MISCONFIGURED", refusal);
  }
  const { decisions, profile, view } = await decideAll(deps, input, origin, "admit");
  let results = "";
  const formats = input.patchFormats ?? [];
  const maxRatio = deps.patches.maxRatio;
  let offered: string[] | null = null;
  for (let i = 0; i < decisions.length; i++) {
    const decision = decisions[i] as Decision;
    const m = input.miniPrograms[i] as CheckedMiniProgram;
    const offer = patchFor(decision, m, formats, maxRatio);
    results += `${i === 0 ? "" : ","}${resultJson(m.id, decision, packageBaseUrl, offer)}`;
    if (decision.action === "update" || decision.action === "rollback") {
      offered ??= [];
      offered.push(decision.release.releaseId);
    }
  }
  // Statistics (docs/statistics.md): what this check offered and reported, recorded in the isolate.
  const recorder = deps.checks;
  if (recorder !== null && view !== null) {
    const flush = recorder.observe(
      input.appId,
      input.env,
      input.deviceId,
      input.userId,
      profile,
      input.miniPrograms,
      offered ?? NONE,
      deps.clock.now(),
    );
    if (flush !== null) origin.defer?.(flush);
  }
  const issuedAt = deps.clock.now();
  const nonce = input.nonce === null ? "null" : jsonString(input.nonce);
  const body =
    `{"issuedAt":${issuedAt},"expiresAt":${issuedAt + CHECK_TTL_MS},"nonce":${nonce},` +
    `"keyId":${jsonString(signer.keyId)},"keysetVersion":${keysetVersion},"appId":${jsonString(input.appId)},` +
    `"env":${jsonString(input.env)},"deviceId":${jsonString(input.deviceId)},"results":[${results}]}`;
  // Encoded once: the signature covers exactly the bytes the response sends.
  const bytes = utf8.encode(body);
  const signature = await signer.sign(bytes);
  return { body, bytes, signature, keyId: signer.keyId };
}
