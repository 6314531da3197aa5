// Workspace webhooks (docs/webhooks.md): health-gate notices (and test pings) posted to the
// workspace's URL, signed with its secret, delivered and retried with backoff through a Queue, every
// attempt recorded on the delivery.
import { AppError } from "../domain/errors";
import {
  delivered,
  excerpt,
  MAX_WEBHOOK_ATTEMPTS,
  signatureHeader,
  signedText,
  type WebhookAnswer,
  webhookPayload,
  webhookRetryDelay,
  webhookUrlProblem,
} from "../domain/webhooks";
import type { Context, Deps } from "./ports";
import { auditEntry, notFound, requirePermission } from "./support";
import type { WebhookDeliveryRecord, WebhookDeliveryStatus, WebhookQueue, WebhookRecord } from "./webhook-ports";

/** Why pending deliveries end when their webhook is deleted. */
const DELETED = "The webhook was deleted before this delivery was sent.";

/**
 * Sends `event` with `data` to the workspace's webhook: records a pending delivery whose payload is
 * the exact body that will be posted (`{"id","event","createdAt","workspaceId","data"}`) and queues
 * it; returns its id. Null, doing nothing, when the workspace has no webhook or the deployment no
 * webhook Queue. Throws when the store or the Queue fails (a delivery that could not be queued is
 * left failed, with why).
 */
export async function notifyWorkspace(
  deps: Deps,
  workspaceId: string,
  event: string,
  data: Record<string, unknown>,
): Promise<string | null> {
  const queue = deps.webhooks.queue;
  if (queue === null) return null;
  if ((await deps.store.getWebhook(workspaceId)) === null) return null;
  const delivery = newDelivery(deps, workspaceId, event, data);
  await deps.store.insertWebhookDelivery(delivery);
  await enqueue(deps, queue, delivery);
  return delivery.id;
}

function newDelivery(
  deps: Deps,
  workspaceId: string,
  event: string,
  data: Record<string, unknown>,
): WebhookDeliveryRecord {
  const id = deps.ids.id("whd");
  const createdAt = deps.clock.now();
  return {
    id,
    workspaceId,
    event,
    payload: webhookPayload({ id, event, createdAt, workspaceId, data }),
    status: "pending",
    attempts: 0,
    lastStatus: null,
    lastError: null,
    createdAt,
    updatedAt: createdAt,
  };
}

async function enqueue(deps: Deps, queue: WebhookQueue, delivery: WebhookDeliveryRecord): Promise<void> {
  try {
    await queue.send({ kind: "webhook", deliveryId: delivery.id });
  } catch (error) {
    await deps.store
      .failWebhookDelivery(delivery.id, "The delivery could not be queued.", deps.clock.now())
      .catch(() => undefined);
    throw error;
  }
}

/** The webhook as admins see it: never its secret. */
export interface WebhookView {
  url: string;
  createdAt: number;
  updatedAt: number;
}

const view = (hook: WebhookRecord): WebhookView => ({
  url: hook.url,
  createdAt: hook.createdAt,
  updatedAt: hook.updatedAt,
});

/** The workspace's webhook (workspace:read); NOT_FOUND when it has none. */
export async function getWebhook(deps: Deps, ctx: Context): Promise<WebhookView> {
  requirePermission(ctx, "workspace:read");
  const hook = await deps.store.getWebhook(ctx.actor.workspaceId);
  if (hook === null) throw notFound("The webhook");
  return view(hook);
}

/**
 * Creates the workspace's webhook or changes its URL (workspace:write), audited. A new secret is made
 * on creation and when `rotateSecret` is asked, and returned only then (`secret`, else null). A URL
 * that is not https (plain http only for localhost and 127.0.0.1) or longer than 2048 characters is
 * VALIDATION_FAILED. Asking for what is already there writes nothing. CONFLICT when the webhook was
 * changed meanwhile.
 */
