/** Workspace-wide roles: admin, reviewer, developer (docs/overview.md, "Workspace"). */
export const WORKSPACE_ROLES = ["admin", "reviewer", "developer"] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

/** Roles a member can hold on one mini program. */
export const MINI_PROGRAM_ROLES = ["admin", "developer"] as const;
export type MiniProgramRole = (typeof MINI_PROGRAM_ROLES)[number];

/** Everything an API caller can be allowed to do; every admin route names exactly one. */
export const PERMISSIONS = [
  "workspace:read",
  "app:write",
  "mini_program:create",
  "mini_program:write",
  "version:upload",
  "version:delete",
  "release:write",
  "release:review",
  "allowlist:write",
  "audit:read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export interface Actor {
  memberId: string;
  workspaceId: string;
  tokenId: string;
  role: WorkspaceRole;
  /** Roles on individual mini programs, by mini program id. */
  miniProgramRoles: Readonly<Record<string, MiniProgramRole>>;
}

const WORKSPACE_GRANTS: Readonly<Record<WorkspaceRole, readonly Permission[]>> = {
  admin: PERMISSIONS,
  reviewer: ["workspace:read", "release:review", "audit:read"],
  developer: ["workspace:read", "version:upload"],
};

const MINI_PROGRAM_GRANTS: Readonly<Record<MiniProgramRole, readonly Permission[]>> = {
  admin: ["mini_program:write", "version:upload", "version:delete", "release:write"],
  developer: ["version:upload"],
};

/**
 * True when `actor` holds `permission`, workspace-wide or on `miniProgramId` when one is given.
 * Mini program roles never grant workspace-wide permissions.
 */
export function can(actor: Actor, permission: Permission, miniProgramId?: string): boolean {
  if (WORKSPACE_GRANTS[actor.role].includes(permission)) return true;
  if (miniProgramId === undefined) return false;
  const role = actor.miniProgramRoles[miniProgramId];
  return role !== undefined && MINI_PROGRAM_GRANTS[role].includes(permission);
}
