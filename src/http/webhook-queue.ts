// The consumer of the webhook Queue (docs/webhooks.md): one attempt per message, retried with the
// delay the use case names. Thin, like the HTTP handlers.
import { webhookRetryDelay } from "../domain/webhooks";
import type { Deps } from "../usecases/ports";
import type { WebhookMessage } from "../usecases/webhook-ports";
import { deliverWebhook } from "../usecases/webhooks";

export const isWebhookMessage = (body: unknown): body is WebhookMessage =>
  typeof body === "object" &&
  body !== null &&
  (body as WebhookMessage).kind === "webhook" &&
  typeof (body as WebhookMessage).deliveryId === "string";

/** A batch of the webhook Queue: its deliveries are attempted side by side, each acknowledged or retried alone. */
export async function consumeWebhooks(deps: Deps, batch: MessageBatch<unknown>): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      // A message that is not a delivery can never succeed: acknowledged, so it is not retried.
      if (!isWebhookMessage(message.body)) {
        console.warn(`webhook queue: dropped a message that is not a delivery (${message.id})`);
        message.ack();
        return;
      }
      const { deliveryId } = message.body;
      try {
        const report = await deliverWebhook(deps, deliveryId, message.attempts);
        if (report.outcome === "retry") message.retry({ delaySeconds: report.delaySeconds });
        else message.ack();
        if (report.outcome !== "delivered") console.log(`webhook delivery ${JSON.stringify(report)}`);
      } catch (error) {
        // The store was unreachable: tried again later, without counting an attempt on the delivery.
        console.warn(`webhook delivery ${deliveryId} try ${message.attempts} failed: ${String(error)}`);
        message.retry({ delaySeconds: webhookRetryDelay(message.attempts, deps.webhooks.retrySeconds) });
      }
    }),
  );
}
