import { z } from "@hono/zod-openapi";
import { isValidRange, parseVersion } from "../domain/semver";

/** A semantic version; parsed into its canonical form (`v1.2.3` → `1.2.3`). */
export const SemverSchema = z
  .string()
  .max(64)
  .transform((v, ctx) => {
    const parsed = parseVersion(v);
    if (parsed === null) {
      ctx.addIssue({ code: "custom", message: "Must be a semantic version such as 1.2.3." });
      return z.NEVER;
    }
    return parsed;
  })
  .openapi({ type: "string", example: "1.2.0" });

/** A semver range over host app versions (`*`, `>=8.0.0`, `^8.1 || ^9`). */
export const RangeSchema = z
  .string()
  .min(1)
  .max(256)
  .refine(isValidRange, "Must be a semver range such as >=8.0.0 or *.")
  .openapi({ example: ">=8.0.0" });
