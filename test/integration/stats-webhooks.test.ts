// Workspace webhooks end to end in workerd with the real local Queue and D1: a notice is recorded,
// queued, posted signed to a real receiver (the `stats` project's outbound service,
// test/support/webhook-receiver.ts, answering as each test scripts it), retried with backoff
// (WEBHOOK_RETRY_SECONDS is 0 here) and its attempts shown in the deliveries list.
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { type Bindings, buildDeps } from "../../src/deps";
import { webhookSender } from "../../src/edge/webhooks";
import { notifyWorkspace } from "../../src/usecases/webhooks";
import { count, expectJson, expectProblem } from "../support/admin-factories";
import { RECEIVER_ORIGIN, type Received, type Scripted } from "../support/webhook-receiver";
import { addMember, call, makeWorkspace, uniqueKey } from "../support/workspace";

interface Hook {
  url: string;
  createdAt: number;
  updatedAt: number;
  secret?: string;
}
interface Delivery {
  id: string;
  event: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  payload: string;
  createdAt: number;
  updatedAt: number;
}
interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const deps = () => buildDeps(env as unknown as Bindings);

/** A receiver of its own: a URL only this test posts to. */
function newBox() {
  const box = uniqueKey("box").replace(/[^a-z0-9-]/gi, "");
  return { box, url: `${RECEIVER_ORIGIN}/${box}/hook` };
}

async function script(box: string, answers: Scripted[]) {
  const res = await fetch(`${RECEIVER_ORIGIN}/__script/${box}`, { method: "PUT", body: JSON.stringify(answers) });
  expect(res.status).toBe(204);
}

async function received(box: string): Promise<Received[]> {
  return (await fetch(`${RECEIVER_ORIGIN}/__received/${box}`)).json<Received[]>();
}

const put = (token: string, json: unknown) => call("/v1/admin/webhook", { method: "PUT", token, json });

async function hookFor(url: string) {
  const ws = await makeWorkspace();
  const hook = await expectJson<Hook>(await put(ws.token, { url }), 201);
  return { ...ws, secret: hook.secret ?? "" };
}

async function ping(token: string): Promise<Delivery> {
  return expectJson<Delivery>(await call("/v1/admin/webhook/test", { method: "POST", token }), 202);
}

async function deliveries(token: string, query = ""): Promise<Page<Delivery>> {
  return expectJson<Page<Delivery>>(await call(`/v1/admin/webhook/deliveries${query}`, { token }), 200);
}

/** The delivery once `done` holds for it (as the deliveries list shows it). */
function until(token: string, id: string, done: (d: Delivery) => boolean, timeout = 15_000): Promise<Delivery> {
  return vi.waitFor(
    async () => {
      const found = (await deliveries(token, "?limit=500")).items.find((d) => d.id === id);
      if (found === undefined || !done(found)) throw new Error(`not yet: ${JSON.stringify(found)}`);
      return found;
    },
    { timeout, interval: 50 },
  );
}

function untilReceived(box: string, n: number): Promise<Received[]> {
  return vi.waitFor(
    async () => {
      const got = await received(box);
      if (got.length < n) throw new Error(`${got.length} of ${n} requests so far`);
      return got;
    },
    { timeout: 15_000, interval: 50 },
  );
}

const utf8 = new TextEncoder();

