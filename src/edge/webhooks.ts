// Webhook deliveries on the platform (docs/webhooks.md): the POST itself (no redirects followed, a
// time limit, a bounded read of the answer), the HMAC-SHA256 of the signature header (WebCrypto) and
// new secrets.
import { WEBHOOK_EXCERPT_CHARS, WEBHOOK_TIMEOUT_MS, type WebhookAnswer } from "../domain/webhooks";
import type { WebhookRequest } from "../usecases/webhook-ports";
import { toHex } from "./crypto";

const utf8 = new TextEncoder();

/** Bytes of an answer read at most: enough for WEBHOOK_EXCERPT_CHARS characters of any UTF-8 text. */
const MAX_ANSWER_BYTES = WEBHOOK_EXCERPT_CHARS * 4;

type Fetcher = (url: string, init: RequestInit) => Promise<Response>;

/**
 * POSTs a delivery with `fetcher` (the runtime's fetch by default): redirects are returned, not
 * followed; no answer within `timeoutMs` is a failure; of a non-2xx answer at most
 * MAX_ANSWER_BYTES are read (the rest is never downloaded). Never throws.
 */
export function webhookSender(
  fetcher: Fetcher = (url, init) => fetch(url, init),
  timeoutMs: number = WEBHOOK_TIMEOUT_MS,
): (request: WebhookRequest) => Promise<WebhookAnswer> {
  return async (request) => {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await fetcher(request.url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        redirect: "manual",
        signal,
      });
    } catch (error) {
      return {
        error: signal.aborted
          ? `No answer within ${timeoutMs / 1000} s.`
          : `The request failed: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => undefined);
      return { status: response.status, body: "" };
    }
    return { status: response.status, body: await readStart(response) };
  };
}

/** The first MAX_ANSWER_BYTES of a body as text (what could be read of it, when reading fails). */
async function readStart(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    while (bytes < MAX_ANSWER_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = value.subarray(0, MAX_ANSWER_BYTES - bytes);
      bytes += chunk.length;
      text += decoder.decode(chunk, { stream: true });
    }
  } catch {
    // The answer broke off (or the time ran out): what arrived is kept.
  }
  await reader.cancel().catch(() => undefined);
  return text;
}

/** Lowercase hex HMAC-SHA256 of `text` under the UTF-8 bytes of `secret`. */
export async function hmacSha256Hex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return toHex(await crypto.subtle.sign("HMAC", key, utf8.encode(text)));
}

/** A new webhook secret: `whsec_` and 32 random bytes in base64url (no padding). */
export function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64 = btoa(String.fromCharCode(...bytes));
  return `whsec_${b64.replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")}`;
}
