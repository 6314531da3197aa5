import { buildShards, parseEntries, REGEX_PREFIX, shardCountFor } from "../domain/allowlist-shards";
import { AppError, type FieldError } from "../domain/errors";
import { can } from "../domain/permissions";
import { listRegexCost } from "../domain/targeting/allowlist";
import type { AllowlistRecord, Context, Deps, MeasuredEnvironment } from "./ports";
import { assertDeliveryFits, publishList } from "./publish-delivery";
import { auditEntry, notFound, requirePermission } from "./support";

/** Creates an empty named allowlist of user ids or device ids; CONFLICT when the name is taken. */
export async function createAllowlist(deps: Deps, ctx: Context, input: { name: string; kind: "user" | "device" }) {
  requirePermission(ctx, "allowlist:write");
  const now = deps.clock.now();
  const list: AllowlistRecord = {
    id: deps.ids.id("al"),
    workspaceId: ctx.actor.workspaceId,
    name: input.name,
    kind: input.kind,
    contentVersion: 0,
    contentKey: "",
    exactCount: 0,
    shardCount: 1,
    regexEntries: [],
    createdAt: now,
    updatedAt: now,
    rowVersion: 1,
  };
  const audit = auditEntry(deps, ctx, {
    action: "allowlist.create",
    resourceType: "allowlist",
    resourceId: list.id,
    before: null,
    after: list,
  });
  if ((await deps.store.createAllowlist(list, audit)) === "conflict") {
    throw new AppError("CONFLICT", "An allowlist with this name already exists.");
  }
  return list;
}

/**
 * What the actor may see of a list: everyone in the workspace its name, kind and counts (to refer
 * to it in targeting); its regex entries, which are entries, only those who may read entries.
 */
function shown(
  ctx: Context,
  list: AllowlistRecord,
): Omit<AllowlistRecord, "regexEntries"> & { regexEntries?: string[] } {
  if (can(ctx.actor, "allowlist:read")) return list;
  const { regexEntries: _, ...rest } = list;
  return rest;
}

export async function listAllowlists(deps: Deps, ctx: Context) {
  requirePermission(ctx, "workspace:read");
  return (await deps.store.listAllowlists(ctx.actor.workspaceId)).map((list) => shown(ctx, list));
}

async function loadAllowlist(deps: Deps, ctx: Context, idOrName: string) {
  requirePermission(ctx, "workspace:read");
  const list = await deps.store.getAllowlist(ctx.actor.workspaceId, idOrName);
  if (list === null) throw notFound("The allowlist");
  return list;
}

export async function getAllowlist(deps: Deps, ctx: Context, idOrName: string) {
  return shown(ctx, await loadAllowlist(deps, ctx, idOrName));
}

/** The list's current content in upload format (one entry per line, regex entries prefixed `re:`). */
export async function getAllowlistEntries(deps: Deps, ctx: Context, idOrName: string) {
  const list = await loadAllowlist(deps, ctx, idOrName);
  requirePermission(ctx, "allowlist:read");
  return list.contentKey === "" ? "" : ((await deps.lists.getSource(list.contentKey)) ?? "");
}

/**
 * Replaces (or, with `append`, extends) a list's entries: parses and validates every line, writes
 * the canonical source and the hash shards under a new random content key (create-once, so a
 * concurrent upload can never overwrite them), then swaps the list's metadata with a
 * compare-and-swap and rebuilds the workspace's snapshots. A lost race is a CONFLICT. Content that
 * raises the list's regex cost is first measured in every environment of the workspace (each
 * snapshot holds the workspace's lists): if one of them would go over a snapshot bound
 * (REGEX_BUDGET_EXCEEDED, SNAPSHOT_TOO_LARGE) nothing is written, and the swap then also requires
 * every environment of the workspace to be unchanged since it was measured (else CONFLICT).
 */
