/** Workspace-wide roles: admin, reviewer, developer (docs/access.md). */
export const WORKSPACE_ROLES = ["admin", "reviewer", "developer"] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

/** Roles a member can hold on one mini program. */
export const MINI_PROGRAM_ROLES = ["admin", "developer"] as const;
export type MiniProgramRole = (typeof MINI_PROGRAM_ROLES)[number];

/** A person signs in through an invite; a service account (CI) belongs to the workspace. */
export type MemberKind = "person" | "service";

/** Everything an API caller can be allowed to do; every admin route names its permission in http/access.ts. */
export const PERMISSIONS = [
  "workspace:read",
  "workspace:write",
  "member:write",
  "token:self",
  "token:admin",
  "app:write",
  "mini_program:create",
  "mini_program:read",
  "mini_program:write",
  "version:upload",
  "version:delete",
  "release:create",
  "release:write",
  "release:review",
  "allowlist:read",
  "allowlist:write",
  "audit:read",
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Permissions that apply to one mini program at a time (the others are workspace-wide). */
export const MINI_PROGRAM_PERMISSIONS: readonly Permission[] = [
  "mini_program:read",
  "mini_program:write",
  "version:upload",
  "version:delete",
  "release:create",
  "release:write",
  "release:review",
];

/** What a token may do at most, whatever its owner's role: `read`, `publish` (upload and create releases) or `full`. */
export const TOKEN_ACCESS = ["read", "publish", "full"] as const;
export type TokenAccess = (typeof TOKEN_ACCESS)[number];

/**
 * A token's scopes. `miniProgramIds` (null: no limit) confines mini program permissions to those
 * mini programs and takes away every workspace-wide permission except reading the workspace and
 * managing the token's own tokens.
 */
export interface TokenScope {
  access: TokenAccess;
  miniProgramIds: readonly string[] | null;
}

export const FULL_SCOPE: TokenScope = { access: "full", miniProgramIds: null };

const READ_PERMISSIONS: readonly Permission[] = ["workspace:read", "mini_program:read", "allowlist:read", "audit:read"];

const ACCESS_GRANTS: Readonly<Record<TokenAccess, readonly Permission[]>> = {
  read: READ_PERMISSIONS,
  publish: [...READ_PERMISSIONS, "version:upload", "release:create"],
  full: PERMISSIONS,
};

/** Workspace-wide permissions a token limited to named mini programs keeps. */
const LIMITED_WORKSPACE_PERMISSIONS: readonly Permission[] = ["workspace:read", "token:self"];

export interface Actor {
  memberId: string;
  workspaceId: string;
  tokenId: string;
  kind: MemberKind;
  role: WorkspaceRole;
  /** Roles on individual mini programs, by mini program id. */
  miniProgramRoles: Readonly<Record<string, MiniProgramRole>>;
  /** The presented token's scopes: intersected with the role on every request. */
  scope: TokenScope;
  /** The presented token's expiry (ms since the epoch; null: none). */
  tokenExpiresAt: number | null;
}

const WORKSPACE_GRANTS: Readonly<Record<WorkspaceRole, readonly Permission[]>> = {
  admin: PERMISSIONS,
  reviewer: ["workspace:read", "token:self", "mini_program:read", "release:review", "allowlist:read", "audit:read"],
  developer: ["workspace:read", "token:self", "mini_program:create"],
};

const MINI_PROGRAM_GRANTS: Readonly<Record<MiniProgramRole, readonly Permission[]>> = {
  admin: [
    "mini_program:read",
    "mini_program:write",
    "version:upload",
    "version:delete",
    "release:create",
    "release:write",
  ],
  developer: ["mini_program:read", "version:upload"],
};

/** True when the role alone (no token scope) grants `permission`, workspace-wide or on `miniProgramId`. */
export function roleGrants(
  role: WorkspaceRole,
  miniProgramRoles: Readonly<Record<string, MiniProgramRole>>,
  permission: Permission,
  miniProgramId?: string,
): boolean {
  if (WORKSPACE_GRANTS[role].includes(permission)) return true;
  if (miniProgramId === undefined) return false;
  const mpRole = miniProgramRoles[miniProgramId];
  return mpRole !== undefined && MINI_PROGRAM_GRANTS[mpRole].includes(permission);
}

/** True when a token of `scope` allows `permission` (on `miniProgramId`, for mini program permissions). */
export function scopeAllows(scope: TokenScope, permission: Permission, miniProgramId?: string): boolean {
  if (!ACCESS_GRANTS[scope.access].includes(permission)) return false;
  if (scope.miniProgramIds === null) return true;
  if (!MINI_PROGRAM_PERMISSIONS.includes(permission)) return LIMITED_WORKSPACE_PERMISSIONS.includes(permission);
  return miniProgramId !== undefined && scope.miniProgramIds.includes(miniProgramId);
}

/**
 * True when `actor` holds `permission`: its role grants it (workspace-wide, or on `miniProgramId`
 * when given) and its token's scope allows it. Mini program roles never grant workspace-wide
 * permissions, and a mini program permission asked without a mini program needs a workspace role.
 */
export function can(actor: Actor, permission: Permission, miniProgramId?: string): boolean {
  return (
    roleGrants(actor.role, actor.miniProgramRoles, permission, miniProgramId) &&
    scopeAllows(actor.scope, permission, miniProgramId)
  );
}

/**
 * True when `actor` holds `permission` on at least one mini program or workspace-wide: the route
 * gate's question, asked before the resource (and so its mini program) is known.
 */
export function mayHold(actor: Actor, permission: Permission): boolean {
  if (!ACCESS_GRANTS[actor.scope.access].includes(permission)) return false;
  if (!MINI_PROGRAM_PERMISSIONS.includes(permission)) return can(actor, permission);
  // A token limited to mini programs names at least one.
  if (WORKSPACE_GRANTS[actor.role].includes(permission)) return true;
  return Object.keys(actor.miniProgramRoles).some((id) => can(actor, permission, id));
}

/** The mini programs the actor may see: "all", or their ids. */
export function visibleMiniPrograms(actor: Actor): "all" | string[] {
  if (WORKSPACE_GRANTS[actor.role].includes("mini_program:read")) {
    return actor.scope.miniProgramIds === null ? "all" : [...actor.scope.miniProgramIds];
  }
  return Object.keys(actor.miniProgramRoles).filter((id) => can(actor, "mini_program:read", id));
}
