import { AppError } from "../domain/errors";

/**
 * Reads a request body into memory, refusing it with PAYLOAD_TOO_LARGE as soon as more than `limit`
 * bytes arrive (a declared Content-Length over the limit is refused before reading anything), and
 * with UNSUPPORTED_MEDIA_TYPE when it is content-coded (gzip…): no route decodes one, and reading the
 * coded bytes as JSON, list text or a zip would only produce a misleading error or stored garbage.
 */
export async function readBodyWithLimit(request: Request, limit: number): Promise<Uint8Array> {
  const headers = request.headers;
  const coding = headers.get("content-encoding");
  if (coding !== null && coding.trim().toLowerCase() !== "identity") {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", "Content-Encoding is not supported: send the body uncompressed.");
  }
  const declared = headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw new AppError("PAYLOAD_TOO_LARGE", `The body exceeds the limit of ${limit} bytes.`);
  }
  // A declared length is enforced by the runtime's HTTP framing: one native read is enough (and it
  // is much cheaper than pumping chunks through a reader). `request.body` is not touched on this
  // path: reading it builds a stream object, and arrayBuffer() of a bodiless request is empty.
  if (declared !== null) {
    const bytes = new Uint8Array(await request.arrayBuffer());
    if (bytes.byteLength > limit) {
      throw new AppError("PAYLOAD_TOO_LARGE", `The body exceeds the limit of ${limit} bytes.`);
    }
    return bytes;
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw new AppError("PAYLOAD_TOO_LARGE", `The body exceeds the limit of ${limit} bytes.`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
