import { DurableObject } from "cloudflare:workers";
import {
  type BucketIndex,
  bucketOf,
  DELIVERY_BUCKETS,
  type DeliveryChange,
  type DeliveryHead,
  type HeadList,
} from "../domain/delivery";

type HeadRow = { version: number; built_at: number; app_key: string; env: string };

/**
 * The authority over one target's delivery head (one object per (app, environment), named by
 * `deliveryIndexName`): which part version of each mini program is current, the bucket indexes
 * derived from that, and the lists the live canaries refer to. Publishing is a compare on versions
 * (a part or list never goes back to an older version), applied in one synchronous transaction, so
 * concurrent publishes of one target are serialized here and the newest state always wins.
 *
 * Readers do not ask it on every check: isolates poll the head through a per-location cache
 * (edge/delivery-store.ts), so it answers about one poll per second per location, not per isolate.
 */
export class DeliveryIndex extends DurableObject<Env> {
  private cachedHead: DeliveryHead | null | undefined;
  private readonly cachedBuckets = new Map<number, BucketIndex>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      "create table if not exists parts (key text primary key, bucket integer not null, version integer not null, bytes integer not null default 0) without rowid",
    );
    sql.exec("create index if not exists parts_bucket on parts (bucket)");
    sql.exec(
      "create table if not exists part_lists (key text not null, list_id text not null, primary key (key, list_id)) without rowid",
    );
    sql.exec(
      "create table if not exists lists (id text primary key, version integer not null, meta text not null) without rowid",
    );
    sql.exec("create table if not exists buckets (bucket integer primary key, version integer not null)");
    sql.exec(
      "create table if not exists head (id integer primary key check (id = 1), version integer not null, built_at integer not null, app_key text not null, env text not null)",
    );
  }

  /** Applies a change; returns the head after it (unchanged when nothing in it was newer). */
  publish(appKey: string, env: string, change: DeliveryChange): DeliveryHead {
    const sql = this.ctx.storage.sql;
    const changed = this.ctx.storage.transactionSync(() => {
      const buckets = new Set<number>();
      let lists = false;
      const currentVersion = (key: string) =>
        sql.exec<{ version: number }>("select version from parts where key = ?", key).toArray()[0]?.version;
      for (const part of change.parts) {
        const current = currentVersion(part.key);
        if (current !== undefined && current >= part.version) continue;
        const bucket = bucketOf(part.key);
        sql.exec(
          "insert into parts (key, bucket, version, bytes) values (?, ?, ?, ?) on conflict (key) do update set version = excluded.version, bytes = excluded.bytes",
          part.key,
          bucket,
          part.version,
          part.bytes,
        );
        sql.exec("delete from part_lists where key = ?", part.key);
        for (const listId of part.lists) {
          sql.exec("insert or ignore into part_lists (key, list_id) values (?, ?)", part.key, listId);
        }
        buckets.add(bucket);
        lists = true;
      }
      if (change.replace === true) {
        const keep = new Set(change.parts.map((p) => p.key));
        for (const row of sql.exec<{ key: string; version: number }>("select key, version from parts").toArray()) {
          if (!keep.has(row.key)) change.removed.push({ key: row.key, version: row.version + 1 });
        }
      }
      for (const gone of change.removed) {
        const current = currentVersion(gone.key);
        if (current === undefined || current >= gone.version) continue;
        sql.exec("delete from parts where key = ?", gone.key);
        sql.exec("delete from part_lists where key = ?", gone.key);
        buckets.add(bucketOf(gone.key));
        lists = true;
      }
      for (const [id, list] of Object.entries(change.lists)) {
        const current = sql.exec<{ version: number }>("select version from lists where id = ?", id).toArray()[0];
        if (current !== undefined && current.version >= list.version) continue;
        sql.exec(
          "insert into lists (id, version, meta) values (?, ?, ?) on conflict (id) do update set version = excluded.version, meta = excluded.meta",
          id,
          list.version,
          JSON.stringify(list),
        );
        lists = true;
      }
      const head = sql.exec<HeadRow>("select version, built_at, app_key, env from head where id = 1").toArray()[0];
      if (head !== undefined && buckets.size === 0 && !lists) return null;
      const version = (head?.version ?? 0) + 1;
      for (const bucket of buckets) {
        sql.exec(
          "insert into buckets (bucket, version) values (?, ?) on conflict (bucket) do update set version = excluded.version",
          bucket,
          version,
        );
      }
      sql.exec(
        "insert into head (id, version, built_at, app_key, env) values (1, ?, ?, ?, ?) on conflict (id) do update set version = excluded.version, built_at = max(built_at, excluded.built_at)",
        version,
        change.builtAt,
        appKey,
        env,
      );
      return buckets;
    });
    if (changed !== null) {
      this.cachedHead = undefined;
      for (const bucket of changed) this.cachedBuckets.delete(bucket);
    }
    return this.head() as DeliveryHead;
  }

  /** The highest part version this target ever had (0: none): a rebuild publishes above it. */
  ceiling(): number {
    const row = this.ctx.storage.sql.exec<{ v: number | null }>("select max(version) as v from parts").toArray()[0];
    return row?.v ?? 0;
  }

  /** The current head, or null when nothing was ever published for the target. */
  head(): DeliveryHead | null {
    if (this.cachedHead !== undefined) return this.cachedHead;
    const sql = this.ctx.storage.sql;
    const row = sql.exec<HeadRow>("select version, built_at, app_key, env from head where id = 1").toArray()[0];
    if (row === undefined) {
      this.cachedHead = null;
      return null;
    }
    const buckets = new Array<number>(DELIVERY_BUCKETS).fill(0);
    for (const b of sql.exec<{ bucket: number; version: number }>("select bucket, version from buckets")) {
      // A bucket whose every part was removed is empty again: readers need not fetch its index.
      buckets[b.bucket] = b.version;
    }
    for (const b of sql.exec<{ bucket: number }>(
      "select bucket from buckets where bucket not in (select distinct bucket from parts)",
    )) {
      buckets[b.bucket] = 0;
    }
    const lists: Record<string, HeadList> = {};
    for (const l of sql.exec<{ id: string; meta: string }>(
      "select id, meta from lists where id in (select distinct list_id from part_lists)",
    )) {
      lists[l.id] = JSON.parse(l.meta) as HeadList;
    }
    this.cachedHead = {
      format: 2,
      appKey: row.app_key,
      env: row.env,
      version: row.version,
      builtAt: row.built_at,
      buckets,
      lists,
    };
    return this.cachedHead;
  }

  /** The current index of one bucket (its parts and their versions). */
  bucket(bucket: number): BucketIndex {
    let index = this.cachedBuckets.get(bucket);
    if (index === undefined) {
      const sql = this.ctx.storage.sql;
      const parts: Record<string, number> = {};
      const bytes: Record<string, number> = {};
      for (const p of sql.exec<{ key: string; version: number; bytes: number }>(
        "select key, version, bytes from parts where bucket = ?",
        bucket,
      )) {
        parts[p.key] = p.version;
        bytes[p.key] = p.bytes;
      }
      const version =
        sql.exec<{ version: number }>("select version from buckets where bucket = ?", bucket).toArray()[0]?.version ??
        0;
      index = { bucket, version, parts, bytes };
      this.cachedBuckets.set(bucket, index);
    }
    return index;
  }
}
