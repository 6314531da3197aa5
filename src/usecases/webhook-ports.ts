import type { SortKey } from "../domain/paging";
import type { WebhookAnswer } from "../domain/webhooks";
import type { AuditEntry, WriteResult } from "./ports";

// Ports of workspace webhooks (docs/webhooks.md): the webhook and its deliveries in the relational
// store, the Queue deliveries travel on, and the signed HTTP call itself.

/** A workspace's one webhook. */
export interface WebhookRecord {
  workspaceId: string;
  url: string;
  /** The HMAC-SHA256 key of the signature header; shown once, when made or rotated. */
  secret: string;
  createdAt: number;
  updatedAt: number;
}

export type WebhookDeliveryStatus = "pending" | "delivered" | "failed";

/** One notice sent, or being sent, to a workspace's webhook. */
export interface WebhookDeliveryRecord {
  id: string;
  workspaceId: string;
  event: string;
  /** The exact JSON body posted (and signed). */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** The HTTP status of the last attempt; null when it got no answer (or none was made). */
  lastStatus: number | null;
  /** At most 200 characters of the last failed attempt's answer, or why it got none. */
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

/** How one attempt leaves its delivery. */
export interface WebhookAttempt {
  /** The attempt's number (1-based): the delivery's attempts become this. */
  attempt: number;
  status: WebhookDeliveryStatus;
  lastStatus: number | null;
  lastError: string | null;
}

export interface WebhookStore {
  getWebhook(workspaceId: string): Promise<WebhookRecord | null>;
  /**
   * Creates the workspace's webhook, or changes the one read (`previous`, compared by its secret and
   * updatedAt), with its audit row in one batch. "conflict" (nothing written) when one was created,
   * changed or deleted meanwhile.
   */
  putWebhook(next: WebhookRecord, previous: WebhookRecord | null, audit: AuditEntry): Promise<WriteResult>;
  /**
   * Deletes the workspace's webhook and fails its pending deliveries (`reason`), audited; false when
   * there was none.
   */
  deleteWebhook(workspaceId: string, reason: string, now: number, audit: AuditEntry): Promise<boolean>;
  /** Records a new delivery (pending); with its audit row when an admin asked for it. */
  insertWebhookDelivery(delivery: WebhookDeliveryRecord, audit?: AuditEntry): Promise<void>;
  getWebhookDelivery(deliveryId: string): Promise<WebhookDeliveryRecord | null>;
  /**
   * Records an attempt on a delivery that is still pending and has fewer attempts (a duplicate
   * message lost the race otherwise); the delivery after it, or null when nothing changed.
   */
  recordWebhookAttempt(deliveryId: string, attempt: WebhookAttempt, now: number): Promise<WebhookDeliveryRecord | null>;
  /** Ends a delivery that is still pending as failed, with why (no attempt is counted). */
  failWebhookDelivery(deliveryId: string, error: string, now: number): Promise<void>;
  /**
   * A workspace's deliveries newest first (createdAt descending, then id), those after the sort key
   * `after` ([-createdAt, id]), at most `limit`, optionally of one status.
   */
  listWebhookDeliveries(
    workspaceId: string,
    filter: { status?: WebhookDeliveryStatus },
    after: SortKey | null,
    limit: number,
  ): Promise<WebhookDeliveryRecord[]>;
}

/** The message of one delivery on the webhook Queue. */
export interface WebhookMessage {
  kind: "webhook";
  deliveryId: string;
}

/** The producer side of the webhook Queue. */
export interface WebhookQueue {
  send(message: WebhookMessage): Promise<void>;
}

/** One signed POST to a receiver. */
export interface WebhookRequest {
  url: string;
  /** The delivery's payload, sent byte for byte. */
  body: string;
  headers: Record<string, string>;
}

/** What webhooks need besides the store. */
export interface WebhookPorts {
  /** Null when the deployment has no webhook Queue bound: nothing is sent (notifyWorkspace answers null). */
  queue: WebhookQueue | null;
  /**
   * POSTs one delivery: redirects are not followed, an answer must come within WEBHOOK_TIMEOUT_MS,
   * and at most WEBHOOK_EXCERPT_CHARS characters of its body are read. Never throws.
   */
  fetch(request: WebhookRequest): Promise<WebhookAnswer>;
  /** Lowercase hex HMAC-SHA256 of `text` under `secret` (its UTF-8 bytes). */
  sign(secret: string, text: string): Promise<string>;
  /** A new webhook secret: `whsec_` and 32 random bytes in base64url. */
  newSecret(): string;
  /** The wait after a first failed attempt (seconds), doubled after each further one (WEBHOOK_RETRY_SECONDS). */
  retrySeconds: number;
}
