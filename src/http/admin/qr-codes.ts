import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { PREVIEW_TTL } from "../../domain/preview";
import { createQrCode, deleteQrCode, getQrCode, listQrCodes, qrCodeImage } from "../../usecases/manage-qr-codes";
import { ctxOf } from "../auth";
import { jsonBody } from "../json-body";
import { PageQuery, paged, pageSchema } from "../paging";
import { adminErrors, json, ok, SecurityBearer } from "../schemas";
import type { HttpEnv } from "../types";
import { validationHook } from "../validate";

const PAGE_PATH = /^[A-Za-z0-9_\-./~]*$/;
const QUERY_KEY = /^[A-Za-z0-9_.-]+$/;

const QrCodeSchema = z
  .object({
    id: z.string(),
    releaseId: z.string(),
    kind: z.enum(["default", "custom"]),
    pagePath: z.string().describe("The page the mini program opens on; empty for its home page."),
    query: z.record(z.string(), z.string()).describe("Page parameters passed to that page."),
    ttlSeconds: z.number().int().describe("How long each link minted for this code stays valid."),
    createdBy: z.string(),
    createdAt: z.number().int(),
  })
  .openapi("QrCode");

const QrCodeDetails = QrCodeSchema.extend({
  previewable: z.boolean().describe("Whether the release can be previewed now (created, in review or approved)."),
  link: z
    .string()
    .nullable()
    .describe("The deep link the code carries, with a preview token minted now; null when not previewable."),
  token: z.string().nullable().describe("The preview token inside the link (what the SDK sends in its check)."),
  expiresAt: z.number().int().nullable().describe("When this link stops working (ms since epoch)."),
}).openapi("QrCodeDetails");

export const CreateQrCode = z
  .object({
    kind: z.enum(["default", "custom"]).default("custom"),
    pagePath: z.string().max(256).regex(PAGE_PATH, "Letters, digits and _ - . / ~ only.").optional(),
    query: z
      .record(z.string().min(1).max(64).regex(QUERY_KEY, "Letters, digits and _ . - only."), z.string().max(256))
      .refine((q) => Object.keys(q).length <= 20, "At most 20 parameters.")
      .optional(),
    ttlSeconds: z.number().int().min(PREVIEW_TTL.min).max(PREVIEW_TTL.max).optional(),
  })
  .strict()
  .refine((b) => b.kind === "custom" || (b.pagePath === undefined && b.query === undefined), {
    message: "The default code opens the home page: it takes no pagePath or query.",
    path: ["pagePath"],
  })
  .openapi("CreateQrCode");

const ReleaseParams = z.object({ releaseId: z.string().min(1).max(64) });
const CodeParams = ReleaseParams.extend({ codeId: z.string().min(1).max(64) });
const Scale = z.object({ scale: z.coerce.number().int().min(1).max(32).default(8) }).strict();

const image = (type: string) => ({ description: "The QR code", content: { [type]: { schema: z.string() } } });

export const qrCodesRouter = new OpenAPIHono<HttpEnv>({ defaultHook: validationHook })
  .openapi(
    createRoute({
      method: "get",
      path: "/{releaseId}/qr-codes",
      tags: ["preview"],
      summary: "List a release's test QR codes",
      security: SecurityBearer,
      request: { params: ReleaseParams, query: z.object(PageQuery).strict() },
      responses: { 200: { description: "OK", ...ok(pageSchema(QrCodeSchema)) }, ...adminErrors },
    }),
    async (c) => {
      const codes = await listQrCodes(c.var.deps, ctxOf(c), c.req.valid("param").releaseId);
      return c.json(
        paged(codes, (q) => [q.createdAt, q.id], c.req.valid("query")),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{releaseId}/qr-codes",
      tags: ["preview"],
      summary: "Add a test QR code: a page and its parameters, or the default code again",
      description:
        "Only while the release is created, in review or approved (else 409 RELEASE_NOT_PREVIEWABLE). " +
        "`kind: default` restores the default code after it was deleted (409 CONFLICT while it exists). " +
        "The answer carries a link minted now; see docs/preview.md for what a device does with it.",
      security: SecurityBearer,
      middleware: [jsonBody] as const,
      request: { params: ReleaseParams, body: json(CreateQrCode) },
      responses: { 201: { description: "Created", ...ok(QrCodeDetails) }, ...adminErrors },
    }),
    async (c) =>
      c.json(await createQrCode(c.var.deps, ctxOf(c), c.req.valid("param").releaseId, c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{releaseId}/qr-codes/{codeId}",
      tags: ["preview"],
      summary: "A test QR code with a freshly minted link",
      description:
        "Every read mints a new link bound to the release's current content, valid for the code's ttlSeconds: " +
        "after any edit of the release, older links are refused and this one works.",
      security: SecurityBearer,
      request: { params: CodeParams },
      responses: { 200: { description: "OK", ...ok(QrCodeDetails) }, ...adminErrors },
    }),
    async (c) => {
      const { releaseId, codeId } = c.req.valid("param");
      return c.json(await getQrCode(c.var.deps, ctxOf(c), releaseId, codeId), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{releaseId}/qr-codes/{codeId}",
      tags: ["preview"],
      summary: "Delete a test QR code (its links stop working within seconds)",
      security: SecurityBearer,
      request: { params: CodeParams },
      responses: { 204: { description: "Deleted" }, ...adminErrors },
    }),
    async (c) => {
      const { releaseId, codeId } = c.req.valid("param");
      await deleteQrCode(c.var.deps, ctxOf(c), releaseId, codeId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{releaseId}/qr-codes/{codeId}/svg",
      tags: ["preview"],
      summary: "Download a test QR code as SVG (a freshly minted link)",
      security: SecurityBearer,
      request: { params: CodeParams, query: Scale },
      responses: { 200: image("image/svg+xml"), ...adminErrors },
    }),
    async (c) => {
      const { releaseId, codeId } = c.req.valid("param");
      const svg = await qrCodeImage(c.var.deps, ctxOf(c), releaseId, codeId, "svg", c.req.valid("query").scale);
      return c.body(svg, 200, imageHeaders("image/svg+xml", codeId, "svg"));
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{releaseId}/qr-codes/{codeId}/png",
      tags: ["preview"],
      summary: "Download a test QR code as PNG (a freshly minted link)",
      security: SecurityBearer,
      request: { params: CodeParams, query: Scale },
      responses: { 200: image("image/png"), ...adminErrors },
    }),
    async (c) => {
      const { releaseId, codeId } = c.req.valid("param");
      const png = await qrCodeImage(c.var.deps, ctxOf(c), releaseId, codeId, "png", c.req.valid("query").scale);
      return c.body(png, 200, imageHeaders("image/png", codeId, "png"));
    },
  );

/** Each download carries a new secret link: never cached, saved under the code's id. */
function imageHeaders(type: string, codeId: string, ext: string): Record<string, string> {
  return {
    "content-type": type,
    "cache-control": "no-store",
    "content-disposition": `attachment; filename="${codeId}.${ext}"`,
  };
}
