import { z } from "@hono/zod-openapi";
import { AppError } from "../../domain/errors";
import { MAX_PREVIEW_TOKEN } from "../../domain/preview";
import type { CheckInput } from "../../usecases/check-updates";
import { parseJson, refuseProtoKeys } from "../json-body";
import { fieldErrors } from "../validate";

// Lone UTF-16 surrogates cannot be encoded as UTF-8 (KV keys, logs): refuse them at the edge.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const short = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !LONE_SURROGATE.test(s), "Must be valid Unicode.");
const optional = (max: number) =>
  short(max)
    .nullish()
    .transform((v) => v ?? null);

const SHA256 = /^[0-9a-f]{64}$/;
/** Length and count limits of the check body (shared by the schema and the fast acceptor). */
export const CHECK_LIMITS = {
  appId: 100,
  env: 32,
  deviceId: 128,
  userId: 128,
  appVersion: 64,
  platform: 32,
  osVersion: 64,
  brand: 64,
  model: 128,
  network: 32,
  language: 35,
  nonce: 128,
  attributeName: 64,
  attributeValue: 256,
  attributes: 50,
  miniPrograms: 200,
  miniProgramId: 128,
  version: 64,
  failed: 50,
  failedVersion: 64,
  previewToken: MAX_PREVIEW_TOKEN,
  patchFormats: 8,
  patchFormat: 32,
} as const;
const LIMITS = CHECK_LIMITS;

/** The device check body: the validating schema, which is also the OpenAPI document's. */
export const CheckRequest = z
  .object({
    appId: short(LIMITS.appId),
    env: short(LIMITS.env),
    deviceId: short(LIMITS.deviceId),
    userId: optional(LIMITS.userId),
    appVersion: optional(LIMITS.appVersion),
    platform: optional(LIMITS.platform),
    osVersion: optional(LIMITS.osVersion),
    brand: optional(LIMITS.brand),
    model: optional(LIMITS.model),
    network: optional(LIMITS.network),
    language: optional(LIMITS.language),
    attributes: z
      .record(short(LIMITS.attributeName), z.string().max(LIMITS.attributeValue))
      .refine((v) => Object.keys(v).length <= LIMITS.attributes, `At most ${LIMITS.attributes} attributes.`)
      .default({}),
    nonce: optional(LIMITS.nonce),
    patchFormats: z
      .array(short(LIMITS.patchFormat))
      .max(LIMITS.patchFormats)
      .default([])
      .describe("Patch formats the client can apply; reserved for incremental patches (accepted, not used yet)."),
    miniPrograms: z
      .array(
        z
          .object({
            id: short(LIMITS.miniProgramId),
            version: optional(LIMITS.version),
            sha256: z
              .string()
              .regex(SHA256, "Must be a lower-case hex sha256.")
              .nullish()
              .transform((v) => v ?? null),
            failed: z.array(short(LIMITS.failedVersion)).max(LIMITS.failed).default([]),
            sequence: z
              .number()
              .int()
              .min(0)
              .max(Number.MAX_SAFE_INTEGER)
              .nullish()
              .transform((v) => v ?? null)
              .describe(
                "The sequence of the release the installed version came from (0: shipped with the app): a rollback is offered only when newer.",
              ),
            previewToken: optional(LIMITS.previewToken).describe(
              "The token of a test QR code's link (docs/preview.md): this release is offered whatever its status.",
            ),
          })
          .strict(),
      )
      .min(1)
      .max(LIMITS.miniPrograms),
  })
  .strict()
  .openapi("CheckRequest");

// ---- fast path ----------------------------------------------------------------------------------
// Every device check is validated, and the schema above costs more than the decision it guards.
// `acceptValid` is a hand-written acceptor for the same language: it returns exactly what the schema
// would return, or null whenever it is not sure (anything invalid, unusual or unicode-escaped), in
// which case the schema decides and explains. A differential test holds the two together.

type Obj = Record<string, unknown>;
const TOP_KEYS: ReadonlySet<string> = new Set(Object.keys(CheckRequest.shape));
/** Marks "not sure": the schema takes over. */
const UNSURE = Symbol("unsure");

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isShort = (v: unknown, max: number): v is string => typeof v === "string" && v.length >= 1 && v.length <= max;
const optionalShort = (v: unknown, max: number): string | null | typeof UNSURE =>
  v === undefined || v === null ? null : isShort(v, max) ? v : UNSURE;

function onlyKeys(o: Obj, allowed: ReadonlySet<string>): boolean {
  for (const k in o) if (!allowed.has(k)) return false;
  return true;
}

/** The keys a mini program entry may have (compared directly: there are 20 entries per check). */
function onlyMiniProgramKeys(o: Obj): boolean {
  for (const k in o) {
    if (k !== "id" && k !== "version" && k !== "sha256" && k !== "failed" && k !== "previewToken" && k !== "sequence") {
      return false;
    }
  }
  return true;
}

