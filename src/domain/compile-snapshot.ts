import { type ConfigPatch, mergeConfig } from "./config";
import { previewHash } from "./preview";
import { LIVE_STATUSES, PREVIEW_STATUSES, type ReleaseStatus } from "./release-status";
import { compareVersions } from "./semver";
import type { DeliveredConfig, Snapshot, SnapshotMiniProgram, SnapshotPatch, SnapshotRelease } from "./snapshot";
import { listRegexCost } from "./targeting/allowlist";
import { compileTargeting } from "./targeting/evaluate";
import type { MiniProgramOrigin, MiniProgramType, UpdateMode } from "./update-mode";

export interface SourceMiniProgram {
  id: string;
  key: string;
  type: MiniProgramType;
  origin: MiniProgramOrigin;
  minUsableVersion: string | null;
  config: ConfigPatch;
  /** Removed (its removal request approved): devices that have it are told to delete it. */
  removed?: boolean;
  /** Names of the catalogue features added to the mini program: delivered with every release. */
  features?: string[];
}

export interface SourceVersion {
  id: string;
  miniProgramId: string;
  version: string;
  sha256: string;
  size: number;
  /** Absent or null for versions uploaded before manifests were kept. */
  manifestSha256?: string | null;
  compat: string;
  publisherSignature: string | null;
  publisherKeyId?: string | null;
  deleted: boolean;
}

export interface SourceRelease {
  id: string;
  versionId: string;
  seq: number;
  status: ReleaseStatus;
  /** True once the release has ever been in full release (archived releases included). */
  wentFull: boolean;
  rollback: boolean;
  updateMode: UpdateMode;
  config: ConfigPatch;
  targeting: Record<string, unknown> | null;
  /** sha256 hex of approvalContent (domain/approval.ts): what preview tokens are bound to. */
  contentHash?: string;
  previewTestersOnly?: boolean;
}

/** A ready incremental patch between two versions of the source (docs/patches.md). */
export interface SourcePatch {
  baseVersionId: string;
  targetVersionId: string;
  format: string;
  sha256: string;
  size: number;
}

export interface SourceList {
  id: string;
  /** The list's content version (grows with every upload). */
  version: number;
  kind: "user" | "device";
  contentKey: string;
  shardCount: number;
  regexEntries: string[];
}

export interface SnapshotSource {
  appKey: string;
  env: string;
  version: number;
  builtAt: number;
  miniPrograms: SourceMiniProgram[];
  versions: SourceVersion[];
  /** Releases of this (app, environment), any status. */
  releases: SourceRelease[];
  /** Allowlists of the workspace. */
  lists: SourceList[];
  /** Test QR codes of the releases (ids by release id); absent: none. */
  qrCodes?: { id: string; releaseId: string }[];
  /** Ready patches to the versions of live releases; absent: none. */
  patches?: SourcePatch[];
}

function byVersion(a: string, b: string): number {
  return compareVersions(a, b);
}

/**
 * Compiles the relational state of one (app, environment) into one object holding all of it. Pure
 * and deterministic: the same source always yields the same snapshot. Releases of deleted versions
 * are left out (their bytes are gone). Delivery stores it split per mini program (delivery.ts:
 * compileParts); the whole is what the decision-core bench and tests reason about.
 */
export function compileSnapshot(source: SnapshotSource): Snapshot {
  return {
    format: 1,
    appKey: source.appKey,
    env: source.env,
    version: source.version,
    builtAt: source.builtAt,
    miniPrograms: compileMiniPrograms(source),
    lists: Object.fromEntries(
      source.lists.map((l) => [
        l.id,
        { kind: l.kind, contentKey: l.contentKey, shardCount: l.shardCount, regex: l.regexEntries },
      ]),
    ),
  };
}

/** The delivery state of every mini program of the source, by key (see compileSnapshot). */
export function compileMiniPrograms(source: SnapshotSource): Record<string, SnapshotMiniProgram> {
  const versions = new Map(source.versions.map((v) => [v.id, v]));
  const miniPrograms: Record<string, SnapshotMiniProgram> = {};
  const byId = new Map<string, SnapshotMiniProgram>();
  const knownByMp = new Map<string, string[]>();
  for (const v of source.versions) {
    const known = knownByMp.get(v.miniProgramId);
    if (known) known.push(v.version);
    else knownByMp.set(v.miniProgramId, [v.version]);
  }
  for (const mp of source.miniPrograms) {
    const known = knownByMp.get(mp.id) ?? [];
    const entry: SnapshotMiniProgram = {
      id: mp.id,
      type: mp.type,
      origin: mp.origin,
      minUsableVersion: mp.minUsableVersion,
      knownVersions: known.sort(byVersion),
      syncMilestones: [],
      releases: [],
    };
    miniPrograms[mp.key] = entry;
    byId.set(mp.id, entry);
  }
  const sources = new Map(source.miniPrograms.map((mp) => [mp.id, mp]));
  const removed = new Set(source.miniPrograms.filter((mp) => mp.removed).map((mp) => mp.id));
  const codes = new Map<string, string[]>();
  for (const c of source.qrCodes ?? []) codes.set(c.releaseId, [...(codes.get(c.releaseId) ?? []), c.id]);
  const ordered = [...source.releases].sort((a, b) => b.seq - a.seq);
  for (const r of ordered) {
    const version = versions.get(r.versionId);
    const mp = version ? byId.get(version.miniProgramId) : undefined;
    if (version === undefined || mp === undefined || version.deleted) continue;
    if (r.wentFull && r.updateMode === "sync" && !mp.syncMilestones.includes(version.version)) {
      mp.syncMilestones.push(version.version);
    }
    if (removed.has(mp.id)) continue;
    const previewCodes = codes.get(r.id);
    if (previewCodes !== undefined && PREVIEW_STATUSES.includes(r.status) && r.contentHash !== undefined) {
      const config = deliveredConfig(sources.get(mp.id), r.config);
      if (mp.previews === undefined) mp.previews = [];
      mp.previews.push({
        release: { ...snapshotRelease(r, version, config), status: "preview", targeting: null },
        hash: previewHash(r.contentHash),
        codes: previewCodes.sort(),
        testers: r.previewTestersOnly ? [...config.internalTesters].sort() : null,
      });
    }
    if (!LIVE_STATUSES.includes(r.status)) continue;
    const release = snapshotRelease(r, version, deliveredConfig(sources.get(mp.id), r.config));
    const patches = patchesTo(version, versions, source.patches);
    if (patches.length > 0) release.patches = patches;
    mp.releases.push(release);
  }
  for (const mp of byId.values()) {
    mp.syncMilestones.sort(byVersion);
    if (removed.has(mp.id)) mp.removed = true;
  }
  return miniPrograms;
}

