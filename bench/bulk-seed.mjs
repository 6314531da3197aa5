// Bulk seeding of the benchmark's mini programs straight into local D1 (bench/run.mjs, used when
// BENCH_MINI_PROGRAMS is over 50 or BENCH_SEED=bulk): the rows the admin API leaves after creating
// each mini program, uploading its four versions and creating, targeting and moving its releases
// (1.0.0 created → in_review → approved → full; 1.1.0-1.3.0 created → targeting → in_review →
// approved → canary), written in a few D1 batches instead of ~19 admin calls per mini program (each
// publishing the delivery state again). No audit rows. The workspace, the app and its environments,
// the allowlists and one package (whose sha256, size and file count every bulk version shares, so
// downloads still work) come from the admin API first; the caller rebuilds the delivery state after.
//
// Rows go in as one JSON parameter per statement, `insert … select … from json_each(?1)`, with the
// values every row shares bound once: Miniflare's D1 binding is reached from Node through a proxy
// that costs milliseconds per statement and per 100 KB sent. Measured on 10,000 mini programs
// (90,000 rows): one statement per row in batches of 1,000, ~60 s per 10,000 rows; multi-row
// VALUES under D1's 100 bound parameters, ~10 s per 10,000 rows; this, ~3 s for all 90,000.
import { randomBytes } from "node:crypto";
import { COMPAT, canaryReleases, mpKey, VERSIONS } from "./fixtures.mjs";

/** Rows per statement: a JSON parameter of at most ~0.6 MB (D1 takes strings up to 2 MB). */
const ROWS_PER_STATEMENT = 5000;
/** Statements per D1 batch (one transaction each). */
const STATEMENTS_PER_BATCH = 10;

/** A column whose values come from each row. */
const ROW = Symbol("row");

// The ids of src/edge/crypto.ts: `<prefix>_` and 20 Crockford base32 digits, lower case.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
export function randomId(prefix) {
  let out = `${prefix}_`;
  for (const b of randomBytes(20)) out += ALPHABET[b & 31];
  return out;
}

/**
 * Targeting as the admin API stores it: the request body as its zod schema outputs it (keys in the
 * schema's order, src/http/admin/releases.ts), list references normalized to `{ kind, listId }`
 * (src/usecases/set-release-targeting.ts), serialized as drizzle does (JSON.stringify).
 */
function storedTargeting(t) {
  const out = {};
  const ref = (r) => ({ kind: r.kind, listId: r.listId });
  if (t.allowlists !== undefined) out.allowlists = t.allowlists.map(ref);
  if (t.denylists !== undefined) out.denylists = t.denylists.map(ref);
  if (t.rules !== undefined) {
    out.rules = t.rules.map((r) => ({ attribute: r.attribute, operator: r.operator, values: r.values }));
  }
  if (t.percentage !== undefined) {
    out.percentage = { basisPoints: t.percentage.basisPoints };
    if (t.percentage.ramp !== undefined) {
      out.percentage.ramp = t.percentage.ramp.map((s) => ({ at: s.at, basisPoints: s.basisPoints }));
    }
  }
  if (t.timeWindow !== undefined) {
    out.timeWindow = { startsAt: t.timeWindow.startsAt, endsAt: t.timeWindow.endsAt, cap: t.timeWindow.cap };
  }
  if (t.stickyKey !== undefined) out.stickyKey = t.stickyKey;
  return JSON.stringify(out);
}

/**
 * Inserts mini programs `mpKey(0)` .. `mpKey(n - 1)` of bench/fixtures.mjs with their versions and
 * their releases on one (app, environment), then bumps that environment's snapshot version once.
 * `pkg` is the package every version points at ({ sha256, size, fileCount } of an upload through the
 * API); `memberId` is the uploader and release creator; `userList` and `deviceList` are the list ids
 * the canary targeting refers to; `now` the time-window anchor and every row's timestamp. `newId`
 * (prefix, key, version) names each row (default: random ids as the Worker makes them; the
 * equivalence check passes the ids of an API-seeded run so buckets and admissions match).
 * Returns the time taken, the row counts and the ids per mini program.
 */
