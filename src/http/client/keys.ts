import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AppError } from "../../domain/errors";
import type { HttpEnv } from "../types";

const KeysSchema = z
  .object({ keys: z.array(z.object({ keyId: z.string(), alg: z.literal("Ed25519"), publicKey: z.string() })) })
  .openapi("SigningKeys");

export const keysRouter = new OpenAPIHono<HttpEnv>().openapi(
  createRoute({
    method: "get",
    path: "/keys",
    tags: ["device"],
    summary: "Public keys that verify check responses (base64url raw Ed25519)",
    responses: { 200: { description: "OK", content: { "application/json": { schema: KeysSchema } } } },
  }),
  async (c) => {
    const signer = c.var.deps.signer;
    if (signer === null) throw new AppError("SERVICE_MISCONFIGURED", "The service has no signing key configured.");
    c.header("cache-control", "public, max-age=300");
    return c.json(
      { keys: [{ keyId: signer.keyId, alg: "Ed25519" as const, publicKey: await signer.publicKey() }] },
      200,
    );
  },
);
