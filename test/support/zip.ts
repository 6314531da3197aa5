import { strToU8, zipSync } from "fflate";

/** A zip of text files, deterministic for equal inputs (fixed mtime). */
export function makeZip(files: Record<string, string>): Uint8Array {
  const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const [path, text] of Object.entries(files)) entries[path] = [strToU8(text), { mtime: new Date(2020, 0, 1) }];
  return zipSync(entries, { level: 6 });
}

export async function sha256Hex(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