function attributesOf(v: unknown): Record<string, string> | null {
  if (v === undefined) return {};
  if (!isObj(v)) return null;
  let n = 0;
  for (const k in v) {
    const value = v[k];
    if (++n > LIMITS.attributes || k === "__proto__" || !isShort(k, LIMITS.attributeName)) return null;
    if (typeof value !== "string" || value.length > LIMITS.attributeValue) return null;
  }
  return v as Record<string, string>;
}

function miniProgramsOf(v: unknown): CheckInput["miniPrograms"] | null {
  if (!Array.isArray(v) || v.length < 1 || v.length > LIMITS.miniPrograms) return null;
  const out: CheckInput["miniPrograms"] = [];
  for (const m of v) {
    if (!isObj(m) || !onlyMiniProgramKeys(m) || !isShort(m.id, LIMITS.miniProgramId)) return null;
    const version = optionalShort(m.version, LIMITS.version);
    const sha = m.sha256;
    if (version === UNSURE || !(sha === undefined || sha === null || (typeof sha === "string" && SHA256.test(sha)))) {
      return null;
    }
    const previewToken = optionalShort(m.previewToken, LIMITS.previewToken);
    if (previewToken === UNSURE) return null;
    const seq = m.sequence;
    if (!(seq === undefined || seq === null || (Number.isSafeInteger(seq) && (seq as number) >= 0))) return null;
    let failed: string[] = [];
    if (m.failed !== undefined) {
      if (!Array.isArray(m.failed) || m.failed.length > LIMITS.failed) return null;
      for (const f of m.failed) if (!isShort(f, LIMITS.failedVersion)) return null;
      failed = m.failed as string[];
    }
    out.push({
      id: m.id,
      version,
      sha256: (sha as string | null | undefined) ?? null,
      failed,
      previewToken,
      sequence: (seq as number | null | undefined) ?? null,
    });
  }
  return out;
}

/** The schema's output for `v`, or null when this acceptor is not sure (see above). */
export function acceptValid(v: unknown): CheckInput | null {
  if (!isObj(v) || !onlyKeys(v, TOP_KEYS)) return null;
  const { appId, env, deviceId } = v;
  if (!isShort(appId, LIMITS.appId) || !isShort(env, LIMITS.env) || !isShort(deviceId, LIMITS.deviceId)) return null;
  const userId = optionalShort(v.userId, LIMITS.userId);
  const appVersion = optionalShort(v.appVersion, LIMITS.appVersion);
  const platform = optionalShort(v.platform, LIMITS.platform);
  const osVersion = optionalShort(v.osVersion, LIMITS.osVersion);
  const brand = optionalShort(v.brand, LIMITS.brand);
  const model = optionalShort(v.model, LIMITS.model);
  const network = optionalShort(v.network, LIMITS.network);
  const language = optionalShort(v.language, LIMITS.language);
  const nonce = optionalShort(v.nonce, LIMITS.nonce);
  if (
    userId === UNSURE ||
    appVersion === UNSURE ||
    platform === UNSURE ||
    osVersion === UNSURE ||
    brand === UNSURE ||
    model === UNSURE ||
    network === UNSURE ||
    language === UNSURE ||
    nonce === UNSURE
  ) {
    return null;
  }
  let patchFormats: string[] = [];
  if (v.patchFormats !== undefined) {
    const p = v.patchFormats;
    if (!Array.isArray(p) || p.length > LIMITS.patchFormats) return null;
    for (const f of p) if (!isShort(f, LIMITS.patchFormat)) return null;
    patchFormats = p as string[];
  }
  const attributes = attributesOf(v.attributes);
  const miniPrograms = attributes === null ? null : miniProgramsOf(v.miniPrograms);
  if (attributes === null || miniPrograms === null) return null;
  return {
    appId,
    env,
    deviceId,
    userId,
    appVersion,
    platform,
    osVersion,
    brand,
    model,
    network,
    language,
    attributes,
    nonce,
    patchFormats,
    miniPrograms,
  };
}

/**
 * Parses and validates a check body: MALFORMED_JSON or VALIDATION_FAILED (with JSON pointers).
 * Bodies without `\u` escapes cannot hold lone surrogates (they were decoded as strict UTF-8), so
 * the fast acceptor may take them; everything else goes through the schema.
 */
export function parseCheckRequest(text: string): CheckInput {
  const value = parseJson(text);
  const fast = text.includes("\\u") ? null : acceptValid(value);
  if (fast !== null) return fast;
  refuseProtoKeys(value);
  const parsed = CheckRequest.safeParse(value);
  if (!parsed.success) {
    throw new AppError("VALIDATION_FAILED", "The request body is not valid.", fieldErrors(parsed.error));
  }
  return parsed.data;
}
