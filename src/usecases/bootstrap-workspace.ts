import { AppError } from "../domain/errors";
import type { Deps } from "./ports";

export interface BootstrapInput {
  workspaceName: string;
  adminName: string;
  adminEmail: string;
}

/**
 * Creates the first workspace with an admin member and returns the admin's API token (shown once).
 * Refused with CONFLICT once any workspace exists, so the bootstrap secret cannot mint more admins.
 */
export async function bootstrapWorkspace(deps: Deps, input: BootstrapInput, requestId: string) {
  if (await deps.store.hasWorkspace()) throw new AppError("CONFLICT", "A workspace already exists.");
  const now = deps.clock.now();
  const workspace = { id: deps.ids.id("ws"), name: input.workspaceName, createdAt: now };
  const member = { id: deps.ids.id("mem"), name: input.adminName, email: input.adminEmail, role: "admin" as const };
  const secret = deps.ids.token();
  const token = { id: deps.ids.id("tok"), name: "bootstrap", tokenHash: await deps.hasher.sha256Hex(secret) };
  const result = await deps.store.createWorkspace({
    workspace,
    member,
    token,
    audit: {
      id: deps.ids.id("aud"),
      workspaceId: workspace.id,
      actorMemberId: member.id,
      actorTokenId: token.id,
      action: "workspace.bootstrap",
      resourceType: "workspace",
      resourceId: workspace.id,
      before: null,
      after: { workspace, member },
      requestId,
      createdAt: now,
    },
  });
  if (result === "conflict") throw new AppError("CONFLICT", "A workspace already exists.");
  return { workspace, member, token: secret };
}
