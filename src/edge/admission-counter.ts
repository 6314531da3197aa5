import { DurableObject } from "cloudflare:workers";
import type { AdmissionAnswer } from "../usecases/ports";

/** Half-open [startsAt, endsAt) in ms since epoch; at most `cap` devices. */
export interface AdmissionWindow {
  startsAt: number;
  endsAt: number;
  cap: number;
}

type WindowRow = { starts_at: number; ends_at: number; cap: number; sealed: number };

function isWindow(w: AdmissionWindow): boolean {
  return (
    Number.isSafeInteger(w.startsAt) &&
    Number.isSafeInteger(w.endsAt) &&
    w.endsAt > w.startsAt &&
    Number.isSafeInteger(w.cap) &&
    w.cap >= 1
  );
}

/**
 * The exact admission authority of one time-window canary (one object per release, named by the
 * release id). The window and cap are fixed by the first `admit` and ignored afterwards, so every
 * caller is judged against the same rules even while a newer snapshot propagates.
 *
 * Exactness: a Durable Object delivers one event at a time, and `admit` reads and writes with
 * synchronous SQLite calls and no `await` in between, so two admits never interleave and the
 * in-memory count is always the table's row count.
 *
 * `closed` is a promise kept here: callers each bring their own clock, so the first call that sees
 * `now >= endsAt` seals the set, and a later admit with a slightly earlier `now` (another isolate, a
 * slow request) admits nobody. A caller may then cache the member set as final.
 */
export class AdmissionCounter extends DurableObject<Env> {
  private window: AdmissionWindow | null;
  private count: number;
  private sealed: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      "create table if not exists admitted (device_id text primary key, admitted_at integer not null) without rowid",
    );
    sql.exec(
      "create table if not exists meta (id integer primary key check (id = 1), starts_at integer not null, ends_at integer not null, cap integer not null, sealed integer not null default 0)",
    );
    const row = sql.exec<WindowRow>("select starts_at, ends_at, cap, sealed from meta where id = 1").toArray()[0];
    this.window = row ? { startsAt: row.starts_at, endsAt: row.ends_at, cap: row.cap } : null;
    this.sealed = row?.sealed === 1;
    this.count = sql.exec<{ n: number }>("select count(*) as n from admitted").one().n;
  }

  /**
   * Admits `deviceId` when `now` is in [startsAt, endsAt) and fewer than `cap` devices are in.
   * An admitted device stays admitted, also after `endsAt`; outside the window this only looks up.
   */
  admit(deviceId: string, window: AdmissionWindow, now: number): AdmissionAnswer {
    // Fail closed on bad input; a malformed window is never stored (it would be kept for good).
    if (!Number.isFinite(now) || (this.window === null && !isWindow(window))) return { admitted: false, closed: false };
    const w = this.window ?? this.fix(window);
    if (this.has(deviceId)) return { admitted: true, closed: this.closed(w, now) };
    if (this.sealed || now < w.startsAt || now >= w.endsAt || this.count >= w.cap) {
      return { admitted: false, closed: this.closed(w, now) };
    }
    this.ctx.storage.sql.exec("insert into admitted (device_id, admitted_at) values (?, ?)", deviceId, now);
    this.count += 1;
    return { admitted: true, closed: this.closed(w, now) };
  }

  /** Looks up without admitting. Without `now`, `closed` reflects the cap and an earlier seal. */
  lookup(deviceId: string, now?: number): AdmissionAnswer {
    const w = this.window;
    const closed = w !== null && (now === undefined ? this.sealed || this.count >= w.cap : this.closed(w, now));
    return { admitted: this.has(deviceId), closed };
  }

  /** How many devices are in, and the cap fixed by the first admit (null before it). */
  tally(): { admitted: number; cap: number | null } {
    return { admitted: this.count, cap: this.window?.cap ?? null };
  }

  /** Every admitted device id (at most `cap`); final once an answer said `closed`. */
  members(): string[] {
    return this.ctx.storage.sql
      .exec<{ device_id: string }>("select device_id from admitted")
      .toArray()
      .map((r) => r.device_id);
  }

  private fix(window: AdmissionWindow): AdmissionWindow {
    const w = { startsAt: window.startsAt, endsAt: window.endsAt, cap: window.cap };
    this.ctx.storage.sql.exec(
      "insert into meta (id, starts_at, ends_at, cap) values (1, ?, ?, ?)",
      w.startsAt,
      w.endsAt,
      w.cap,
    );
    this.window = w;
    return w;
  }

  private has(deviceId: string): boolean {
    return this.ctx.storage.sql.exec("select 1 from admitted where device_id = ?", deviceId).toArray().length > 0;
  }

  private closed(w: AdmissionWindow, now: number): boolean {
    if (!this.sealed && now >= w.endsAt) {
      this.ctx.storage.sql.exec("update meta set sealed = 1 where id = 1");
      this.sealed = true;
    }
    return this.sealed || this.count >= w.cap;
  }
}
