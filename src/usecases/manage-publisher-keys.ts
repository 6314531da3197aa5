import { AppError } from "../domain/errors";
import type { ManifestFile } from "../domain/package";
import { fromBase64url, KEY_ID_LENGTH, manifestText, statementText } from "../domain/publisher";
import type { Context, Deps, MiniProgramRecord, PublisherKeyRecord } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";

const BASE64URL_32_BYTES = /^[A-Za-z0-9_-]{43}$/;

/**
 * Adds a publisher's Ed25519 public key (raw 32 bytes, base64url) to the workspace: workspace admins.
 * Its keyId is derived from the key, so the same key is never added twice (CONFLICT). Audited.
 */
export async function addPublisherKey(deps: Deps, ctx: Context, input: { name: string; publicKey: string }) {
  requirePermission(ctx, "workspace:write");
  // Canonical base64url only (the decoder refuses stray low bits), so one key has one spelling.
  const raw = BASE64URL_32_BYTES.test(input.publicKey) ? fromBase64url(input.publicKey) : null;
  if (raw === null) {
    throw new AppError("VALIDATION_FAILED", "The request body is not valid.", [
      { pointer: "/publicKey", message: "Must be a raw 32-byte Ed25519 public key, base64url without padding." },
    ]);
  }
  const key: PublisherKeyRecord = {
    id: deps.ids.id("pub"),
    workspaceId: ctx.actor.workspaceId,
    keyId: (await deps.hasher.sha256Hex(raw)).slice(0, KEY_ID_LENGTH),
    name: input.name,
    publicKey: input.publicKey,
    createdBy: ctx.actor.memberId,
    createdAt: deps.clock.now(),
    revokedAt: null,
    revokedBy: null,
  };
  const audit = auditEntry(deps, ctx, {
    action: "publisher_key.add",
    resourceType: "publisher_key",
    resourceId: key.id,
    before: null,
    after: key,
  });
  if ((await deps.store.createPublisherKey(key, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The workspace already has this key.");
  }
  return key;
}

export async function listPublisherKeys(deps: Deps, ctx: Context) {
  requirePermission(ctx, "workspace:read");
  return deps.store.listPublisherKeys(ctx.actor.workspaceId);
}

export async function getPublisherKey(deps: Deps, ctx: Context, idOrKeyId: string) {
  requirePermission(ctx, "workspace:read");
  const key = await deps.store.getPublisherKey(ctx.actor.workspaceId, idOrKeyId);
  if (key === null) throw notFound("The publisher key");
  return key;
}

/**
 * Revokes a key: uploads signed with it are refused from now on (PUBLISHER_KEY_REVOKED). Versions it
 * signed before stay as they are (docs/publishing.md says why and what to do). CONFLICT when already
 * revoked. Audited.
 */
export async function revokePublisherKey(deps: Deps, ctx: Context, idOrKeyId: string) {
  requirePermission(ctx, "workspace:write");
  const key = await getPublisherKey(deps, ctx, idOrKeyId);
  const now = deps.clock.now();
  const revoked = { ...key, revokedAt: now, revokedBy: ctx.actor.memberId };
  const audit = auditEntry(deps, ctx, {
    action: "publisher_key.revoke",
    resourceType: "publisher_key",
    resourceId: key.id,
    before: key,
    after: revoked,
  });
  if ((await deps.store.revokePublisherKey(key, ctx.actor.memberId, now, audit)) === "conflict") {
    throw new AppError("CONFLICT", "This key was already revoked.");
  }
  return revoked;
}

/**
 * Checks an upload's publisher signature before anything is stored: over statementText of (mini
 * program key, version, package sha256, size, manifest sha256), by a key of the workspace that is not
 * revoked. Unsigned uploads pass unless the workspace requires signatures. Returns the keyId to store.
 */
export async function verifyUploadSignature(
  deps: Deps,
  ctx: Context,
  mp: MiniProgramRecord,
  upload: { version: string; sha256: string; size: number; files: readonly ManifestFile[] },
  signed: { signature: string | null; keyId: string | null },
): Promise<string | null> {
  if (signed.signature === null && signed.keyId === null) {
    const workspace = await deps.store.getWorkspace(ctx.actor.workspaceId);
    if (workspace?.requireSignedUploads) {
      throw new AppError(
        "PUBLISHER_SIGNATURE_REQUIRED",
        "This workspace requires signed uploads: send Updraft-Publisher-Signature and Updraft-Publisher-Key-Id.",
      );
    }
    return null;
  }
  if (signed.signature === null || signed.keyId === null) {
    throw new AppError(
      "PUBLISHER_SIGNATURE_INVALID",
      "A signed upload sends both Updraft-Publisher-Signature and Updraft-Publisher-Key-Id.",
    );
  }
  const key = await deps.store.getPublisherKey(ctx.actor.workspaceId, signed.keyId);
  if (key === null) throw new AppError("PUBLISHER_KEY_UNKNOWN", "The workspace has no publisher key with this id.");
  if (key.revokedAt !== null) throw new AppError("PUBLISHER_KEY_REVOKED", "This publisher key was revoked.");
  const manifestSha256 = await deps.hasher.sha256Hex(manifestText(upload.files));
  const statement = statementText({
    miniProgram: mp.key,
    version: upload.version,
    sha256: upload.sha256,
    size: upload.size,
    manifestSha256,
  });
  if (!deps.verifyEd25519(key.publicKey, new TextEncoder().encode(statement), signed.signature)) {
    throw new AppError(
      "PUBLISHER_SIGNATURE_INVALID",
      "The publisher signature does not verify for this package with this key (see docs/publishing.md for what is signed).",
    );
  }
  return key.keyId;
}
