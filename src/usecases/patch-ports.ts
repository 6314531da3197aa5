import type { AuditEntry } from "./ports";

// Ports of incremental patches (docs/patches.md): their rows in the relational store, and the
// Queue their build jobs travel on.

export type PatchStatus = "pending" | "ready" | "failed" | "skipped";

export interface PatchRecord {
  id: string;
  workspaceId: string;
  miniProgramId: string;
  baseVersionId: string;
  targetVersionId: string;
  format: string;
  status: PatchStatus;
  sha256: string | null;
  size: number | null;
  attempts: number;
  error: string | null;
  buildMs: number | null;
  memoryBytes: number | null;
  createdAt: number;
  updatedAt: number;
}

/** A patch with the version numbers people know its ends by. */
export interface PatchDetails extends PatchRecord {
  baseVersion: string;
  targetVersion: string;
}

/** How a finished job leaves its patch. */
export type PatchOutcome =
  | { status: "ready"; sha256: string; size: number; buildMs: number; memoryBytes: number }
  | { status: "failed" | "skipped"; error: string; buildMs: number | null; memoryBytes: number | null };

export interface PatchStore {
  /**
   * The versions last delivered on the environment before `targetVersionId` (newest release first,
   * each version once, deleted ones and the target itself left out): releases that were ever canary
   * or full there, rollback releases included.
   */
  patchBases(environmentId: string, miniProgramId: string, targetVersionId: string, limit: number): Promise<string[]>;
  /** Inserts the pairs that have no row yet (as pending); returns the rows of every pair asked. */
  ensurePatches(rows: readonly PatchRecord[]): Promise<PatchRecord[]>;
  getPatch(patchId: string): Promise<PatchRecord | null>;
  /** Counts one more attempt of the job; null when the row is gone (its version was deleted). */
  startPatchAttempt(patchId: string, now: number): Promise<PatchRecord | null>;
  /**
   * Records a job's outcome unless the patch is already ready (a duplicate delivery lost the race).
   * A `ready` patch bumps the snapshot version of the environments releasing the mini program, which
   * the caller then republishes. False when nothing changed.
   */
  finishPatch(patchId: string, outcome: PatchOutcome, now: number): Promise<boolean>;
  /** Keeps why an attempt failed (the patch stays pending while the Queue retries). */
  notePatchError(patchId: string, error: string, now: number): Promise<void>;
  /** Marks a job that ran out of retries failed (unless it became ready meanwhile). */
  failPatch(patchId: string, error: string, now: number): Promise<void>;
  listPatches(miniProgramId: string): Promise<PatchDetails[]>;
  /** A patch that is not ready back to pending with no attempts, audited; false (nothing written) when ready. */
  reopenPatch(patchId: string, now: number, audit: AuditEntry): Promise<boolean>;
  /** Deletes every patch from or to the version; returns the sha256 of those that had bytes. */
  deletePatchesOf(versionId: string): Promise<string[]>;
  /** Whether a patch row (any status) still names these bytes. */
  patchReferenced(sha256: string): Promise<boolean>;
}

/** One patch build job on the Queue: which row to build. */
export interface PatchJob {
  patchId: string;
}

/** The producer side of the patch Queue; null when the deployment has no Queue bound (no patches). */
export interface PatchQueue {
  send(jobs: readonly PatchJob[]): Promise<void>;
}
