// Usage: <a JSON answer> | node scripts/json.mjs [--optional] <path>
// Prints the value at <path> of the JSON document on stdin (the README tours use it to keep ids).
//   path: segments separated by "/": an object key, an array index, or key=value (the first array
//   element whose key equals value), e.g. `id`, `results/0/package/url`, `items/name=testers/id`.
// Fails (exit 1, the document on stderr) when stdin is not JSON, is an error answer
// (application/problem+json: `status` >= 400), or has nothing at <path>; with --optional, nothing
// at <path> prints nothing and succeeds (errors still fail).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** The value at `path` of `doc`, or undefined. */
export function pick(doc, path) {
  let value = doc;
  for (const segment of path.split("/").filter((s) => s !== "")) {
    if (value === null || typeof value !== "object") return undefined;
    const eq = segment.indexOf("=");
    if (eq > 0 && Array.isArray(value)) {
      const key = segment.slice(0, eq);
      const wanted = segment.slice(eq + 1);
      value = value.find((item) => item !== null && typeof item === "object" && String(item[key]) === wanted);
    } else value = value[segment];
  }
  return value;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const optional = args[0] === "--optional";
  const path = optional ? args[1] : args[0];
  if (path === undefined) {
    console.error("usage: <json> | node scripts/json.mjs [--optional] <path>");
    process.exit(2);
  }
  const text = readFileSync(0, "utf8");
  const fail = (why) => {
    console.error(`json.mjs: ${why}${text.trim() === "" ? " (empty input)" : `:\n${text.trim()}`}`);
    process.exit(1);
  };
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    fail("not JSON");
  }
  if (doc !== null && typeof doc === "object" && typeof doc.status === "number" && doc.status >= 400) {
    fail(`an error answer (${doc.status}${doc.code ? ` ${doc.code}` : ""})`);
  }
  const value = pick(doc, path);
  if (value === undefined) {
    if (optional) process.exit(0);
    fail(`nothing at ${path}`);
  }
  console.log(typeof value === "object" ? JSON.stringify(value) : String(value));
}
