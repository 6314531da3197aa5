import { and, asc, desc, eq, gt, lt, or, sql } from "drizzle-orm";
import type { WebhookDeliveryRecord, WebhookRecord, WebhookStore } from "../usecases/webhook-ports";
import { auditInsert, auditWhen, type Db, guard } from "./d1-helpers";
import * as t from "./schema";

const changed = (result: unknown) => ((result as { meta?: { changes?: number } }).meta?.changes ?? 0) > 0;

/** Workspace webhooks (docs/webhooks.md): one per workspace, and every delivery with its attempts. */
export function webhookMethods(db: Db): WebhookStore {
  const hookOf = (workspaceId: string) => eq(t.webhooks.workspaceId, workspaceId);
  return {
    getWebhook: async (workspaceId) =>
      ((await db.select().from(t.webhooks).where(hookOf(workspaceId)).get()) as WebhookRecord | undefined) ?? null,

    async putWebhook(next, previous, audit) {
      // Audit-row first, on the state that was read: none, or the very row (secret and updatedAt).
      const unchanged =
        previous === null
          ? sql`not exists (select 1 from ${t.webhooks} where ${hookOf(next.workspaceId)})`
          : sql`exists (select 1 from ${t.webhooks} where ${and(
              hookOf(previous.workspaceId),
              eq(t.webhooks.secret, previous.secret),
              eq(t.webhooks.updatedAt, previous.updatedAt),
            )})`;
      const write =
        previous === null
          ? db.insert(t.webhooks).select(
              db
                .select({
                  workspaceId: sql<string>`${next.workspaceId}`.as("workspace_id"),
                  url: sql<string>`${next.url}`.as("url"),
                  secret: sql<string>`${next.secret}`.as("secret"),
                  createdAt: sql<number>`${next.createdAt}`.as("created_at"),
                  updatedAt: sql<number>`${next.updatedAt}`.as("updated_at"),
                })
                .from(t.workspaces)
                .where(and(eq(t.workspaces.id, next.workspaceId), guard(audit.id))),
            )
          : db
              .update(t.webhooks)
              .set({ url: next.url, secret: next.secret, updatedAt: next.updatedAt })
              .where(and(hookOf(next.workspaceId), guard(audit.id)));
      const [audited] = await db.batch([auditWhen(db, audit, unchanged), write]);
      return changed(audited) ? "ok" : "conflict";
    },

    async deleteWebhook(workspaceId, reason, now, audit) {
      const exists = sql`exists (select 1 from ${t.webhooks} where ${hookOf(workspaceId)})`;
      const [audited] = await db.batch([
        auditWhen(db, audit, exists),
        db.delete(t.webhooks).where(and(hookOf(workspaceId), guard(audit.id))),
        // Nothing more is sent for it: its pending deliveries end here (the consumer skips them).
        db
          .update(t.webhookDeliveries)
          .set({ status: "failed", lastError: reason, updatedAt: now })
          .where(
            and(
              eq(t.webhookDeliveries.workspaceId, workspaceId),
              eq(t.webhookDeliveries.status, "pending"),
              guard(audit.id),
            ),
          ),
      ]);
      return changed(audited);
    },

    async insertWebhookDelivery(delivery, audit) {
      const insert = db.insert(t.webhookDeliveries).values(delivery);
      if (audit === undefined) await insert;
      else await db.batch([insert, auditInsert(db, audit)]);
    },

    getWebhookDelivery: async (deliveryId) =>
      ((await db.select().from(t.webhookDeliveries).where(eq(t.webhookDeliveries.id, deliveryId)).get()) as
        | WebhookDeliveryRecord
        | undefined) ?? null,

    async recordWebhookAttempt(deliveryId, attempt, now) {
      const [row] = await db
        .update(t.webhookDeliveries)
        .set({
          status: attempt.status,
          attempts: attempt.attempt,
          lastStatus: attempt.lastStatus,
          lastError: attempt.lastError,
          updatedAt: now,
        })
        .where(
          and(
            eq(t.webhookDeliveries.id, deliveryId),
            eq(t.webhookDeliveries.status, "pending"),
            lt(t.webhookDeliveries.attempts, attempt.attempt),
          ),
        )
        .returning();
      return (row as WebhookDeliveryRecord | undefined) ?? null;
    },

    async failWebhookDelivery(deliveryId, error, now) {
      await db
        .update(t.webhookDeliveries)
        .set({ status: "failed", lastError: error, updatedAt: now })
        .where(and(eq(t.webhookDeliveries.id, deliveryId), eq(t.webhookDeliveries.status, "pending")));
    },

    async listWebhookDeliveries(workspaceId, filter, after, limit) {
      const d = t.webhookDeliveries;
      // The sort key is [-createdAt, id]: newest first, then by id.
      const [negCreated, id] = after ?? [];
      const afterKey =
        typeof negCreated === "number" && typeof id === "string"
          ? or(lt(d.createdAt, -negCreated), and(eq(d.createdAt, -negCreated), gt(d.id, id)))
          : undefined;
      const rows = await db
        .select()
        .from(d)
        .where(
          and(
            eq(d.workspaceId, workspaceId),
            filter.status === undefined ? undefined : eq(d.status, filter.status),
            afterKey,
          ),
        )
        .orderBy(desc(d.createdAt), asc(d.id))
        .limit(limit);
      return rows as WebhookDeliveryRecord[];
    },
  };
}
