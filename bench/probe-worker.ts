// The benchmark's probe Worker (`BENCH_BREAKDOWN=1 npm run bench`, never deployed): the real Worker
// plus POST /probe/* routes that stop the device check's own fast path after each of its stages, so
// the HTTP bench can print what each stage adds to a request:
//   /probe/body    reads the body (as the check does, through readJsonText) and answers "ok";
//   /probe/parse   + JSON parse and validation (parseCheckRequest);
//   /probe/decide  + the decisions (decideAll: snapshot, device profile, canary context, decide);
//   /probe/answer  + the answer: results, JSON body and response, with a stand-in signer;
// the full check then adds the Ed25519 signature and its headers;
//   /probe/twice   the whole check (parse, decide, answer, sign) twice in one request, answering the
//                  second: what it adds over the check is a check's cost with warm caches;
//   /probe/floor   the floor of any signed answer: the body read, parsed and validated, then an answer
//                  of every asked mini program as "none" (no snapshot, no decision), signed and sent
//                  with the check's headers.
// And the scale phase's routes (`BENCH_MINI_PROGRAMS=10000 npm run bench`), see deliveryProbe below.
import { buildDeps } from "../src/deps";
import { parseEventBatch } from "../src/domain/stats/event-batch";
import { deliveryCache } from "../src/edge/delivery-cache";
import { deliveryStore } from "../src/edge/delivery-store";
import { MemoryBudget } from "../src/edge/memory-budget";
import { requestOrigin } from "../src/http/client/check";
import { parseCheckRequest } from "../src/http/client/check-request";
import { EVENTS_BODY_LIMIT } from "../src/http/client/events";
import { parseJson, readJsonText } from "../src/http/json-body";
import { newRequestId } from "../src/http/problem";
import worker from "../src/index";
import { CHECK_TTL_MS, type CheckInput, checkUpdates, decideAll } from "../src/usecases/check-updates";
import type { Delivery, Deps, PublishStats } from "../src/usecases/ports";
import { publishDelivery } from "../src/usecases/publish-delivery";

export { AdmissionCounter } from "../src/edge/admission-counter";
export { AudienceMonitor } from "../src/edge/audience-monitor";
export { DeliveryIndex } from "../src/edge/delivery-index";
export { ReleaseMonitor } from "../src/monitor";

/** The events floor's Queue: bench/run.mjs binds it; its messages are only acknowledged. */
type ProbeEnv = Env & { FLOOR_QUEUE: Queue<unknown> };

const ok = () => new Response("ok");

export default {
  async fetch(request: Request, env: ProbeEnv, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/probe/delivery/")) return deliveryProbe(path, request, env);
    if (path === "/probe/events-floor") return eventsFloor(request, env);
    if (request.method !== "POST" || !path.startsWith("/probe/")) return worker.fetch(request, env, ctx);
    const text = await readJsonText(request);
    if (path === "/probe/body") return ok();
    const input = parseCheckRequest(text);
    if (path === "/probe/parse") return ok();
    const deps = buildDeps(env);
    if (path === "/probe/floor") return floor(deps, input);
    const origin = requestOrigin(request);
    if (path === "/probe/twice") {
      await checkUpdates(deps, input, origin, "http://probe/v1/packages");
      const again = await checkUpdates(deps, parseCheckRequest(text), origin, "http://probe/v1/packages");
      return new Response(again.bytes, {
        headers: { "content-type": "application/json", "updraft-signature": again.signature },
      });
    }
    if (path === "/probe/decide") {
      await decideAll(deps, input, origin, "admit");
      return ok();
    }
    // /probe/answer: the whole check with a stand-in signer, so only the Ed25519 operation is missing.
    const unsigned = { ...deps, signer: { keyId: "probe", sign: async () => "", publicKey: () => "" } };
    const { bytes } = await checkUpdates(unsigned, input, origin, "http://probe/v1/packages");
    return new Response(bytes, {
      headers: { "content-type": "application/json", "cache-control": "private, no-store" },
    });
  },
  async queue(batch: MessageBatch<unknown>, env: ProbeEnv): Promise<void> {
    if (batch.queue === "bench-events-floor") return batch.ackAll();
    return worker.queue(batch, env);
  },
} satisfies ExportedHandler<ProbeEnv>;

/**
 * /probe/events-floor: the floor of POST /v1/events (`npm run bench`'s events line): the batch read,
 * parsed and validated exactly as the route does, then enqueued as one message, with no limiting,
 * hashing or aggregation.
 */
async function eventsFloor(request: Request, env: ProbeEnv): Promise<Response> {
  const parsed = parseEventBatch(parseJson(await readJsonText(request, EVENTS_BODY_LIMIT)), Date.now());
  if ("problems" in parsed) return new Response("invalid", { status: 400 });
  await env.FLOOR_QUEUE.send(parsed.batch);
  return new Response(JSON.stringify({ accepted: parsed.batch.events.length }), {
    status: 202,
    headers: { "content-type": "application/json" },
  });
}

