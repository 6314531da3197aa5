import type { Hook } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { type FieldError, MAX_FIELD_ERRORS } from "../domain/errors";
import { problem } from "./problem";
import type { HttpEnv } from "./types";

const escapePointer = (segment: PropertyKey) => String(segment).replaceAll("~", "~0").replaceAll("/", "~1");

/**
 * Zod issues as JSON pointers, the first MAX_FIELD_ERRORS of them. Zod's messages name expected
 * types and limits, not received values, except for unrecognized keys, whose message is replaced;
 * custom messages are ours.
 */
export function fieldErrors(error: ZodError): FieldError[] {
  return error.issues.slice(0, MAX_FIELD_ERRORS).map((issue) => ({
    pointer: issue.path.length === 0 ? "" : `/${issue.path.map(escapePointer).join("/")}`,
    // Zod names unrecognized keys in its message: those are input, so they are never sent back.
    message: issue.code === "unrecognized_keys" ? "Unknown fields are not allowed here." : issue.message,
  }));
}

/** The hook every route's validator uses: a failed parse becomes a VALIDATION_FAILED problem. */
// biome-ignore lint/suspicious/noExplicitAny: the hook is shared by routes of every input shape
export const validationHook: Hook<any, HttpEnv, any, any> = (result, c) => {
  if (!result.success) {
    const where = result.target === "json" ? "body" : result.target;
    return problem(c, "VALIDATION_FAILED", `The request ${where} is not valid.`, fieldErrors(result.error));
  }
};
