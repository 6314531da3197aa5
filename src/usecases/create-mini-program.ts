import type { ConfigPatch } from "../domain/config";
import { AppError } from "../domain/errors";
import {
  allowedUpdateMode,
  type MiniProgramOrigin,
  type MiniProgramType,
  type UpdateMode,
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
}

/** Registers a mini program; CONFLICT when the key is taken in the workspace. */
export async function createMiniProgram(deps: Deps, ctx: Context, input: CreateMiniProgramInput) {
  requirePermission(ctx, "mini_program:create");
  const now = deps.clock.now();
  const mp: MiniProgramRecord = {
    id: deps.ids.id("mp"),
    workspaceId: ctx.actor.workspaceId,
    ...input,
    defaultUpdateMode: allowedUpdateMode(input.defaultUpdateMode, input.type, input.origin),
    createdAt: now,
    updatedAt: now,
    rowVersion: 1,
  };
  const audit = auditEntry(deps, ctx, {
    action: "mini_program.create",
    resourceType: "mini_program",
    resourceId: mp.id,
    before: null,
    after: mp,
  });
  if ((await deps.store.createMiniProgram(mp, audit)) === "conflict") {
    throw new AppError("CONFLICT", "A mini program with this key already exists.");
  }
  return mp;
}

export async function listMiniPrograms(deps: Deps, ctx: Context) {
  requirePermission(ctx, "workspace:read");
  return deps.store.listMiniPrograms(ctx.actor.workspaceId);
}

/** One mini program by id or key; NOT_FOUND outside the actor's workspace. */
export async function getMiniProgram(deps: Deps, ctx: Context, miniProgramId: string) {
  requirePermission(ctx, "workspace:read");
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  return mp;
}