/** /probe/floor: what every signed answer costs whatever the decisions (see the top of this file). */
async function floor(deps: Deps, input: CheckInput): Promise<Response> {
  const signer = deps.signer;
  if (signer === null) throw new Error("the bench configures a signing key");
  const issuedAt = Date.now();
  const body =
    `{"issuedAt":${issuedAt},"expiresAt":${issuedAt + CHECK_TTL_MS},"nonce":${JSON.stringify(input.nonce)},` +
    `"keyId":${JSON.stringify(signer.keyId)},"results":[${input.miniPrograms.map((m) => `{"id":${JSON.stringify(m.id)},"action":"none"}`).join(",")}]}`;
  const bytes = new TextEncoder().encode(body);
  return new Response(bytes, {
    headers: {
      "content-type": "application/json",
      "cache-control": "private, no-store",
      "updraft-signature": await signer.sign(bytes),
      "updraft-key-id": signer.keyId,
      "request-id": newRequestId(),
    },
  });
}

// The scale phase of the bench:
//   POST /probe/delivery/rebuild   {appKey, env}: publishes every part of the target (after bulk seeding)
//                                   → {parts, bytes};
//   POST /probe/delivery/observer  {appKey, env, ids, action: "warm" | "refresh"}: a second isolate's
//                                   delivery cache (its own clock, moved past the poll interval and the
//                                   location cache's TTL on "refresh") reads those mini programs
//                                   → {fetchedBytes} read by that call;
//   GET  /probe/delivery/last-publish → {parts, bytesWritten} of this isolate's last publish;
//   POST /probe/delivery/source    {appKey, env, key}: the relational state one mini program's part is
//                                   compiled from (the bench times compileParts on it in Node);
//   POST /probe/delivery/cold      drops this isolate's delivery and list caches: the next check is a
//                                   cold isolate's (compiled memos go with the parts they hang on);
//   GET  /probe/delivery/memory    → {accountedBytes, budgetBytes, members}.
let lastPublish: PublishStats | null = null;
let observer: { delivery: Delivery & { stats(): { fetchedBytes: number } }; offset: number } | null = null;

const json = (value: unknown) =>
  new Response(JSON.stringify(value), { headers: { "content-type": "application/json" } });

async function environmentId(env: Env, appKey: string, name: string): Promise<string> {
  const row = await env.DB.prepare(
    "select e.id as id from environments e join apps a on a.id = e.app_id where a.key = ? and e.name = ?",
  )
    .bind(appKey, name)
    .first<{ id: string }>();
  if (row === null) throw new Error(`no environment ${appKey}/${name}`);
  return row.id;
}

async function deliveryProbe(path: string, request: Request, env: Env): Promise<Response> {
  const deps = buildDeps(env);
  const delivery = deps.delivery as Delivery & { clear(): void };
  if (!("recording" in delivery)) {
    const publish = delivery.publish.bind(delivery);
    Object.assign(delivery, {
      recording: true,
      publish: async (...args: Parameters<Delivery["publish"]>) => {
        lastPublish = await publish(...args);
        return lastPublish;
      },
    });
  }
  if (path === "/probe/delivery/last-publish") {
    return json(lastPublish && { parts: lastPublish.parts, bytesWritten: lastPublish.bytesWritten });
  }
  if (path === "/probe/delivery/memory") {
    return json({ accountedBytes: deps.memory.used(), budgetBytes: deps.memory.limit, members: deps.memory.report() });
  }
  if (path === "/probe/delivery/cold") {
    delivery.clear();
    (deps.lists as unknown as { clear(): void }).clear();
    return json({});
  }
  const body = (await request.json()) as { appKey: string; env: string; ids?: string[]; action?: string; key?: string };
  if (path === "/probe/delivery/rebuild") {
    const stats = await publishDelivery(deps, await environmentId(env, body.appKey, body.env));
    return json({ parts: stats?.parts ?? 0, bytes: stats?.bytesWritten ?? 0 });
  }
  if (path === "/probe/delivery/source") {
    const id = await environmentId(env, body.appKey, body.env);
    const mp = await env.DB.prepare("select id from mini_programs where key = ?")
      .bind(body.key)
      .first<{ id: string }>();
    return json(await deps.store.snapshotSource(id, Date.now(), mp ? [mp.id] : []));
  }
  if (path === "/probe/delivery/observer") {
    if (observer === null || body.action === "warm") {
      const state = { offset: 0 };
      const clock = { now: () => Date.now() + state.offset };
      const store = deliveryStore({
        kv: env.SNAPSHOTS,
        r2: env.PACKAGES,
        index: env.DELIVERY,
        cache: caches.default,
        clock,
      });
      observer = Object.assign(state, { delivery: deliveryCache(store, clock, new MemoryBudget(64 * 1024 * 1024)) });
    }
    const o = observer;
    // Past the isolate's poll interval and the location cache's TTL: the next read asks for a new head.
    if (body.action === "refresh") o.offset += 2_500;
    const before = o.delivery.stats().fetchedBytes;
    const ids = body.ids ?? [];
    await o.delivery.load(
      body.appKey,
      body.env,
      ids.map((id) => ({ id })),
      ids.map(() => undefined),
    );
    return json({ fetchedBytes: o.delivery.stats().fetchedBytes - before });
  }
  return new Response("no such probe", { status: 404 });
}