/**
 * The ready patches to `target`'s package from versions that are not deleted, ordered by base and
 * format (deterministic); a base with the target's own bytes needs none.
 */
function patchesTo(
  target: SourceVersion,
  versions: ReadonlyMap<string, SourceVersion>,
  patches: readonly SourcePatch[] | undefined,
): SnapshotPatch[] {
  const out: SnapshotPatch[] = [];
  for (const p of patches ?? []) {
    if (p.targetVersionId !== target.id) continue;
    const base = versions.get(p.baseVersionId);
    if (base === undefined || base.deleted || base.sha256 === target.sha256) continue;
    out.push({ base: base.sha256, baseVersion: base.version, format: p.format, sha256: p.sha256, size: p.size });
  }
  return out.sort((a, b) =>
    a.base < b.base ? -1 : a.base > b.base ? 1 : a.format < b.format ? -1 : a.format > b.format ? 1 : 0,
  );
}

/** The part of a snapshot release every status shares. */
function snapshotRelease(r: SourceRelease, version: SourceVersion, config: DeliveredConfig): SnapshotRelease {
  return {
    releaseId: r.id,
    version: version.version,
    seq: r.seq,
    status: r.status === "full" ? "full" : "canary",
    rollback: r.rollback,
    updateMode: r.updateMode,
    compat: version.compat,
    package: { sha256: version.sha256, size: version.size, manifestSha256: version.manifestSha256 ?? null },
    publisherSignature: version.publisherSignature,
    publisherKeyId: version.publisherKeyId ?? null,
    config,
    targeting: r.status === "canary" ? r.targeting : null,
  };
}

/**
 * A release's delivered configuration: the mini program's global configuration overridden by the
 * release's (config.ts mergeConfig), with the mini program's catalogue features always added to
 * `features` — a release may list more, never fewer.
 */
function deliveredConfig(mp: SourceMiniProgram | undefined, release: ConfigPatch): DeliveredConfig {
  const merged = mergeConfig(mp?.config ?? {}, release);
  const catalogue = mp?.features ?? [];
  if (catalogue.length === 0) return merged;
  return { ...merged, features: [...new Set([...merged.features, ...catalogue])].sort() };
}

/**
 * The regex work one check of this (app, environment) may do, in regex cost units (REGEX_COST_UNIT
 * in targeting/rules.ts), to hold against MAX_TARGET_REGEX_COST. A check evaluates the canary
 * targeting of the releases of the mini programs it names — at most every canary release of the
 * snapshot — evaluating each distinct regex rule once (its memo is keyed by the rule's content,
 * ruleMemoKey) — and looks each list those releases refer to up once. So: every distinct regex rule
 * of the canary releases, once, plus the regex entries of every list any of them refers to, once. A targeting that no longer compiles is evaluated by nobody
 * (the release fails closed) and counts 0; so does a stored regex entry the current rules refuse.
 */
export function snapshotRegexCost(snapshot: Snapshot): number {
  let cost = 0;
  const lists = new Set<string>();
  const rules = new Set<string>();
  for (const mp of Object.values(snapshot.miniPrograms)) {
    for (const release of mp.releases) {
      if (release.status !== "canary" || release.targeting === null) continue;
      const compiled = compileTargeting(release.targeting);
      if (!compiled.ok) continue;
      for (const rule of compiled.targeting.rules) {
        if (rule.regexCost === 0 || rules.has(rule.key)) continue;
        rules.add(rule.key);
        cost += rule.regexCost;
      }
      for (const ref of compiled.targeting.allowlists) lists.add(ref.listId);
      for (const ref of compiled.targeting.denylists) lists.add(ref.listId);
    }
  }
  for (const id of lists) {
    const list = Object.hasOwn(snapshot.lists, id) ? snapshot.lists[id] : undefined;
    if (list !== undefined) cost += listRegexCost(list.regex);
  }
  return cost;
}