export async function uploadAllowlistEntries(
  deps: Deps,
  ctx: Context,
  input: { idOrName: string; mode: "replace" | "append"; readBody: () => Promise<string> },
) {
  requirePermission(ctx, "allowlist:write");
  const list = await deps.store.getAllowlist(ctx.actor.workspaceId, input.idOrName);
  if (list === null) throw notFound("The allowlist");
  let text = await input.readBody();
  let storedLines = 0;
  if (input.mode === "append" && list.contentKey !== "") {
    const stored = (await deps.lists.getSource(list.contentKey)) ?? "";
    storedLines = stored.split("\n").length;
    text = `${stored}\n${text}`;
  }
  const parsed = parseEntries(text);
  if (!parsed.ok) {
    throw new AppError("VALIDATION_FAILED", "Some entries are not valid.", markStoredLines(parsed.errors, storedLines));
  }
  const { exact, regex, regexCost } = parsed.entries;
  // Measured environments, when the upload raises the list's regex cost: the write then commits only
  // while every environment of the workspace still has the snapshot version measured here.
  let measured: MeasuredEnvironment[] | null = null;
  if (regexCost > listRegexCost(list.regexEntries)) {
    measured = [];
    for (const envId of await deps.store.environmentIdsOfWorkspace(list.workspaceId)) {
      const m = await assertDeliveryFits(deps, envId, null, (source) => {
        for (const l of source.lists) if (l.id === list.id) l.regexEntries = regex;
      });
      if (m !== null) measured.push(m);
    }
  }
  const contentKey = deps.ids.id("lc");
  const shardCount = shardCountFor(exact.length);
  await deps.lists.putShards(contentKey, buildShards(exact, shardCount));
  await deps.lists.putSource(contentKey, [...exact, ...regex.map((r) => `${REGEX_PREFIX}${r}`)].join("\n"));
  const changes = {
    contentVersion: list.contentVersion + 1,
    contentKey,
    exactCount: exact.length,
    shardCount,
    regexEntries: regex,
    updatedAt: deps.clock.now(),
  };
  const audit = auditEntry(deps, ctx, {
    action: input.mode === "append" ? "allowlist.append" : "allowlist.replace",
    resourceType: "allowlist",
    resourceId: list.id,
    before: { contentVersion: list.contentVersion, exactCount: list.exactCount, regexCount: list.regexEntries.length },
    after: { contentVersion: changes.contentVersion, exactCount: exact.length, regexCount: regex.length },
  });
  if ((await deps.store.updateAllowlistContent(list, changes, audit, measured)) === "conflict") {
    throw new AppError(
      "CONFLICT",
      measured === null
        ? "The allowlist was changed by someone else; retry."
        : "The allowlist, or the delivery of an environment of its workspace, was changed by someone else; retry.",
    );
  }
  const updated = { ...list, ...changes, rowVersion: list.rowVersion + 1 };
  await publishList(deps, updated);
  return updated;
}

/**
 * An append is validated as the merged list, stored lines first. A stored line the current rules
 * refuse (saved under older rules: a pattern RE2 cannot compile, an invisible character) blocks
 * every append until the list is replaced without it: its errors say so, instead of pointing at a
 * line the caller never sent without a word.
 */
export function markStoredLines(errors: FieldError[], storedLines: number): FieldError[] {
  return errors.map((e) => {
    const line = Number(/^\/lines\/(\d+)$/.exec(e.pointer)?.[1] ?? Number.NaN);
    if (!(line <= storedLines)) return e;
    return {
      pointer: e.pointer,
      message:
        `${e.message} (a line already stored in the list, saved under older rules: download the list with ` +
        "GET …/entries, remove or fix it, and replace the list with PUT)",
    };
  });
}

/**
 * Deletes a list and its entries: refused (LIST_IN_USE) while a release that is not ended, archived
 * or cancelled refers to it. Audited (with the list's metadata, never its entries).
 */
export async function deleteAllowlist(deps: Deps, ctx: Context, idOrName: string) {
  const list = await loadAllowlist(deps, ctx, idOrName);
  requirePermission(ctx, "allowlist:write");
  const { contentKey: _, regexEntries: __, ...metadata } = list;
  const audit = auditEntry(deps, ctx, {
    action: "allowlist.delete",
    resourceType: "allowlist",
    resourceId: list.id,
    before: metadata,
    after: null,
  });
  const result = await deps.store.deleteAllowlist(list, audit);
  if (result === "in_use") {
    throw new AppError(
      "LIST_IN_USE",
      "A release that is not ended, archived or cancelled refers to this list: end or cancel it, or change its targeting, first.",
    );
  }
  if (result === "conflict") throw new AppError("CONFLICT", "The list was changed meanwhile; read it again and retry.");
  await deps.lists.removeContent(list.contentKey, list.shardCount);
  return metadata;
}
