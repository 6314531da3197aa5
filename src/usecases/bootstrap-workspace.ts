import { AppError } from "../domain/errors";
import { FULL_SCOPE } from "../domain/permissions";
import { DEFAULT_TOKEN_TTL_MS } from "../domain/tokens";
import type { MemberRecord, WorkspaceRecord } from "./access-ports";
import { mintToken, tokenView } from "./manage-tokens";
import type { Deps } from "./ports";

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
    createdAt: now,
    rowVersion: 1,
  };
  const member: MemberRecord = {
    id: deps.ids.id("mem"),
    workspaceId: workspace.id,
    name: input.adminName,
    email: input.adminEmail,
    handle: (input.adminHandle ?? input.adminEmail).toLowerCase(),
    kind: "person",
    role: "admin",
    createdBy: null,
    createdAt: now,
    removedAt: null,
    rowVersion: 1,
  };
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
