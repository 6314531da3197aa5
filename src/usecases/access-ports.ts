import type { Actor, MemberKind, MiniProgramRole, TokenScope, WorkspaceRole } from "../domain/permissions";
import type { AuditEntry, Page, WriteResult } from "./ports";

export interface WorkspaceRecord {
  id: string;
  name: string;
  allowSelfApproval: boolean;
  /** Every upload must carry a valid publisher signature (docs/publishing.md). */
  requireSignedUploads: boolean;
  createdAt: number;
  rowVersion: number;
}

export interface MemberRecord {
  id: string;
  workspaceId: string;
  name: string;
  /** "" when none was given (service accounts, members added by handle). */
  email: string;
  /** Unique in the workspace, lower case: a handle or an e-mail address. */
  handle: string;
  kind: MemberKind;
  role: WorkspaceRole;
  createdBy: string | null;
  createdAt: number;
  removedAt: number | null;
  rowVersion: number;
}

export interface TokenRecord {
  id: string;
  workspaceId: string;
  memberId: string;
  name: string;
  prefix: string;
  scopes: TokenScope;
  expiresAt: number | null;
  lastUsedAt: number | null;
  createdBy: string | null;
  createdAt: number;
  revokedAt: number | null;
  /** The token a rotation replaced this one with (it keeps working for the overlap only). */
  replacedBy: string | null;
}

/** A new token: its record and the hash of its secret (the secret itself is never stored). */
export type NewToken = Omit<TokenRecord, "lastUsedAt" | "revokedAt" | "replacedBy"> & { tokenHash: string };

export interface InviteRecord {
  id: string;
  workspaceId: string;
  memberId: string;
  secretHash: string;
  expiresAt: number;
  createdBy: string;
  createdAt: number;
}

export interface MiniProgramMemberRecord {
  miniProgramId: string;
  memberId: string;
  role: MiniProgramRole;
  createdAt: number;
}

export interface AuditFilter {
  actorMemberId?: string;
  resourceType?: string;
  resourceId?: string;
  action?: string;
  /** Inclusive lower bound, ms since the epoch. */
  from?: number;
  /** Exclusive upper bound, ms since the epoch. */
  to?: number;
}

/** "last_admin": the change would leave the workspace without a person who is an admin and can act. */
export type GuardedWrite = WriteResult | "last_admin";

/** Workspaces, members, invites and tokens in D1 (store/d1-access.ts). */
export interface AccessStore {
  /** The actor of a live token (not revoked, not expired at `now`, its member not removed), or null. */
  actorForToken(tokenHash: string, now: number): Promise<(Actor & { lastUsedAt: number | null }) | null>;
  /** Records the token's use, unless it was recorded less than a minute before `now`. */
  touchToken(tokenId: string, now: number): Promise<void>;
  hasWorkspace(): Promise<boolean>;
  createWorkspace(input: {
    workspace: WorkspaceRecord;
    member: MemberRecord;
    token: NewToken;
    audit: AuditEntry;
  }): Promise<WriteResult>;
  getWorkspace(workspaceId: string): Promise<WorkspaceRecord | null>;
  updateWorkspace(
    workspace: WorkspaceRecord,
    changes: Pick<WorkspaceRecord, "name" | "allowSelfApproval" | "requireSignedUploads">,
    audit: AuditEntry,
  ): Promise<WriteResult>;

  /** Inserts the member with its first invite (persons) and mini program roles; conflict on a taken handle. */
  createMember(
    member: MemberRecord,
    invite: InviteRecord | null,
    roles: readonly MiniProgramMemberRecord[],
    audit: AuditEntry,
  ): Promise<WriteResult>;
  listMembers(workspaceId: string, includeRemoved: boolean): Promise<MemberRecord[]>;
  getMember(workspaceId: string, memberId: string): Promise<MemberRecord | null>;
  /** Compare-and-swap on the member's row version; demoting the last person admin is "last_admin". */
  updateMember(
    member: MemberRecord,
    changes: Pick<MemberRecord, "role" | "name">,
    audit: AuditEntry,
  ): Promise<GuardedWrite>;
  /** Marks the member removed, revokes its tokens and invites, drops its mini program roles. */
  removeMember(member: MemberRecord, now: number, audit: AuditEntry): Promise<GuardedWrite>;
  /** Stores a new invite for the member; its older unused invites stop working. */
  createInvite(invite: InviteRecord, audit: AuditEntry): Promise<WriteResult>;
  /**
   * Consumes a live invite (unused, unexpired, member not removed) and stores `token` as the
   * member's (its owner and workspace set from the invite), all or nothing. Null when there is no
   * such invite.
   */
  acceptInvite(
    secretHash: string,
    now: number,
    token: NewToken,
    audit: (member: MemberRecord, token: NewToken) => AuditEntry,
  ): Promise<{ member: MemberRecord; token: NewToken } | null>;

  listMiniProgramMembers(miniProgramId: string): Promise<MiniProgramMemberRecord[]>;
  /** The member's roles on mini programs. */
  memberMiniProgramRoles(memberId: string): Promise<MiniProgramMemberRecord[]>;
  /** Gives the member the role on the mini program (replacing any it had). */
  setMiniProgramMember(record: MiniProgramMemberRecord, audit: AuditEntry): Promise<WriteResult>;
  /** "conflict" when the member had no role there. */
  removeMiniProgramMember(miniProgramId: string, memberId: string, audit: AuditEntry): Promise<WriteResult>;

  createToken(token: NewToken, audit: AuditEntry): Promise<WriteResult>;
  /** The workspace's tokens (of one member when given), newest first. */
  listTokens(workspaceId: string, memberId: string | null): Promise<TokenRecord[]>;
  getToken(workspaceId: string, tokenId: string): Promise<TokenRecord | null>;
  /** Revokes a live token; refuses the last live token of the last person admin ("last_admin"). */
  revokeToken(token: TokenRecord, now: number, audit: AuditEntry): Promise<GuardedWrite>;
  /** Stores `next` and shortens the old token's life to `oldExpiresAt`, if it is still live. */
  rotateToken(old: TokenRecord, next: NewToken, oldExpiresAt: number, audit: AuditEntry): Promise<WriteResult>;

  /** Whether a person admin of the workspace (not removed) holds a token that works at `now`. */
  hasActingAdmin(workspaceId: string, now: number): Promise<boolean>;
  /** Whether `id` names a resource of the workspace (the workspace itself, a member, token, app, …). */
  ownsResource(workspaceId: string, id: string): Promise<boolean>;
  listAudit(workspaceId: string, filter: AuditFilter, cursor: string | null, limit: number): Promise<Page<AuditEntry>>;
}

/** Failed authentications per client address (store/d1-throttle.ts). */
export interface AuthThrottle {
  /** Seconds the address must wait before trying again, or 0 when it may try now. */
  retryAfter(key: string, now: number): Promise<number>;
  /** Counts a failed attempt from the address. */
  fail(key: string, now: number): Promise<void>;
}
