import { approvalContent } from "../domain/approval";
import { AppError } from "../domain/errors";
import { PREVIEW_TTL, previewHash } from "../domain/preview";
import { PREVIEW_STATUSES } from "../domain/release-status";
import type {
  Context,
  Deps,
  MiniProgramRecord,
  QrCodeRecord,
  ReleaseDetails,
  ReleaseRecord,
  VersionRecord,
} from "./ports";
import { assertDeliveryFits, publishDelivery } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";

/** Test QR codes per release at most (each is listed in every delivery of its mini program). */
export const MAX_QR_CODES = 20;
/** Longest link a code may carry: still a QR code (version 25 or less) that phones scan reliably. */
export const MAX_LINK_LENGTH = 1000;

/** A test QR code as the API shows it: what it opens, and a freshly minted link while it can preview. */
export interface QrCodeView extends QrCodeRecord {
  /** Whether the release can be previewed now (created, in review or approved). */
  previewable: boolean;
  /** The deep link the code carries (docs/preview.md), minted now; null when not previewable. */
  link: string | null;
  /** The preview token inside the link; null when not previewable. */
  token: string | null;
  /** When the link stops working (ms since epoch); null when not previewable. */
  expiresAt: number | null;
}

export interface QrCodeInput {
  kind: "default" | "custom";
  pagePath?: string;
  query?: Record<string, string>;
  ttlSeconds?: number;
}

/** The default code every release starts with: the mini program's home page, links valid 7 days. */
export function defaultQrCode(
  deps: Deps,
  workspaceId: string,
  release: Pick<ReleaseRecord, "id" | "createdBy" | "createdAt">,
): QrCodeRecord {
  return {
    id: deps.ids.id("qr"),
    workspaceId,
    releaseId: release.id,
    kind: "default",
    pagePath: "",
    query: {},
    ttlSeconds: PREVIEW_TTL.default,
    createdBy: release.createdBy,
    createdAt: release.createdAt,
  };
}

/** The release, if the actor may manage its test QR codes (release:write on its mini program). */
async function releaseFor(deps: Deps, ctx: Context, releaseId: string): Promise<ReleaseDetails> {
  const release = await deps.store.getRelease(ctx.actor.workspaceId, releaseId);
  if (release === null) throw notFound("The release");
  requirePermission(ctx, "release:write", release.miniProgramId);
  return release;
}

async function codeFor(deps: Deps, release: ReleaseRecord, codeId: string): Promise<QrCodeRecord> {
  const code = await deps.store.getQrCode(release.id, codeId);
  if (code === null) throw notFound("The QR code");
  return code;
}

/**
 * The code with a link minted now: `updraft://preview?…` naming the target, the mini program and the
 * version, with a token bound to the release's current content hash (any edit makes older links
 * stale) that expires `ttlSeconds` from now. `version` is the release's, when the caller read it.
 */
async function view(
  deps: Deps,
  release: ReleaseDetails,
  code: QrCodeRecord,
  version?: VersionRecord | null,
): Promise<QrCodeView> {
  const previewable = PREVIEW_STATUSES.includes(release.status);
  const current = previewable ? (version ?? (await deps.store.getVersion(release.versionId))) : null;
  if (current === null || current.deletedAt !== null) {
    return { ...code, previewable: false, link: null, token: null, expiresAt: null };
  }
  const hash = previewHash(await deps.hasher.sha256Hex(approvalContent(release)));
  const expiresAt = Math.floor(deps.clock.now() / 1000) + code.ttlSeconds;
  const token = tokensOf(deps).mint({ codeId: code.id, expiresAt, hash });
  const params = new URLSearchParams({
    app: release.appKey,
    env: release.env,
    mp: release.miniProgramKey,
    version: release.version,
  });
  params.set("token", token);
  if (code.pagePath !== "") params.set("page", code.pagePath);
  const query = new URLSearchParams(code.query).toString();
  if (query !== "") params.set("query", query);
  return { ...code, previewable: true, link: `updraft://preview?${params}`, token, expiresAt: expiresAt * 1000 };
}

/** The preview token minter; SERVICE_MISCONFIGURED without a signing key (checked before any write). */
function tokensOf(deps: Deps) {
  if (deps.previews === null) {
    throw new AppError(
      "SERVICE_MISCONFIGURED",
      "The service has no signing key configured, so it cannot sign previews.",
    );
  }
  return deps.previews;
}

export async function listQrCodes(deps: Deps, ctx: Context, releaseId: string): Promise<QrCodeRecord[]> {
  const release = await releaseFor(deps, ctx, releaseId);
  return deps.store.listQrCodes(release.id);
}

export async function getQrCode(deps: Deps, ctx: Context, releaseId: string, codeId: string): Promise<QrCodeView> {
  const release = await releaseFor(deps, ctx, releaseId);
  return view(deps, release, await codeFor(deps, release, codeId));
}

/**
 * Adds a code to a release that can be previewed (else RELEASE_NOT_PREVIEWABLE): a custom one (a
 * page and query parameters), or the default one again after it was deleted (CONFLICT while it
 * exists). Audited; the release's delivery lists the new code, so its links work within seconds.
 */
