import { mergeConfig } from "../domain/config";
import { AppError } from "../domain/errors";
import type { Context, Deps, FeatureRecord } from "./ports";
import { publishMiniProgram } from "./publish-delivery";
import { auditEntry, notFound, refuseRemoved, requirePermission } from "./support";

/** Features in a workspace's catalogue, and added to one mini program (every release delivers their names). */
export const MAX_FEATURES = { catalogue: 500, miniProgram: 50 } as const;

/** Adds a feature (a named group of JSAPIs) to the workspace catalogue: workspace admins. */
export async function createFeature(
  deps: Deps,
  ctx: Context,
  input: { name: string; description: string; jsapis: string[] },
) {
  requirePermission(ctx, "workspace:write");
  if ((await deps.store.listFeatures(ctx.actor.workspaceId)).length >= MAX_FEATURES.catalogue) {
    throw new AppError("CONFLICT", `The catalogue holds at most ${MAX_FEATURES.catalogue} features: delete one first.`);
  }
  const now = deps.clock.now();
  const feature: FeatureRecord = {
    id: deps.ids.id("ftr"),
    workspaceId: ctx.actor.workspaceId,
    name: input.name,
    description: input.description,
    jsapis: [...new Set(input.jsapis)].sort(),
    createdAt: now,
    updatedAt: now,
  };
  const audit = auditEntry(deps, ctx, {
    action: "feature.create",
    resourceType: "feature",
    resourceId: feature.id,
    before: null,
    after: feature,
  });
  if ((await deps.store.createFeature(feature, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The workspace already has a feature with this name.");
  }
  return feature;
}

export async function listFeatures(deps: Deps, ctx: Context) {
  requirePermission(ctx, "workspace:read");
  return deps.store.listFeatures(ctx.actor.workspaceId);
}

async function featureOf(deps: Deps, ctx: Context, idOrName: string) {
  const feature = await deps.store.getFeature(ctx.actor.workspaceId, idOrName);
  if (feature === null) throw notFound("The feature");
  return feature;
}

export async function getFeature(deps: Deps, ctx: Context, idOrName: string) {
  requirePermission(ctx, "workspace:read");
  return featureOf(deps, ctx, idOrName);
}

/** Deletes a catalogue feature; FEATURE_IN_USE while a mini program has it. Audited. */
export async function deleteFeature(deps: Deps, ctx: Context, idOrName: string) {
  requirePermission(ctx, "workspace:write");
  const feature = await featureOf(deps, ctx, idOrName);
  const audit = auditEntry(deps, ctx, {
    action: "feature.delete",
    resourceType: "feature",
    resourceId: feature.id,
    before: feature,
    after: null,
  });
  const result = await deps.store.deleteFeature(feature, audit);
  if (result === "in_use") {
    throw new AppError("FEATURE_IN_USE", "Mini programs still have this feature: delete it from them first.");
  }
  if (result === "conflict") throw notFound("The feature");
  return feature;
}

async function miniProgramOf(deps: Deps, ctx: Context, miniProgramId: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  return mp;
}

/** The catalogue features a mini program has (delivered in every release's `features`). */
export async function listMiniProgramFeatures(deps: Deps, ctx: Context, miniProgramId: string) {
  const mp = await miniProgramOf(deps, ctx, miniProgramId);
  requirePermission(ctx, "mini_program:read", mp.id);
  return deps.store.listMiniProgramFeatures(mp.id);
}

/**
 * Adds a catalogue feature to a mini program, or deletes it from one (mini program admins): audited,
 * and delivered within seconds on every target where the mini program has releases. Idempotent.
 */
export async function setMiniProgramFeature(
  deps: Deps,
  ctx: Context,
  miniProgramId: string,
  featureIdOrName: string,
  added: boolean,
) {
  const mp = await miniProgramOf(deps, ctx, miniProgramId);
  requirePermission(ctx, "mini_program:write", mp.id);
  refuseRemoved(mp);
  const feature = await featureOf(deps, ctx, featureIdOrName);
  const has = await deps.store.listMiniProgramFeatures(mp.id);
  if (added && has.length >= MAX_FEATURES.miniProgram && !has.some((f) => f.id === feature.id)) {
    throw new AppError(
      "CONFLICT",
      `A mini program has at most ${MAX_FEATURES.miniProgram} features: delete one first.`,
    );
  }
  const audit = auditEntry(deps, ctx, {
    action: added ? "mini_program.feature.add" : "mini_program.feature.delete",
    resourceType: "mini_program",
    resourceId: mp.id,
    before: added ? null : { feature: feature.name },
    after: added ? { feature: feature.name } : null,
  });
  const result = await deps.store.setMiniProgramFeature(mp.id, feature.id, added, audit, deps.clock.now());
  if (result === "ok") await publishMiniProgram(deps, mp.id, await deps.store.environmentIdsReleasing(mp.id));
  return deps.store.listMiniProgramFeatures(mp.id);
}

/**
 * The features a release delivers (its configuration's `features` merged over the mini program's,
 * plus the mini program's catalogue features), each with its JSAPIs when the catalogue has it.
 */
export async function releaseFeatures(deps: Deps, ctx: Context, releaseId: string) {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "mini_program:read", release.miniProgramId);
  const mp = await miniProgramOf(deps, ctx, release.miniProgramId);
  const [added, catalogue] = await Promise.all([
    deps.store.listMiniProgramFeatures(mp.id),
    deps.store.listFeatures(ctx.actor.workspaceId),
  ]);
  const configured = mergeConfig(mp.config, release.config).features;
  const byName = new Map(catalogue.map((f) => [f.name, f]));
  const names = [...new Set([...configured, ...added.map((f) => f.name)])].sort();
  return names.map((name) => {
    const feature = byName.get(name);
    return {
      name,
      source: added.some((f) => f.name === name) ? ("mini_program" as const) : ("configuration" as const),
      description: feature?.description ?? null,
      jsapis: feature?.jsapis ?? null,
    };
  });
}
