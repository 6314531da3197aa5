// Workspace webhooks (docs/webhooks.md): the rules of their URLs, of the body and signature every
// delivery carries, and of retrying one. Pure: the HTTP call, the HMAC and the Queue are ports.

/** Attempts of one delivery before it is `failed`. */
export const MAX_WEBHOOK_ATTEMPTS = 8;

/** How long a receiver has to answer one attempt (ms). */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** The longest wait between two attempts (seconds). */
export const MAX_WEBHOOK_RETRY_SECONDS = 3600;

/** The default wait after a first failed attempt (seconds), doubled after each further one. */
export const DEFAULT_WEBHOOK_RETRY_SECONDS = 10;

/** The most of a receiver's answer ever kept (characters). */
export const WEBHOOK_EXCERPT_CHARS = 200;

/** Longest webhook URL. */
export const MAX_WEBHOOK_URL_CHARS = 2048;

/** Hosts a plain-http webhook may name: a receiver on the machine running a local deployment. */
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1"]);

/** Why a webhook URL is refused, or null when it is acceptable. Never quotes the URL. */
export function webhookUrlProblem(url: string): string | null {
  if (url.length > MAX_WEBHOOK_URL_CHARS) return `Must be at most ${MAX_WEBHOOK_URL_CHARS} characters.`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "Must be an absolute URL.";
  }
  if (parsed.protocol === "http:") {
    if (!LOCAL_HOSTS.has(parsed.hostname)) {
      return "Must use https (plain http only for localhost or 127.0.0.1).";
    }
  } else if (parsed.protocol !== "https:") {
    return "Must use https (plain http only for localhost or 127.0.0.1).";
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return "Must not carry credentials: anyone who may read the workspace sees the URL.";
  }
  return null;
}

/** What every delivery posts, in this key order: the stored payload is exactly these bytes. */
export interface WebhookBody {
  id: string;
  event: string;
  createdAt: number;
  workspaceId: string;
  data: Record<string, unknown>;
}

/** The JSON text of a delivery's body (stored as its payload, posted and signed as is). */
export function webhookPayload(body: WebhookBody): string {
  return JSON.stringify({
    id: body.id,
    event: body.event,
    createdAt: body.createdAt,
    workspaceId: body.workspaceId,
    data: body.data,
  });
}

/** The text the signature is the HMAC-SHA256 of: `<unix seconds>.<body>`. */
export const signedText = (timestampSeconds: number, body: string): string => `${timestampSeconds}.${body}`;

/** The `updraft-signature` header: `t=<unix seconds>,v1=<lowercase hex HMAC-SHA256>`. */
export const signatureHeader = (timestampSeconds: number, hexMac: string): string =>
  `t=${timestampSeconds},v1=${hexMac}`;

/**
 * Seconds to wait after failed attempt number `attempt` (1-based) before the next:
 * min(base · 2^(attempt−1), MAX_WEBHOOK_RETRY_SECONDS).
 */
export function webhookRetryDelay(attempt: number, baseSeconds: number): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  return Math.min(Math.max(0, baseSeconds) * 2 ** exponent, MAX_WEBHOOK_RETRY_SECONDS);
}

/** At most WEBHOOK_EXCERPT_CHARS characters of a receiver's answer (or an error), or null when empty. */
export function excerpt(text: string): string | null {
  const trimmed = text.trim();
  return trimmed === "" ? null : trimmed.slice(0, WEBHOOK_EXCERPT_CHARS);
}

/** How one attempt went, as the sender reports it. */
export type WebhookAnswer = { status: number; body: string } | { error: string };

/** Whether an attempt's answer delivered the notice: a 2xx status. */
export const delivered = (answer: WebhookAnswer): boolean =>
  "status" in answer && answer.status >= 200 && answer.status < 300;