export async function createQrCode(deps: Deps, ctx: Context, releaseId: string, input: QrCodeInput) {
  const release = await releaseFor(deps, ctx, releaseId);
  tokensOf(deps);
  const [mp, version, existing] = await Promise.all([
    deps.store.getMiniProgram(ctx.actor.workspaceId, release.miniProgramId),
    deps.store.getVersion(release.versionId),
    deps.store.listQrCodes(release.id),
  ]);
  if (existing.length >= MAX_QR_CODES) {
    throw new AppError("CONFLICT", `A release has at most ${MAX_QR_CODES} test QR codes: delete one first.`);
  }
  const code: QrCodeRecord = {
    id: deps.ids.id("qr"),
    workspaceId: ctx.actor.workspaceId,
    releaseId: release.id,
    kind: input.kind,
    pagePath: input.kind === "default" ? "" : (input.pagePath ?? ""),
    query: input.kind === "default" ? {} : (input.query ?? {}),
    ttlSeconds: input.ttlSeconds ?? PREVIEW_TTL.default,
    createdBy: ctx.actor.memberId,
    createdAt: deps.clock.now(),
  };
  // What the code will carry must fit in a QR code that phones scan reliably. The link minted here is
  // the one answered: the content it is bound to cannot change in between (this write does not).
  const minted = await view(deps, release, code, version);
  if (minted.link !== null && minted.link.length > MAX_LINK_LENGTH) {
    throw new AppError("VALIDATION_FAILED", "The request body is not valid.", [
      {
        pointer: "/query",
        message: `The page and its parameters make the link longer than ${MAX_LINK_LENGTH} characters.`,
      },
    ]);
  }
  if (mp !== null && version !== null && PREVIEW_STATUSES.includes(release.status)) {
    await assertPreviewFits(deps, mp, version, release, [...existing.map((c) => c.id), code.id]);
  }
  const audit = auditEntry(deps, ctx, {
    action: "release.qr_code.create",
    resourceType: "release",
    resourceId: release.id,
    before: null,
    after: code,
  });
  const result = await deps.store.createQrCode(code, release, PREVIEW_STATUSES, audit);
  if (result === "not_previewable") throw notPreviewable(release.status);
  if (result === "conflict") throw new AppError("CONFLICT", "The release already has its default QR code.");
  await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
  return minted;
}

/** Deletes a code: links it carried stop working once delivery has the change (seconds). Audited. */
export async function deleteQrCode(deps: Deps, ctx: Context, releaseId: string, codeId: string) {
  const release = await releaseFor(deps, ctx, releaseId);
  const code = await codeFor(deps, release, codeId);
  const audit = auditEntry(deps, ctx, {
    action: "release.qr_code.delete",
    resourceType: "release",
    resourceId: release.id,
    before: code,
    after: null,
  });
  if ((await deps.store.deleteQrCode(code, release, audit)) === "conflict") throw notFound("The QR code");
  await publishDelivery(deps, release.environmentId, [release.miniProgramId]);
}

/** The code drawn as an SVG or PNG image of a link minted now: only while the release can be previewed. */
export async function qrCodeImage(
  deps: Deps,
  ctx: Context,
  releaseId: string,
  codeId: string,
  format: "svg" | "png",
  scale: number,
): Promise<string | Uint8Array<ArrayBuffer>> {
  const release = await releaseFor(deps, ctx, releaseId);
  const code = await view(deps, release, await codeFor(deps, release, codeId));
  if (code.link === null) throw notPreviewable(release.status);
  return format === "svg" ? deps.qrImages.svg(code.link, scale) : deps.qrImages.png(code.link, scale);
}

function notPreviewable(status: string): AppError {
  return new AppError(
    "RELEASE_NOT_PREVIEWABLE",
    `A ${status} release cannot be previewed: test QR codes work while a release is created, in review or approved.`,
  );
}

/**
 * Refuses (SNAPSHOT_TOO_LARGE, before anything is written) a change to a release that can be
 * previewed when its mini program's delivery part would outgrow its bound: a previewable release with
 * codes is delivered (as a preview) like a live one. `release` is the release as it will be; `codes`
 * the ids of its codes afterwards. The mini program and version are added to the measured state when
 * the target does not have them yet (its first release there).
 */
export async function assertPreviewFits(
  deps: Deps,
  mp: MiniProgramRecord,
  version: VersionRecord,
  release: Omit<ReleaseRecord, "seq"> & { seq?: number },
  codes: readonly string[],
): Promise<void> {
  const contentHash = await deps.hasher.sha256Hex(approvalContent(release));
  await assertDeliveryFits(deps, release.environmentId, mp.id, (source) => {
    if (!source.miniPrograms.some((m) => m.id === mp.id)) source.miniPrograms.push(mp);
    if (!source.versions.some((v) => v.id === version.id)) {
      source.versions.push({ ...version, deleted: version.deletedAt !== null });
    }
    const seq = release.seq ?? Math.max(0, ...source.releases.map((r) => r.seq)) + 1;
    source.releases = source.releases.filter((r) => r.id !== release.id);
    source.releases.push({ ...release, seq, contentHash });
    source.qrCodes = [
      ...(source.qrCodes ?? []).filter((c) => c.releaseId !== release.id),
      ...codes.map((id) => ({ id, releaseId: release.id })),
    ];
  });
}
