import { AppError } from "../domain/errors";
import { FULL_SCOPE } from "../domain/permissions";
import { DEFAULT_TOKEN_TTL_MS } from "../domain/tokens";
import type { MemberRecord, WorkspaceRecord } from "./access-ports";
import { OPERATOR } from "./list-audit";
import { memberView, newInvite } from "./manage-members";
import { mintToken, tokenView } from "./manage-tokens";
import type { Deps } from "./ports";

/** A new person admin of the workspace, found by `handle` (default: the e-mail address, lower-cased). */
function personAdmin(
  deps: Deps,
  workspaceId: string,
  who: { name: string; email: string; handle?: string | undefined },
): MemberRecord {
  return {
    id: deps.ids.id("mem"),
    workspaceId,
    name: who.name,
    email: who.email,
    handle: (who.handle ?? who.email).toLowerCase(),
    kind: "person",
    role: "admin",
    createdBy: null,
    createdAt: deps.clock.now(),
    removedAt: null,
    rowVersion: 1,
  };
}

export interface CreateWorkspaceInput {
  workspaceName: string;
  adminName: string;
  /** The first admin's e-mail address; also their handle unless `adminHandle` is given. */
  adminEmail: string;
  adminHandle?: string;
}

/**
 * Creates a workspace with its first admin and returns that admin's token (shown once; an ordinary
 * token that expires in 90 days). The operator's call: the HTTP layer checks the operator secret.
 * With `onlyFirst`, refused with CONFLICT once any workspace exists (the original bootstrap).
 */
export async function createWorkspace(deps: Deps, input: CreateWorkspaceInput, requestId: string, onlyFirst = false) {
  if (onlyFirst && (await deps.store.hasWorkspace())) throw new AppError("CONFLICT", "A workspace already exists.");
  const now = deps.clock.now();
  const workspace: WorkspaceRecord = {
    id: deps.ids.id("ws"),
    name: input.workspaceName,
    allowSelfApproval: false,
    // New workspaces accept only uploads signed by one of their publisher keys (docs/publishing.md);
    // an admin may turn this off with PATCH /v1/admin/workspace, e.g. while setting up keys.
    requireSignedUploads: true,
    createdAt: now,
    rowVersion: 1,
  };
  const member = personAdmin(deps, workspace.id, {
    name: input.adminName,
    email: input.adminEmail,
    handle: input.adminHandle,
  });
  const { token, secret } = await mintToken(deps, {
    workspaceId: workspace.id,
    memberId: member.id,
    name: "first admin token",
    scopes: FULL_SCOPE,
    expiresAt: now + DEFAULT_TOKEN_TTL_MS,
    createdBy: null,
  });
  const result = await deps.store.createWorkspace({
    workspace,
    member,
    token,
    audit: {
      id: deps.ids.id("aud"),
      workspaceId: workspace.id,
      actorMemberId: member.id,
      actorTokenId: token.id,
      action: "workspace.create",
      resourceType: "workspace",
      resourceId: workspace.id,
      before: null,
      after: { workspace, member, token: tokenView(token) },
      requestId,
      createdAt: now,
    },
  });
  if (result === "conflict") throw new AppError("CONFLICT", "A workspace already exists.");
  return { workspace, member, token: secret, tokenId: token.id, expiresAt: token.expiresAt };
}

/**
 * The operator's recovery: adds a person admin to a workspace (NOT_FOUND when there is none) and
 * returns their one-time invite, only when no admin of the workspace can act any more (every admin
 * token revoked or expired; else CONFLICT). Audited with the actor "operator". CONFLICT when the
 * handle is taken.
 */
export async function addOperatorAdmin(
  deps: Deps,
  workspaceId: string,
  input: { name: string; email: string; handle?: string },
  requestId: string,
) {
  if ((await deps.store.getWorkspace(workspaceId)) === null) {
    throw new AppError("NOT_FOUND", "The workspace was not found.");
  }
  const now = deps.clock.now();
  // Recovery only: while an admin of the workspace can act, admins are theirs to add.
  if (await deps.store.hasActingAdmin(workspaceId, now)) {
    throw new AppError("CONFLICT", "An admin of this workspace can still act: they add admins.");
  }
  const member = personAdmin(deps, workspaceId, input);
  const invite = await newInvite(deps, workspaceId, member.id, OPERATOR);
  const audit = {
    id: deps.ids.id("aud"),
    workspaceId,
    actorMemberId: OPERATOR,
    actorTokenId: OPERATOR,
    action: "member.add",
    resourceType: "member",
    resourceId: member.id,
    before: null,
    after: { ...memberView(member), by: "operator" },
    requestId,
    createdAt: now,
  };
  if ((await deps.store.createMember(member, invite.record, [], audit)) === "conflict") {
    throw new AppError("CONFLICT", "A member with this handle already exists.", [
      { pointer: input.handle === undefined ? "/email" : "/handle", message: "Already taken in this workspace." },
    ]);
  }
  return { ...memberView(member), invite: { secret: invite.secret, expiresAt: invite.record.expiresAt } };
}
