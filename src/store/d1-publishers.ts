import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Store } from "../usecases/ports";
import { auditInsert, auditWhen, type Db, guard, uniqueOrConflict } from "./d1-helpers";
import * as t from "./schema";

type PublisherMethods = Pick<
  Store,
  "createPublisherKey" | "listPublisherKeys" | "getPublisherKey" | "revokePublisherKey"
>;

/** Publisher keys (docs/publishing.md): revoked keys stay, so what they signed can be told apart. */
export function publisherMethods(db: Db): PublisherMethods {
  return {
    createPublisherKey: (key, audit) =>
      uniqueOrConflict(() => db.batch([db.insert(t.publisherKeys).values(key), auditInsert(db, audit)])),
    listPublisherKeys: (workspaceId) =>
      db
        .select()
        .from(t.publisherKeys)
        .where(eq(t.publisherKeys.workspaceId, workspaceId))
        .orderBy(asc(t.publisherKeys.createdAt), asc(t.publisherKeys.id)),
    getPublisherKey: async (workspaceId, idOrKeyId) =>
      (await db
        .select()
        .from(t.publisherKeys)
        .where(
          and(
            eq(t.publisherKeys.workspaceId, workspaceId),
            sql`(${t.publisherKeys.id} = ${idOrKeyId} or ${t.publisherKeys.keyId} = ${idOrKeyId})`,
          ),
        )
        .get()) ?? null,
    async revokePublisherKey(key, by, now, audit) {
      const live = sql`exists (select 1 from ${t.publisherKeys} where ${t.publisherKeys.id} = ${key.id} and ${t.publisherKeys.revokedAt} is null)`;
      const [audited] = await db.batch([
        auditWhen(db, audit, live),
        db
          .update(t.publisherKeys)
          .set({ revokedAt: now, revokedBy: by })
          .where(and(eq(t.publisherKeys.id, key.id), isNull(t.publisherKeys.revokedAt), guard(audit.id))),
      ]);
      return ((audited as unknown as D1Result).meta?.changes ?? 0) > 0 ? "ok" : "conflict";
    },
  };
}
