import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "../../domain/errors";
import type { HttpEnv } from "../types";

const KeysSchema = z
  .object({
    keys: z.array(
      z.object({
        keyId: z.string(),
        alg: z.literal("Ed25519"),
        publicKey: z.string().describe("base64url raw 32-byte Ed25519 public key"),
        notBefore: z.number().int().nullable().describe("Unix ms from which answers it signs verify; null: always"),
        notAfter: z.number().int().nullable().describe("Unix ms after which answers it signs are refused; null: open"),
      }),
    ),
    keyset: z
      .object({
        payload: z.string().describe("The key set's JSON text, exactly as signed"),
        signatures: z.array(z.object({ keyId: z.string(), signature: z.string() })),
      })
      .nullable()
      .describe(
        "The key list signed by the offline root key (signature over `updraft-keyset-v1\\n` + payload); null when the deployment has none",
      ),
    keysetVersion: z.number().int().nullable(),
  })
  .openapi("SigningKeys");

export const keysRouter = new OpenAPIHono<HttpEnv>().openapi(
  createRoute({
    method: "get",
    path: "/keys",
    tags: ["device"],
    summary: "Keys that verify check answers, with their validity windows and the root-signed key set",
    description:
      "A client trusts a key only through the key set, whose signatures it verifies with the root keys it pins " +
      "(docs/key-rotation.md). Without a key set the deployment lists its signing key with no window.",
    responses: { 200: { description: "OK", content: { "application/json": { schema: KeysSchema } } } },
  }),
  async (c) => {
    const deps = c.var.deps;
    if (deps.signer === null) throw new AppError("SERVICE_MISCONFIGURED", "The service has no signing key configured.");
    const keys = deps.serviceKeys();
    if (typeof keys === "string") throw new AppError("SERVICE_MISCONFIGURED", keys);
    // Revalidated on every fetch: after a rotation no cache may hand devices the older key set.
    c.header("cache-control", "no-cache");
    return c.json({ keys: keys.keys, keyset: keys.keyset, keysetVersion: keys.version }, 200);
  },
);
