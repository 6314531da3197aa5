// Another Worker isolate at another location, in an integration test: its own delivery cache and
// clock, its own location cache (a real Cache API cache of its own), over the real local R2 and
// DeliveryIndex objects and the given KV (the real one, or a wrapper of it).
import { env } from "cloudflare:workers";
import { buildDeps } from "../../src/deps";
import { DEFAULT_DELIVERY_CACHE, deliveryCache } from "../../src/edge/delivery-cache";
import { deliveryStore } from "../../src/edge/delivery-store";
import { MemoryBudget } from "../../src/edge/memory-budget";
import type { Clock, DeliveryStore, Deps } from "../../src/usecases/ports";
import { uniqueKey } from "./workspace";

export async function isolateDeps(
  clock: Clock,
  {
    kv = env.SNAPSHOTS,
    wrap = (s: DeliveryStore) => s,
  }: { kv?: KVNamespace; wrap?: (s: DeliveryStore) => DeliveryStore } = {},
) {
  const store = deliveryStore({
    kv,
    r2: env.PACKAGES,
    index: env.DELIVERY,
    cache: await caches.open(uniqueKey("location")),
    clock,
  });
  const delivery = deliveryCache(wrap(store), clock, new MemoryBudget(64 * 1024 * 1024), DEFAULT_DELIVERY_CACHE);
  const deps: Deps = { ...buildDeps(env), clock, delivery };
  return { deps, delivery };
}