/** What a receiver computes: lowercase hex HMAC-SHA256 of `text` under the secret's UTF-8 bytes. */
async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8.encode(text)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A receiver's check of `updraft-signature` (docs/webhooks.md): the timestamp and the MAC over `<t>.<body>`. */
async function verifies(secret: string, header: string | undefined, body: string, toleranceSeconds = 300) {
  const parts = Object.fromEntries((header ?? "").split(",").map((p) => p.split("=") as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  return parts.v1 === (await hmacHex(secret, `${t}.${body}`));
}

describe("PUT /v1/admin/webhook", () => {
  it("creates the webhook (201) with a secret shown only then; a change keeps it, a rotation shows a new one", async () => {
    const ws = await makeWorkspace();
    const { url } = newBox();
    await expectProblem(await call("/v1/admin/webhook", { token: ws.token }), 404, "NOT_FOUND");
    const created = await expectJson<Hook>(await put(ws.token, { url }), 201);
    expect(created.url).toBe(url);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const shown = await expectJson<Hook>(await call("/v1/admin/webhook", { token: ws.token }), 200);
    expect(shown).toEqual({ url, createdAt: created.createdAt, updatedAt: created.updatedAt });

    const same = await expectJson<Hook>(await put(ws.token, { url }), 200);
    expect(same).not.toHaveProperty("secret");
    const moved = await expectJson<Hook>(await put(ws.token, { url: `${url}/v2` }), 200);
    expect(moved).not.toHaveProperty("secret");
    expect(moved.url).toBe(`${url}/v2`);
    expect(moved.createdAt).toBe(created.createdAt);
    const rotated = await expectJson<Hook>(await put(ws.token, { url: `${url}/v2`, rotateSecret: true }), 200);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);

    // Audited, the secret never in the audit log.
    const audit = await expectJson<{ items: { action: string; before: unknown; after: unknown }[] }>(
      await call("/v1/admin/audit-logs?resourceType=webhook", { token: ws.token }),
      200,
    );
    expect(audit.items.map((a) => a.action)).toEqual(["webhook.update", "webhook.update", "webhook.create"]);
    expect(JSON.stringify(audit)).not.toContain(created.secret);
    expect(JSON.stringify(audit)).not.toContain(rotated.secret);
  });

  it.each([
    ["plain http to another host", { url: "http://example.com/hook" }, "/url"],
    ["a scheme other than https", { url: "ftp://example.com/hook" }, "/url"],
    ["not a URL", { url: "hooks.example.com/path" }, "/url"],
    ["credentials in the URL", { url: "https://user:pass@example.com/hook" }, "/url"],
    ["a URL over 2048 characters", { url: `https://example.com/${"a".repeat(2030)}` }, "/url"],
    ["an empty URL", { url: "" }, "/url"],
    ["no URL", {}, "/url"],
    ["a rotateSecret that is not a boolean", { url: "https://example.com/hook", rotateSecret: "yes" }, "/rotateSecret"],
    ["an unknown field", { url: "https://example.com/hook", events: ["x"] }, ""],
  ])("refuses %s with 400 VALIDATION_FAILED, writing nothing", async (_name, json, pointer) => {
    const ws = await makeWorkspace();
    const { body } = await expectProblem(await put(ws.token, json), 400, "VALIDATION_FAILED");
    expect(body.errors?.[0]?.pointer).toBe(pointer);
    await expectProblem(await call("/v1/admin/webhook", { token: ws.token }), 404, "NOT_FOUND");
    expect(await count("select count(*) as n from audit_logs where workspace_id = ?", ws.workspaceId)).toBe(1);
  });

  it("takes plain http for localhost and 127.0.0.1 (local runs), and exactly 2048 characters", async () => {
    const ws = await makeWorkspace();
    await expectJson(await put(ws.token, { url: "http://localhost:8787/hook" }), 201);
    await expectJson(await put(ws.token, { url: "http://127.0.0.1/hook" }), 200);
    const long = `https://example.com/${"a".repeat(2048 - "https://example.com/".length)}`;
    expect(long.length).toBe(2048);
    await expectJson(await put(ws.token, { url: long }), 200);
  });

  it("is for workspace admins: a reviewer may read the webhook but not change, delete or ping it", async () => {
    const ws = await hookFor(newBox().url);
    const reviewer = await addMember(ws.workspaceId, "reviewer");
    await expectJson(await call("/v1/admin/webhook", { token: reviewer.token }), 200);
    await deliveries(reviewer.token);
    await expectProblem(await put(reviewer.token, { url: newBox().url }), 403, "FORBIDDEN");
    await expectProblem(await call("/v1/admin/webhook", { method: "DELETE", token: reviewer.token }), 403, "FORBIDDEN");
    await expectProblem(
      await call("/v1/admin/webhook/test", { method: "POST", token: reviewer.token }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("deliveries", () => {
  it("a ping is posted once, signed with the secret shown at creation, its body the stored payload byte for byte", async () => {
    const { box, url } = newBox();
    const ws = await hookFor(url);
    await script(box, [{ status: 204 }]);
    const sent = await ping(ws.token);
    expect(sent).toMatchObject({ event: "ping", status: "pending", attempts: 0, lastStatus: null, lastError: null });
    const done = await until(ws.token, sent.id, (d) => d.status === "delivered");
    expect(done).toMatchObject({ attempts: 1, lastStatus: 204, lastError: null, payload: sent.payload });

    const [request] = await untilReceived(box, 1);
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/hook");
    expect(request?.body).toBe(sent.payload);
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers["updraft-event"]).toBe("ping");
    expect(request?.headers["updraft-delivery"]).toBe(sent.id);
    const header = request?.headers["updraft-signature"] ?? "";
    expect(header).toMatch(/^t=\d{10},v1=[0-9a-f]{64}$/);
    expect(await verifies(ws.secret, header, request?.body ?? "")).toBe(true);
    // It verifies nothing else: another secret, another body, or an old timestamp.
    expect(await verifies(`${ws.secret}x`, header, request?.body ?? "")).toBe(false);
    expect(await verifies(ws.secret, header, `${request?.body} `)).toBe(false);
    const t = Number(/t=(\d+)/.exec(header)?.[1]);
    const stale = `t=${t - 600},v1=${await hmacHex(ws.secret, `${t - 600}.${request?.body}`)}`;
    expect(await verifies(ws.secret, stale, request?.body ?? "")).toBe(false);

    // The body, in its documented key order.
    const body = JSON.parse(request?.body ?? "{}");
    expect(Object.keys(body)).toEqual(["id", "event", "createdAt", "workspaceId", "data"]);
    expect(body).toEqual({
      id: sent.id,
      event: "ping",
      createdAt: sent.createdAt,
      workspaceId: ws.workspaceId,
      data: { requestedBy: ws.memberId },
    });
    // Audited, as an admin's write.
    expect(
      await count("select count(*) as n from audit_logs where action = 'webhook.test' and resource_id = ?", sent.id),
    ).toBe(1);
  });

  it("notifyWorkspace: null and nothing recorded without a webhook; else the id of a delivery posting exactly its payload", async () => {
    const none = await makeWorkspace();
    expect(await notifyWorkspace(deps(), none.workspaceId, "health_gate.failed", { releaseId: "rel_x" })).toBeNull();
    expect(await count("select count(*) as n from webhook_deliveries where workspace_id = ?", none.workspaceId)).toBe(
      0,
    );

    const { box, url } = newBox();
    const ws = await hookFor(url);
    const data = { releaseId: "rel_1", verdict: "fail", metrics: { crashRate: 0.02 }, note: "é ✓" };
    const id = await notifyWorkspace(deps(), ws.workspaceId, "health_gate.failed", data);
    expect(id).toMatch(/^whd_/);
    const done = await until(ws.token, id ?? "", (d) => d.status === "delivered");
    expect(done.event).toBe("health_gate.failed");
    const parsed = JSON.parse(done.payload);
    expect(parsed).toEqual({
      id,
      event: "health_gate.failed",
      createdAt: done.createdAt,
      workspaceId: ws.workspaceId,
      data,
    });
    const [request] = await untilReceived(box, 1);
    expect(request?.body).toBe(done.payload);
    expect(request?.headers["updraft-event"]).toBe("health_gate.failed");
    expect(await verifies(ws.secret, request?.headers["updraft-signature"], done.payload)).toBe(true);
  });

  it("a 500 then a 200: two attempts, then delivered", async () => {
    const { box, url } = newBox();
    const ws = await hookFor(url);
    await script(box, [{ status: 500, body: "try again" }, { status: 200 }]);
    const sent = await ping(ws.token);
    const done = await until(ws.token, sent.id, (d) => d.status === "delivered");
    expect(done).toMatchObject({ attempts: 2, lastStatus: 200, lastError: null });
    const got = await received(box);
    expect(got).toHaveLength(2);
    // The same delivery each time, signed afresh.
    for (const request of got) {
      expect(request.body).toBe(sent.payload);
      expect(request.headers["updraft-delivery"]).toBe(sent.id);
      expect(await verifies(ws.secret, request.headers["updraft-signature"], request.body)).toBe(true);
    }
  });

  it("eight failed attempts: failed, the answer kept to 200 characters, nothing sent after", async () => {
    const { box, url } = newBox();
    const ws = await hookFor(url);
    const answer = `${"e".repeat(150)}${"x".repeat(850)}`;
    await script(box, [...Array.from({ length: 8 }, () => ({ status: 503, body: answer })), { status: 200 }]);
    const sent = await ping(ws.token);
    const pending = await until(ws.token, sent.id, (d) => d.attempts >= 1);
    expect(pending.lastStatus).toBe(503);
    const failed = await until(ws.token, sent.id, (d) => d.status === "failed", 40_000);
    expect(failed).toMatchObject({ attempts: 8, lastStatus: 503 });
    expect(failed.lastError).toBe(answer.slice(0, 200));
    expect(await count("select max(length(last_error)) as n from webhook_deliveries where id = ?", sent.id)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await received(box)).toHaveLength(8);
    expect((await deliveries(ws.token, "?status=failed")).items.map((d) => d.id)).toEqual([sent.id]);
  }, 60_000);

  it("redirects are not followed: a 302 is a failed attempt", async () => {
    const { box, url } = newBox();
    const ws = await hookFor(url);
    await script(box, [{ status: 302, headers: { location: `${RECEIVER_ORIGIN}/${box}/elsewhere` } }, { status: 200 }]);
    const sent = await ping(ws.token);
    const done = await until(ws.token, sent.id, (d) => d.status === "delivered");
    expect(done.attempts).toBe(2);
    expect((await received(box)).map((r) => r.path)).toEqual(["/hook", "/hook"]);
  });

  it("an answer that takes too long is a failed attempt (the sender's time limit)", async () => {
    const { box, url } = newBox();
    await script(box, [
      { status: 200, delayMs: 1500 },
      { status: 500, body: "y".repeat(5000) },
    ]);
    const send = webhookSender(undefined, 300);
    const slow = await send({ url, body: "{}", headers: { "content-type": "application/json" } });
    expect(slow).toEqual({ error: "No answer within 0.3 s." });
    const big = await send({ url, body: "{}", headers: { "content-type": "application/json" } });
    expect(big).toMatchObject({ status: 500 });
    expect("body" in big && big.body.length).toBeLessThanOrEqual(800);
  });

  it("deleting the webhook stops deliveries: the one in flight is not retried, pending ones fail", async () => {
    const { box, url } = newBox();
    const ws = await hookFor(url);
    await script(box, [{ status: 500, delayMs: 1500 }]);
    const sent = await ping(ws.token);
    await untilReceived(box, 1);
    await expectJson<Hook>(await call("/v1/admin/webhook", { method: "DELETE", token: ws.token }), 200);
    const failed = await until(ws.token, sent.id, (d) => d.status === "failed");
    expect(failed.lastError).toBe("The webhook was deleted before this delivery was sent.");
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await received(box)).toHaveLength(1);
    expect((await deliveries(ws.token)).items.find((d) => d.id === sent.id)?.status).toBe("failed");
    // Without a webhook: nothing to notify, ping and delete are 404.
    expect(await notifyWorkspace(deps(), ws.workspaceId, "health_gate.failed", {})).toBeNull();
    await expectProblem(await call("/v1/admin/webhook/test", { method: "POST", token: ws.token }), 404, "NOT_FOUND");
    await expectProblem(await call("/v1/admin/webhook", { method: "DELETE", token: ws.token }), 404, "NOT_FOUND");
    await expectProblem(await call("/v1/admin/webhook", { token: ws.token }), 404, "NOT_FOUND");
    expect(
      await count(
        "select count(*) as n from audit_logs where action = 'webhook.delete' and workspace_id = ?",
        ws.workspaceId,
      ),
    ).toBe(1);
  });

  it("a delivery goes to the webhook as it is when attempted: a new URL and a rotated secret apply to retries", async () => {
    const first = newBox();
    const second = newBox();
    const ws = await hookFor(first.url);
    await script(first.box, [{ status: 500, delayMs: 800 }]);
    const sent = await ping(ws.token);
    await untilReceived(first.box, 1);
    const rotated = await expectJson<Hook>(await put(ws.token, { url: second.url, rotateSecret: true }), 200);
    await until(ws.token, sent.id, (d) => d.status === "delivered");
    const [retry] = await untilReceived(second.box, 1);
    expect(retry?.body).toBe(sent.payload);
    expect(await verifies(rotated.secret ?? "", retry?.headers["updraft-signature"], sent.payload)).toBe(true);
    expect(await verifies(ws.secret, retry?.headers["updraft-signature"], sent.payload)).toBe(false);
  });

  it("the list pages newest first and filters by status", async () => {
    const { box, url } = newBox();
    const ws = await hookFor(url);
    await script(box, [{ status: 200 }, { status: 200 }, { status: 200 }]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await ping(ws.token)).id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const id of ids) await until(ws.token, id, (d) => d.status === "delivered");
    const all = await deliveries(ws.token);
    expect(all.items.map((d) => d.id)).toEqual([...ids].reverse());
    expect(Object.keys(all.items[0] ?? {}).sort()).toEqual(
      ["attempts", "createdAt", "event", "id", "lastError", "lastStatus", "payload", "status", "updatedAt"].sort(),
    );
    const first = await deliveries(ws.token, "?limit=2");
    expect(first.items.map((d) => d.id)).toEqual([ids[2], ids[1]]);
    const rest = await deliveries(ws.token, `?limit=2&cursor=${encodeURIComponent(first.nextCursor ?? "")}`);
    expect(rest).toEqual({ items: [all.items[2]], nextCursor: null });
    expect((await deliveries(ws.token, "?status=pending")).items).toEqual([]);
    expect((await deliveries(ws.token, "?status=delivered")).items).toHaveLength(3);
    await expectProblem(
      await call("/v1/admin/webhook/deliveries?status=lost", { token: ws.token }),
      400,
      "VALIDATION_FAILED",
    );
    await expectProblem(
      await call("/v1/admin/webhook/deliveries?cursor=nope", { token: ws.token }),
      400,
      "VALIDATION_FAILED",
    );
  });
});

describe("workspace isolation", () => {
  it("each workspace sees, changes and is sent only its own webhook and deliveries", async () => {
    const a = newBox();
    const b = newBox();
    const wsA = await hookFor(a.url);
    const wsB = await makeWorkspace();
    // B has no webhook: A's is not B's to read, ping or delete.
    await expectProblem(await call("/v1/admin/webhook", { token: wsB.token }), 404, "NOT_FOUND");
    await expectProblem(await call("/v1/admin/webhook/test", { method: "POST", token: wsB.token }), 404, "NOT_FOUND");
    await expectProblem(await call("/v1/admin/webhook", { method: "DELETE", token: wsB.token }), 404, "NOT_FOUND");
    expect(await notifyWorkspace(deps(), wsB.workspaceId, "health_gate.failed", {})).toBeNull();

    const sentA = await ping(wsA.token);
    await until(wsA.token, sentA.id, (d) => d.status === "delivered");
    expect((await deliveries(wsB.token)).items).toEqual([]);

    // B's own webhook, with its own secret, changes nothing of A's.
    const hookB = await expectJson<Hook>(await put(wsB.token, { url: b.url }), 201);
    expect(hookB.secret).not.toBe(wsA.secret);
    const idB = await notifyWorkspace(deps(), wsB.workspaceId, "health_gate.failed", { for: "b" });
    await until(wsB.token, idB ?? "", (d) => d.status === "delivered");
    expect((await deliveries(wsA.token)).items.map((d) => d.id)).toEqual([sentA.id]);
    expect((await deliveries(wsB.token)).items.map((d) => d.id)).toEqual([idB]);
    expect((await received(a.box)).map((r) => r.headers["updraft-delivery"])).toEqual([sentA.id]);
    const [toB] = await received(b.box);
    expect(JSON.parse(toB?.body ?? "{}").workspaceId).toBe(wsB.workspaceId);
    expect(await verifies(hookB.secret ?? "", toB?.headers["updraft-signature"], toB?.body ?? "")).toBe(true);

    await expectJson(await call("/v1/admin/webhook", { method: "DELETE", token: wsB.token }), 200);
    expect((await expectJson<Hook>(await call("/v1/admin/webhook", { token: wsA.token }), 200)).url).toBe(a.url);
  });
});
