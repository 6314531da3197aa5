import type { ConfigPatch } from "../domain/config";
import { AppError } from "../domain/errors";
import { can, visibleMiniPrograms } from "../domain/permissions";
import {
  type MiniProgramOrigin,
  type MiniProgramType,
  type UpdateMode,
  updateModeRefusal,
} from "../domain/update-mode";
import type { Context, Deps, MiniProgramRecord } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

export interface CreateMiniProgramInput {
  key: string;
  type: MiniProgramType;
  origin: MiniProgramOrigin;
  names: Record<string, string>;
  descriptions: Record<string, string>;
  defaultUpdateMode: UpdateMode;
  minUsableVersion: string | null;
  config: ConfigPatch;
  icon?: string | null;
  category?: string | null;
}

/**
 * Registers a mini program; CONFLICT when the key is taken in the workspace. A creator who is not a
 * workspace admin becomes the mini program's admin.
 */
export async function createMiniProgram(deps: Deps, ctx: Context, input: CreateMiniProgramInput) {
  requirePermission(ctx, "mini_program:create");
  const refusal = updateModeRefusal(input.defaultUpdateMode, input.type, input.origin);
  if (refusal !== null) {
    throw new AppError("UPDATE_MODE_NOT_ALLOWED", refusal, [{ pointer: "/defaultUpdateMode", message: refusal }]);
  }
  const now = deps.clock.now();
  const mp: MiniProgramRecord = {
    id: deps.ids.id("mp"),
    workspaceId: ctx.actor.workspaceId,
    ...input,
    icon: input.icon ?? null,
    category: input.category ?? null,
    createdBy: ctx.actor.memberId,
    removedAt: null,
    defaultUpdateMode: input.defaultUpdateMode,
    createdAt: now,
    updatedAt: now,
    rowVersion: 1,
  };
  const creator = can(ctx.actor, "mini_program:write", mp.id)
    ? null
    : { miniProgramId: mp.id, memberId: ctx.actor.memberId, role: "admin" as const, createdAt: now };
  const audit = auditEntry(deps, ctx, {
    action: "mini_program.create",
    resourceType: "mini_program",
    resourceId: mp.id,
    before: null,
    after: creator === null ? mp : { ...mp, creatorRole: { memberId: creator.memberId, role: creator.role } },
  });
  if ((await deps.store.createMiniProgram(mp, audit, creator)) === "conflict") {
    throw new AppError("CONFLICT", "A mini program with this key already exists.");
  }
  return mp;
}

/**
 * The mini programs the actor may see; with `q`, those whose key or a name contains it (any case);
 * with `createdBy`, those that member created; with `category`, those of that category.
 */
export async function listMiniPrograms(
  deps: Deps,
  ctx: Context,
  q: string | null = null,
  filter: { createdBy?: string; category?: string } = {},
) {
  requirePermission(ctx, "workspace:read");
  const all = await deps.store.listMiniPrograms(ctx.actor.workspaceId);
  const visible = visibleMiniPrograms(ctx.actor);
  const needle = q?.toLowerCase() ?? null;
  return all.filter(
    (mp) =>
      (visible === "all" || visible.includes(mp.id)) &&
      (filter.createdBy === undefined || mp.createdBy === filter.createdBy) &&
      (filter.category === undefined || mp.category === filter.category) &&
      (needle === null ||
        mp.key.toLowerCase().includes(needle) ||
        Object.values(mp.names).some((n) => n.toLowerCase().includes(needle))),
  );
}

/** One mini program by id or key; NOT_FOUND outside the actor's workspace. */
export async function getMiniProgram(deps: Deps, ctx: Context, miniProgramId: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "mini_program:read", mp.id);
  return mp;
}