export async function putWebhook(
  deps: Deps,
  ctx: Context,
  input: { url: string; rotateSecret?: boolean },
): Promise<{ webhook: WebhookView; created: boolean; secret: string | null }> {
  requirePermission(ctx, "workspace:write");
  const problem = webhookUrlProblem(input.url);
  if (problem !== null) {
    throw new AppError("VALIDATION_FAILED", "The request body is not valid.", [{ pointer: "/url", message: problem }]);
  }
  const workspaceId = ctx.actor.workspaceId;
  const previous = await deps.store.getWebhook(workspaceId);
  const rotate = previous === null || input.rotateSecret === true;
  if (previous !== null && !rotate && previous.url === input.url) {
    return { webhook: view(previous), created: false, secret: null };
  }
  const now = deps.clock.now();
  const next: WebhookRecord = {
    workspaceId,
    url: input.url,
    secret: rotate ? deps.webhooks.newSecret() : (previous?.secret ?? ""),
    createdAt: previous?.createdAt ?? now,
    // Strictly newer than what was read: the next change's compare-and-swap tells them apart.
    updatedAt: previous === null ? now : Math.max(now, previous.updatedAt + 1),
  };
  const audit = auditEntry(deps, ctx, {
    action: previous === null ? "webhook.create" : "webhook.update",
    resourceType: "webhook",
    resourceId: workspaceId,
    before: previous === null ? null : { url: previous.url },
    after: { url: next.url, secretRotated: rotate },
  });
  if ((await deps.store.putWebhook(next, previous, audit)) === "conflict") {
    throw new AppError("CONFLICT", "The webhook was changed by someone else; read it again and retry.");
  }
  return { webhook: view(next), created: previous === null, secret: rotate ? next.secret : null };
}

/**
 * Deletes the workspace's webhook (workspace:write), audited: nothing more is sent, and deliveries
 * still pending end as failed. NOT_FOUND when it has none.
 */
export async function deleteWebhook(deps: Deps, ctx: Context): Promise<WebhookView> {
  requirePermission(ctx, "workspace:write");
  const hook = await deps.store.getWebhook(ctx.actor.workspaceId);
  if (hook === null) throw notFound("The webhook");
  const audit = auditEntry(deps, ctx, {
    action: "webhook.delete",
    resourceType: "webhook",
    resourceId: hook.workspaceId,
    before: { url: hook.url },
    after: null,
  });
  if (!(await deps.store.deleteWebhook(hook.workspaceId, DELETED, deps.clock.now(), audit))) {
    throw notFound("The webhook");
  }
  return view(hook);
}

/**
 * Sends a `ping` through the same path as every notice (workspace:write), audited; returns the
 * delivery. NOT_FOUND without a webhook; SERVICE_MISCONFIGURED without a webhook Queue.
 */
export async function testWebhook(deps: Deps, ctx: Context): Promise<WebhookDeliveryRecord> {
  requirePermission(ctx, "workspace:write");
  const queue = deps.webhooks.queue;
  if (queue === null) throw new AppError("SERVICE_MISCONFIGURED", "This deployment has no webhook Queue bound.");
  const workspaceId = ctx.actor.workspaceId;
  if ((await deps.store.getWebhook(workspaceId)) === null) throw notFound("The webhook");
  const delivery = newDelivery(deps, workspaceId, "ping", { requestedBy: ctx.actor.memberId });
  const audit = auditEntry(deps, ctx, {
    action: "webhook.test",
    resourceType: "webhook_delivery",
    resourceId: delivery.id,
    before: null,
    after: { event: delivery.event },
  });
  await deps.store.insertWebhookDelivery(delivery, audit);
  await enqueue(deps, queue, delivery);
  return delivery;
}

/**
 * The workspace's deliveries, newest first (workspace:read): those after the sort key `after`
 * ([-createdAt, id], from a cursor), at most `limit`, optionally of one status.
 */
