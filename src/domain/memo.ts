// Bounded memos for the check path's pure functions: the same few inputs (app and OS versions,
// compatibility ranges, attribute values) come back on every device check. A full memo is simply
// cleared, which keeps memory bounded whatever the input.
const DEFAULT_LIMIT = 2000;

/** `fn` memoized per argument, holding at most `limit` results. `fn` must be pure. */
export function memo<T>(fn: (key: string) => T, limit = DEFAULT_LIMIT): (key: string) => T {
  const cache = new Map<string, T>();
  // The last call, answered without hashing: one check asks the same question for every mini program.
  let lastKey: string | undefined;
  let lastValue: T | undefined;
  return (key) => {
    if (key === lastKey) return lastValue as T;
    let value = cache.get(key);
    if (value === undefined && !cache.has(key)) {
      value = fn(key);
      if (cache.size >= limit) cache.clear();
      cache.set(key, value);
    }
    lastKey = key;
    lastValue = value;
    return value as T;
  };
}

/**
 * `fn` memoized per pair of arguments, in one map per first argument rather than under a
 * concatenated key: the arguments come from the snapshot and from other memos, so V8 has already
 * hashed them, while a fresh key string would be hashed on every call.
 */
export function memo2<T>(fn: (a: string, b: string) => T, limit = DEFAULT_LIMIT): (a: string, b: string) => T {
  const outer = new Map<string, Map<string, T>>();
  let lastA: string | undefined;
  let lastB: string | undefined;
  let lastValue: T | undefined;
  return (a, b) => {
    if (a === lastA && b === lastB) return lastValue as T;
    let inner = outer.get(a);
    if (inner === undefined) {
      if (outer.size >= limit) outer.clear();
      inner = new Map();
      outer.set(a, inner);
    }
    let value = inner.get(b);
    if (value === undefined && !inner.has(b)) {
      value = fn(a, b);
      if (inner.size >= limit) inner.clear();
      inner.set(b, value);
    }
    lastA = a;
    lastB = b;
    lastValue = value;
    return value as T;
  };
}
