import { AppError } from "../domain/errors";
import { visibleMiniPrograms } from "../domain/permissions";
import type { Context, Deps, RemovalRequestRecord } from "./ports";
import { publishMiniProgram } from "./publish-delivery";
import { auditEntry, notFound, refuseRemoved, removedError, requirePermission } from "./support";

/**
 * A mini program admin (or a workspace admin) asks for the mini program's removal, with a reason.
 * CONFLICT while another request is pending; MINI_PROGRAM_REMOVED once it was removed. Audited.
 */
export async function requestRemoval(deps: Deps, ctx: Context, miniProgramId: string, reason: string) {
  const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, miniProgramId);
  if (mp === null) throw notFound("The mini program");
  requirePermission(ctx, "mini_program:write", mp.id);
  refuseRemoved(mp);
  const request: RemovalRequestRecord = {
    id: deps.ids.id("rmv"),
    workspaceId: ctx.actor.workspaceId,
    miniProgramId: mp.id,
    reason,
    status: "pending",
    requestedBy: ctx.actor.memberId,
    requestedAt: deps.clock.now(),
    decidedBy: null,
    decidedAt: null,
    decisionReason: null,
  };
  const audit = auditEntry(deps, ctx, {
    action: "mini_program.removal.request",
    resourceType: "mini_program",
    resourceId: mp.id,
    before: null,
    after: request,
  });
  const result = await deps.store.createRemovalRequest(request, audit);
  if (result === "conflict")
    throw new AppError("CONFLICT", "A removal request for this mini program is already pending.");
  if (result === "removed") throw removedError();
  return request;
}

/** Removal requests the actor may see (of its mini programs), optionally of one mini program or status. */
export async function listRemovalRequests(
  deps: Deps,
  ctx: Context,
  filter: { miniProgramId?: string; status?: RemovalRequestRecord["status"] },
) {
  requirePermission(ctx, "workspace:read");
  let miniProgramId: string | undefined;
  if (filter.miniProgramId !== undefined) {
    const mp = await deps.store.getMiniProgram(ctx.actor.workspaceId, filter.miniProgramId);
    if (mp === null) throw notFound("The mini program");
    requirePermission(ctx, "mini_program:read", mp.id);
    miniProgramId = mp.id;
  }
  const visible = visibleMiniPrograms(ctx.actor);
  return (await deps.store.listRemovalRequests(ctx.actor.workspaceId, miniProgramId)).filter(
    (r) =>
      (visible === "all" || visible.includes(r.miniProgramId)) &&
      (filter.status === undefined || r.status === filter.status),
  );
}

export async function getRemovalRequest(deps: Deps, ctx: Context, id: string) {
  const request = await deps.store.getRemovalRequest(ctx.actor.workspaceId, id);
  if (request === null) throw notFound("The removal request");
  requirePermission(ctx, "mini_program:read", request.miniProgramId);
  return request;
}

/**
 * A workspace admin approves or rejects a pending request (CONFLICT once decided). Approval, in one
 * write: the mini program is marked removed (read-only from then on, its key never reused), every
 * live release ends and every other open release is cancelled (each audited), and delivery on every
 * target where it has releases is republished: devices that have it are answered `removed`.
 */
export async function decideRemoval(
  deps: Deps,
  ctx: Context,
  id: string,
  input: { decision: "approve" | "reject"; reason?: string },
) {
  const request = await deps.store.getRemovalRequest(ctx.actor.workspaceId, id);
  if (request === null) throw notFound("The removal request");
  requirePermission(ctx, "workspace:write");
  if (request.status !== "pending") {
    throw new AppError("CONFLICT", `This removal request was already ${request.status}.`);
  }
  const decision = { decidedBy: ctx.actor.memberId, decidedAt: deps.clock.now(), decisionReason: input.reason ?? null };
  const approve = input.decision === "approve";
  const decided: RemovalRequestRecord = { ...request, ...decision, status: approve ? "approved" : "rejected" };
  const audit = auditEntry(deps, ctx, {
    action: approve ? "mini_program.removal.approve" : "mini_program.removal.reject",
    resourceType: "mini_program",
    resourceId: request.miniProgramId,
    before: request,
    after: decided,
  });
  if (request.requestedBy === ctx.actor.memberId && approve) {
    // Irreversible: like a release approval, not by the member who asked (unless the workspace allows it).
    const workspace = await deps.store.getWorkspace(ctx.actor.workspaceId);
    if (!workspace?.allowSelfApproval) {
      throw new AppError(
        "FORBIDDEN",
        "You asked for this removal: another workspace admin must approve it (or the workspace must allow self-approval).",
      );
    }
  }
  const result = approve
    ? await deps.store.approveRemoval(request, decision, audit)
    : await deps.store.closeRemoval(request, "rejected", decision, audit);
  if (result === "conflict") throw new AppError("CONFLICT", "This removal request was decided meanwhile.");
  // Every target where it has releases of any status (read after the write: none is missed).
  if (approve) {
    await publishMiniProgram(
      deps,
      request.miniProgramId,
      await deps.store.environmentIdsReleasing(request.miniProgramId),
    );
  }
  return decided;
}

/**
 * The requester (or anyone who may ask for the mini program's removal) withdraws a pending request.
 * CONFLICT once decided. Audited.
 */
export async function withdrawRemoval(deps: Deps, ctx: Context, id: string) {
  const request = await deps.store.getRemovalRequest(ctx.actor.workspaceId, id);
  if (request === null) throw notFound("The removal request");
  requirePermission(ctx, "mini_program:write", request.miniProgramId);
  if (request.status !== "pending") {
    throw new AppError("CONFLICT", `This removal request was already ${request.status}.`);
  }
  const decision = { decidedBy: ctx.actor.memberId, decidedAt: deps.clock.now(), decisionReason: null };
  const withdrawn: RemovalRequestRecord = { ...request, ...decision, status: "withdrawn" };
  const audit = auditEntry(deps, ctx, {
    action: "mini_program.removal.withdraw",
    resourceType: "mini_program",
    resourceId: request.miniProgramId,
    before: request,
    after: withdrawn,
  });
  if ((await deps.store.closeRemoval(request, "withdrawn", decision, audit)) === "conflict") {
    throw new AppError("CONFLICT", "This removal request was decided meanwhile.");
  }
  return withdrawn;
}
