// The Queue consumer: patch build jobs and their dead letters (docs/patches.md), device events
// (docs/statistics.md) and webhook deliveries (docs/webhooks.md, http/webhook-queue.ts). Thin, like
// the HTTP handlers: it reads the messages and calls the use case.
import type { Bindings } from "../deps";
import { ingestStats, isStatsMessage } from "../usecases/ingest-stats";
import type { PatchJob } from "../usecases/patch-ports";
import { buildPatch, deadLetterPatch, notePatchFailure } from "../usecases/patches";
import type { Deps } from "../usecases/ports";
import { consumeWebhooks, isWebhookMessage } from "./webhook-queue";

/** The dead-letter queue of patch jobs is named like the job queue with this suffix (wrangler.toml). */
const DEAD_LETTER_SUFFIX = "-dlq";

/** The longest delay a Queue message may be retried after (12 hours). */
const MAX_RETRY_DELAY_SECONDS = 43_200;

const isJob = (body: unknown): body is PatchJob =>
  typeof body === "object" && body !== null && typeof (body as PatchJob).patchId === "string";

export function createQueueHandler(buildDeps: (env: Bindings) => Deps) {
  return async (batch: MessageBatch<unknown>, env: Bindings): Promise<void> => {
    const deps = buildDeps(env);
    if (batch.messages.some((m) => isStatsMessage(m.body))) return countStats(deps, batch);
    if (batch.messages.some((m) => isWebhookMessage(m.body))) return consumeWebhooks(deps, batch);
    const dead = batch.queue.endsWith(DEAD_LETTER_SUFFIX);
    for (const message of batch.messages) {
      // A message that is not a job can never succeed: acknowledged, so it is not retried.
      if (!isJob(message.body)) {
        console.warn(`patch queue: dropped a message that is not a job (${message.id})`);
        message.ack();
        continue;
      }
      const job = message.body;
      try {
        if (dead) await deadLetterPatch(deps, job, message.attempts);
        else {
          const report = await buildPatch(deps, job);
          console.log(`patch job ${JSON.stringify(report)}`);
        }
        message.ack();
      } catch (error) {
        console.warn(`patch job ${job.patchId} attempt ${message.attempts} failed: ${String(error)}`);
        if (!dead) await notePatchFailure(deps, job, error).catch(() => undefined);
        // Backoff: PATCH_RETRY_SECONDS, doubled at each attempt (an outage of a few seconds does not
        // use up every retry).
        const delay = deps.patches.retrySeconds * 2 ** Math.max(0, message.attempts - 1);
        message.retry({ delaySeconds: Math.min(delay, MAX_RETRY_DELAY_SECONDS) });
      }
    }
  };
}

/**
 * A batch of the stats Queue: counted as a whole (one monitor call per release). On failure the whole
 * batch is retried; monitors count each event key once, so nothing is counted twice.
 */
async function countStats(deps: Deps, batch: MessageBatch<unknown>): Promise<void> {
  const messages = batch.messages.filter((m) => isStatsMessage(m.body));
  try {
    const report = await ingestStats(
      { clock: deps.clock, ...deps.stats },
      messages.map((m) => m.body as never),
    );
    if (report.dropped > 0) console.log(`stats batch ${JSON.stringify(report)}`);
    batch.ackAll();
  } catch (error) {
    console.warn(`stats batch of ${messages.length} messages failed, retried: ${String(error)}`);
    batch.retryAll({ delaySeconds: Math.min(60, 2 ** (batch.messages[0]?.attempts ?? 1)) });
  }
}
