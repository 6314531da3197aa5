import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "../../domain/errors";
import { deleteVersion } from "../../usecases/delete-version";
import { listPatches, retryPatch } from "../../usecases/patches";
import { getVersion, listVersions, uploadVersion } from "../../usecases/upload-version";
import { ctxOf } from "../auth";
import { readBodyWithLimit } from "../body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, problemResponse, SecurityBearer, UpdateModeSchema } from "../schemas";
import { RangeSchema, SemverSchema } from "../semver-schema";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const VersionSchema = z
  .object({
    id: z.string(),
    miniProgramId: z.string(),
    version: z.string(),
    sha256: z.string(),
    size: z.number().int(),
    fileCount: z.number().int(),
    manifestSha256: z
      .string()
      .nullable()
      .describe(
        "sha256 of the canonical manifest text, served at /v1/packages/{manifestSha256}; null for versions uploaded before manifests were kept",
      ),
    compat: z.string(),
    defaultUpdateMode: UpdateModeSchema,
    releaseNote: z.string(),
    publisherSignature: z.string().nullable(),
    publisherKeyId: z.string().nullable(),
    uploadedBy: z.string(),
    createdAt: z.number().int(),
    deletedAt: z.number().int().nullable(),
  })
  .openapi("Version");

const PatchSchema = z
  .object({
    id: z.string(),
    miniProgramId: z.string(),
    baseVersion: z.string(),
    targetVersion: z.string(),
    format: z.string(),
    status: z
      .enum(["pending", "ready", "failed", "skipped"])
      .describe(
        "pending: queued or retrying; ready: offered to devices on the base; failed: the job gave up (its dead " +
          "letter), devices get full packages; skipped: not worth a patch (see error)",
      ),
    sha256: z.string().nullable().describe("The patch bytes, served at /v1/packages/{sha256}; null until ready"),
    size: z.number().int().nullable(),
    attempts: z.number().int(),
    error: z.string().nullable().describe("Why the last attempt failed, or why the patch was skipped"),
    buildMs: z.number().int().nullable(),
    memoryBytes: z.number().int().nullable(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .openapi("Patch");

const ManifestFileSchema = z.object({ path: z.string(), size: z.number().int(), sha256: z.string() });

const Params = z.object({ miniProgramId: z.string().min(1).max(128) });

const UploadQuery = z
  .object({
    version: SemverSchema,
    compat: RangeSchema.default("*"),
    updateMode: UpdateModeSchema.optional(),
    releaseNote: z.string().max(2000).default(""),
  })
  .strict();

const UploadHeaders = z.object({
  "updraft-publisher-signature": z.string().max(512).optional(),
  "updraft-publisher-key-id": z.string().max(128).optional(),
});

const ZIP_TYPES = new Set(["application/zip", "application/x-zip-compressed", "application/octet-stream"]);

export const versionsRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "post",
      path: "/{miniProgramId}/versions",
      tags: ["versions"],
      summary: "Upload a version: the zip bytes are the body",
      description:
        "Updraft computes the sha256, size and per-file manifest, stores the bytes content-addressed (create-only) " +
        "and then the version row. Identical bytes under an existing version are an idempotent replay (200); " +
        "different bytes are 409 VERSION_CONFLICT. The size limit is enforced while the body is read.",
      security: SecurityBearer,
      request: {
        params: Params,
        query: UploadQuery,
        headers: UploadHeaders,
        body: { content: { "application/zip": { schema: z.string().openapi({ format: "binary" }) } }, required: true },
      },
      responses: {
        200: {
          description: "Replay of an identical upload",
          content: { "application/json": { schema: VersionSchema } },
        },
        201: { description: "Created", content: { "application/json": { schema: VersionSchema } } },
        422: problemResponse("Not a valid zip, or unsafe entry paths"),
        ...adminErrors,
      },
    }),
    async (c) => {
      const mediaType = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
      if (!ZIP_TYPES.has(mediaType)) {
        throw new AppError("UNSUPPORTED_MEDIA_TYPE", "The package must be sent as application/zip.");
      }
      const deps = c.var.deps;
      const query = c.req.valid("query");
      const headers = c.req.valid("header");
      const result = await uploadVersion(deps, ctxOf(c), {
        miniProgramId: c.req.valid("param").miniProgramId,
        version: query.version,
        compat: query.compat,
        updateMode: query.updateMode ?? null,
        releaseNote: query.releaseNote,
        publisherSignature: headers["updraft-publisher-signature"] ?? null,
        publisherKeyId: headers["updraft-publisher-key-id"] ?? null,
        readBody: () => readBodyWithLimit(c.req.raw, deps.limits.maxPackageBytes),
      });
      return result.created ? c.json(result.version, 201) : c.json(result.version, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{miniProgramId}/versions",
      tags: ["versions"],
      summary: "List the versions of a mini program, newest first",
      description: "`status`: `active` (not deleted) or `deleted`; both when left out.",
      security: SecurityBearer,
      request: {
        params: Params,
        query: z.object({ ...PageQuery, status: z.enum(["active", "deleted"]).optional() }).strict(),
      },
      responses: {
        200: {
          description: "OK",
          content: { "application/json": { schema: pageSchema(VersionSchema) } },
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const all = await listVersions(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId);
      const items =
        query.status === undefined ? all : all.filter((v) => (v.deletedAt === null) === (query.status === "active"));
      return c.json(
        paged(items, (v) => [-v.createdAt, v.id], query),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{miniProgramId}/versions/{version}",
      tags: ["versions"],
      summary: "Get a version with its file manifest",
      security: SecurityBearer,
      request: { params: Params.extend({ version: SemverSchema }) },
      responses: {
        200: {
          description: "OK",
          content: { "application/json": { schema: VersionSchema.extend({ files: z.array(ManifestFileSchema) }) } },
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const p = c.req.valid("param");
      return c.json(await getVersion(c.var.deps, ctxOf(c), p.miniProgramId, p.version), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{miniProgramId}/versions/{version}",
      tags: ["versions"],
      summary: "Delete a version (irreversible)",
      description:
        "Workspace admins and the mini program's admins. Refused with 409 VERSION_IN_USE while a release of it " +
        "is canary, full or paused. The version stays known to devices but cannot be released or uploaded " +
        "again; its package bytes are removed unless another version has the same bytes. Copies a CDN cached " +
        "may outlive the deletion until they expire there.",
      security: SecurityBearer,
      request: { params: Params.extend({ version: SemverSchema }) },
      responses: {
        200: { description: "Deleted", content: { "application/json": { schema: VersionSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => {
      const p = c.req.valid("param");
      return c.json(await deleteVersion(c.var.deps, ctxOf(c), p.miniProgramId, p.version), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{miniProgramId}/patches",
      tags: ["versions"],
      summary: "List the incremental patches between versions of a mini program, newest first",
      description:
        "Every patch built or being built (docs/patches.md), with its status: a job that kept failing is `failed` " +
        "with its last error (its dead letter). `status` filters.",
      security: SecurityBearer,
      request: {
        params: Params,
        query: z
          .object({ ...PageQuery, status: z.enum(["pending", "ready", "failed", "skipped"]).optional() })
          .strict(),
      },
      responses: {
        200: { description: "OK", content: { "application/json": { schema: pageSchema(PatchSchema) } } },
        ...adminErrors,
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const all = await listPatches(c.var.deps, ctxOf(c), c.req.valid("param").miniProgramId);
      const items = query.status === undefined ? all : all.filter((p) => p.status === query.status);
      return c.json(
        paged(items, (p) => [-p.createdAt, p.id], query),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{miniProgramId}/patches/{patchId}/retry",
      tags: ["versions"],
      summary: "Build a patch again",
      description:
        "Puts a `failed`, `skipped` or `pending` patch back to `pending` with no attempts and queues its job again: " +
        "a failed one once its cause is fixed, a skipped one after a setting changed, a pending one whose job was " +
        "lost. A `ready` patch is 409 CONFLICT.",
      security: SecurityBearer,
      request: { params: Params.extend({ patchId: z.string().min(1).max(128) }) },
      responses: {
        202: { description: "Queued", content: { "application/json": { schema: PatchSchema } } },
        ...adminErrors,
      },
    }),
    async (c) => {
      const p = c.req.valid("param");
      return c.json(await retryPatch(c.var.deps, ctxOf(c), p.miniProgramId, p.patchId), 202);
    },
  );
