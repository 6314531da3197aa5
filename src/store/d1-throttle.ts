import type { AuthThrottle } from "../usecases/access-ports";

/** Failed authentications one client address may make in a window before it must wait. */
export const FAILURE_LIMIT = 20;
/** The window failures are counted in (fixed, starting at the first failure); also the longest wait. */
export const FAILURE_WINDOW_MS = 10 * 60_000;
/** Blocked addresses an isolate remembers, so a flood from one address stops reaching D1. */
const REMEMBERED = 10_000;

/**
 * Failed authentications per client address in D1 (table `auth_failures`): one row per address,
 * counted in a fixed window. D1 has one primary, so every isolate sees the same count; an isolate
 * also remembers blocked addresses until their window ends.
 */
export function d1Throttle(d1: D1Database): AuthThrottle {
  const blocked = new Map<string, number>();
  const wait = (until: number, now: number) => Math.max(1, Math.ceil((until - now) / 1000));
  return {
    async retryAfter(key, now) {
      const until = blocked.get(key);
      if (until !== undefined) {
        if (until > now) return wait(until, now);
        blocked.delete(key);
      }
      const row = await d1
        .prepare("select window_start, failures from auth_failures where key = ?")
        .bind(key)
        .first<{ window_start: number; failures: number }>();
      if (!row || row.failures < FAILURE_LIMIT) return 0;
      const end = row.window_start + FAILURE_WINDOW_MS;
      if (end <= now) return 0;
      if (blocked.size >= REMEMBERED) blocked.clear();
      blocked.set(key, end);
      return wait(end, now);
    },
    async fail(key, now) {
      const expired = now - FAILURE_WINDOW_MS;
      // In an upsert's SET every column reads the row as it was, so both cases see the old window.
      await d1.batch([
        d1
          .prepare(
            `insert into auth_failures (key, window_start, failures) values (?1, ?2, 1)
             on conflict (key) do update set
               failures = case when window_start <= ?3 then 1 else failures + 1 end,
               window_start = case when window_start <= ?3 then ?2 else window_start end`,
          )
          .bind(key, now, expired),
        // Old rows of other addresses go a few at a time.
        d1
          .prepare(
            "delete from auth_failures where key in (select key from auth_failures where window_start <= ?1 limit 20)",
          )
          .bind(expired),
      ]);
    },
  };
}