export async function listWebhookDeliveries(
  deps: Deps,
  ctx: Context,
  filter: { status?: WebhookDeliveryStatus },
  after: readonly [number, string] | null,
  limit: number,
): Promise<WebhookDeliveryRecord[]> {
  requirePermission(ctx, "workspace:read");
  return deps.store.listWebhookDeliveries(ctx.actor.workspaceId, filter, after, limit);
}

/** What one attempt did, for the consumer (and logs). */
export type WebhookDeliveryReport =
  | { deliveryId: string; outcome: "gone" | "closed" }
  | { deliveryId: string; outcome: "delivered" | "failed"; attempt: number; lastStatus: number | null }
  | { deliveryId: string; outcome: "retry"; attempt: number; lastStatus: number | null; delaySeconds: number };

/**
 * One attempt at a delivery (a Queue message; `attempt` is the message's count of tries): posts the
 * stored payload to the workspace's current URL, signed with its current secret, and records the
 * outcome. A 2xx answer delivers it; anything else is `retry` after
 * min(retrySeconds · 2^(attempt−1), 3600) s, until MAX_WEBHOOK_ATTEMPTS attempts, then `failed`.
 * A delivery that is no longer pending is left alone; one whose webhook is gone fails.
 */
export async function deliverWebhook(deps: Deps, deliveryId: string, attempt: number): Promise<WebhookDeliveryReport> {
  const row = await deps.store.getWebhookDelivery(deliveryId);
  if (row === null) return { deliveryId, outcome: "gone" };
  if (row.status !== "pending") return { deliveryId, outcome: "closed" };
  const hook = await deps.store.getWebhook(row.workspaceId);
  if (hook === null) {
    await deps.store.failWebhookDelivery(row.id, DELETED, deps.clock.now());
    return { deliveryId, outcome: "failed", attempt: row.attempts, lastStatus: row.lastStatus };
  }
  // The message's tries count too: a try that died before recording still went out.
  const number = Math.max(attempt, row.attempts + 1);
  if (number > MAX_WEBHOOK_ATTEMPTS) {
    const last = row.lastError === null ? "" : `: ${row.lastError}`;
    const why = `Gave up after ${MAX_WEBHOOK_ATTEMPTS} attempts${last}`;
    await deps.store.failWebhookDelivery(row.id, why.slice(0, 200), deps.clock.now());
    return { deliveryId, outcome: "failed", attempt: row.attempts, lastStatus: row.lastStatus };
  }
  const timestamp = Math.floor(deps.clock.now() / 1000);
  const mac = await deps.webhooks.sign(hook.secret, signedText(timestamp, row.payload));
  const answer = await deps.webhooks.fetch({
    url: hook.url,
    body: row.payload,
    headers: {
      "content-type": "application/json",
      "updraft-event": row.event,
      "updraft-delivery": row.id,
      "updraft-signature": signatureHeader(timestamp, mac),
    },
  });
  const ok = delivered(answer);
  const status: WebhookDeliveryStatus = ok ? "delivered" : number >= MAX_WEBHOOK_ATTEMPTS ? "failed" : "pending";
  const lastStatus = "status" in answer ? answer.status : null;
  const recorded = await deps.store.recordWebhookAttempt(
    row.id,
    { attempt: number, status, lastStatus, lastError: ok ? null : failure(answer) },
    deps.clock.now(),
  );
  // Another try of the same delivery recorded this attempt (a duplicate message): it decides.
  if (recorded === null) return { deliveryId, outcome: "closed" };
  if (status === "pending") {
    const delaySeconds = webhookRetryDelay(number, deps.webhooks.retrySeconds);
    return { deliveryId, outcome: "retry", attempt: number, lastStatus, delaySeconds };
  }
  return { deliveryId, outcome: status, attempt: number, lastStatus };
}

/** What is kept of a failed attempt: at most 200 characters of the answer, or why there was none. */
function failure(answer: WebhookAnswer): string | null {
  if ("error" in answer) return excerpt(answer.error);
  if (answer.status >= 300 && answer.status < 400) return "Redirects are not followed.";
  return excerpt(answer.body);
}