export async function bulkSeed(
  mf,
  { workspaceId, appId, environmentId, memberId, n, userList, deviceList, now, pkg, newId = randomId },
) {
  const started = performance.now();
  const db = await mf.getD1Database("DB");
  const maxSeq = await db
    .prepare("select coalesce(max(seq), 0) as seq from releases where environment_id = ?1")
    .bind(environmentId)
    .first("seq");
  let seq = Number(maxSeq);
  // What the API leaves: mini programs with defaultUpdateMode "async" (bench/run.mjs creates them so),
  // which versions and releases inherit (type dsl, origin workspace: the mode is kept).
  const mode = "async";
  const miniPrograms = [];
  const versions = [];
  const releases = [];
  // The targeting of every release, by index (null for the full ones); most rows share a few.
  const targetings = [null];
  const targetingIndex = new Map([[null, 0]]);
  const ids = [];
  for (let m = 0; m < n; m++) {
    const key = mpKey(m);
    const mpId = newId("mp", key, null);
    miniPrograms.push([mpId, key, JSON.stringify({ en: key })]);
    const versionIds = {};
    for (const version of VERSIONS) {
      versionIds[version] = newId("ver", key, version);
      versions.push([versionIds[version], mpId, version]);
    }
    const releaseIds = {};
    const release = (version, status, targeting, rowVersion) => {
      releaseIds[version] = newId("rel", key, version);
      if (!targetingIndex.has(targeting)) {
        targetingIndex.set(targeting, targetings.length);
        targetings.push(targeting);
      }
      const wentFull = status === "full" ? 1 : 0;
      releases.push([
        releaseIds[version],
        versionIds[version],
        mpId,
        ++seq,
        status,
        wentFull,
        targetingIndex.get(targeting),
        rowVersion,
      ]);
    };
    // created (row version 1), then in_review, approved, full: one row version each.
    release("1.0.0", "full", null, 4);
    for (const { version, targeting } of canaryReleases(m, { userList, deviceList, now })) {
      // created (1), targeting set (2), then in_review, approved, canary.
      release(version, "canary", storedTargeting(targeting), 5);
    }
    ids.push({ key, id: mpId, versions: versionIds, releases: releaseIds });
  }
  // Every column in the order of drizzle/*.sql: ROW (the next value of each row) or one value for all.
  const tables = [
    [
      "mini_programs",
      miniPrograms,
      [
        ["id", ROW],
        ["workspace_id", workspaceId],
        ["key", ROW],
        ["type", "dsl"],
        ["origin", "workspace"],
        ["names", ROW],
        ["descriptions", "{}"],
        ["default_update_mode", mode],
        ["min_usable_version", null],
        ["config", "{}"],
        ["created_at", now],
        ["updated_at", now],
        ["row_version", 1],
      ],
    ],
    [
      "versions",
      versions,
      [
        ["id", ROW],
        ["mini_program_id", ROW],
        ["version", ROW],
        ["sha256", pkg.sha256],
        ["size", pkg.size],
        ["file_count", pkg.fileCount],
        ["compat", COMPAT],
        ["default_update_mode", mode],
        ["release_note", ""],
        ["publisher_signature", null],
        ["publisher_key_id", null],
        ["uploaded_by", memberId],
        ["created_at", now],
        ["deleted_at", null],
      ],
    ],
    [
      "releases",
      releases,
      [
        ["id", ROW],
        ["version_id", ROW],
        ["mini_program_id", ROW],
        ["app_id", appId],
        ["environment_id", environmentId],
        ["seq", ROW],
        ["status", ROW],
        ["paused_from", null],
        ["went_full", ROW],
        ["rollback", 0],
        ["update_mode", mode],
        ["config", "{}"],
        ["targeting", { choices: targetings }],
        ["review_reason", null],
        ["created_by", memberId],
        ["created_at", now],
        ["updated_at", now],
        ["row_version", ROW],
      ],
    ],
  ];
  const tableMs = {};
  for (const [table, rows, columns] of tables) {
    const t0 = performance.now();
    const statements = insertStatements(db, table, columns, rows);
    for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) {
      await db.batch(statements.slice(i, i + STATEMENTS_PER_BATCH));
    }
    tableMs[table] = performance.now() - t0;
  }
  // Every change affecting delivery bumps it (the API once per change): once for the whole seeding.
  await db
    .prepare("update environments set snapshot_version = snapshot_version + 1 where id = ?1")
    .bind(environmentId)
    .run();
  return {
    ms: performance.now() - started,
    rows: { miniPrograms: miniPrograms.length, versions: versions.length, releases: releases.length },
    tableMs,
    ids,
  };
}

/**
 * `insert into <table> (…) select … from json_each(?1)`, ROWS_PER_STATEMENT rows each: ?1 holds the
 * rows' own values (ROW columns, in order); a value shared by every row is bound once per statement;
 * `{ choices }` takes the choice the row names by index.
 */
function insertStatements(db, table, columns, rows) {
  const shared = [];
  let i = 0;
  const values = columns.map(([, spec]) => {
    if (spec === ROW) return `value ->> ${i++}`;
    if (spec !== null && typeof spec === "object") {
      shared.push(JSON.stringify(spec.choices));
      return `?${shared.length + 1} ->> (value ->> ${i++})`;
    }
    shared.push(spec);
    return `?${shared.length + 1}`;
  });
  const sql =
    `insert into ${table} (${columns.map(([name]) => name).join(", ")}) ` +
    `select ${values.join(", ")} from json_each(?1)`;
  const statements = [];
  for (let r = 0; r < rows.length; r += ROWS_PER_STATEMENT) {
    statements.push(db.prepare(sql).bind(JSON.stringify(rows.slice(r, r + ROWS_PER_STATEMENT)), ...shared));
  }
  return statements;
}
