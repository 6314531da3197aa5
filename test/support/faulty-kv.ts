// Cloudflare KV's consistency at its worst, around the real local KV (the one permitted wrapper of a
// binding): a reader at another location may see a value up to STALE_MS old, and a key created a
// moment ago as missing for as long, because KV caches values and misses near readers. The wrapper
// keeps, per key, every value it saw the real KV hold and when (by the injected clock), and answers a
// get with the value as of STALE_MS ago: null for a key that did not exist yet, the older value for
// one that changed since.
import type { Clock } from "../../src/usecases/ports";

export const STALE_MS = 60_000;

export interface FaultyKv {
  kv: KVNamespace;
  /** Gets answered with null although the real KV had the key (a cached miss). */
  missesServed: number;
  /** Gets answered with an older value than the real KV's. */
  staleServed: number;
}

export function faultyKv(real: KVNamespace, clock: Clock): FaultyKv {
  const seen = new Map<string, { value: string | null; at: number }[]>();
  const out: FaultyKv = { kv: undefined as never, missesServed: 0, staleServed: 0 };
  const asOfStale = async (key: string): Promise<string | null> => {
    const now = clock.now();
    const current = await real.get(key);
    let history = seen.get(key);
    if (history === undefined) {
      // First sight: as far as this location knows, the key was missing until now.
      history = [{ value: null, at: Number.NEGATIVE_INFINITY }];
      seen.set(key, history);
    }
    if ((history.at(-1) as { value: string | null }).value !== current) history.push({ value: current, at: now });
    // The newest value observed at least STALE_MS ago.
    let served: string | null = null;
    for (const h of history) if (h.at <= now - STALE_MS) served = h.value;
    if (served === null && current !== null) out.missesServed += 1;
    else if (served !== current) out.staleServed += 1;
    return served;
  };
  out.kv = new Proxy(real, {
    get(target, prop) {
      if (prop === "get") {
        return async (key: string, options?: unknown) => {
          const text = await asOfStale(key);
          if (text === null) return null;
          const type = typeof options === "string" ? options : (options as { type?: string } | undefined)?.type;
          return type === "json" ? JSON.parse(text) : text;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return out;
}
