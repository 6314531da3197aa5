import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { expectJson } from "../support/admin-factories";
import { canaryFixture, offered } from "../support/canary";
import { call, makeWorkspace } from "../support/workspace";

const N = 1_000_000;
const id = (i: number) => `user-${i.toString(36).padStart(6, "0")}`;

describe("a 1,000,000-entry allowlist", () => {
  it("is uploaded through the admin API, sharded, and looked up on the check path", async () => {
    const { token } = await makeWorkspace();
    const list = await expectJson<{ id: string }>(
      await call("/v1/admin/allowlists", { method: "POST", token, json: { name: "everyone", kind: "user" } }),
      201,
    );
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(id(i));
    const uploaded = await expectJson<{ exactCount: number; shardCount: number; contentVersion: number }>(
      await call(`/v1/admin/allowlists/${list.id}/entries`, {
        method: "PUT",
        token,
        headers: { "content-type": "text/plain" },
        body: lines.join("\n"),
      }),
      200,
    );
    expect(uploaded).toMatchObject({ exactCount: N, shardCount: 256, contentVersion: 1 });

    const fx = await canaryFixture(token, { allowlists: [{ kind: "user", listId: list.id }] });
    for (const i of [0, 1, 4242, 777_777, N - 1]) {
      expect(await offered(fx, { deviceId: `d-${i}`, userId: id(i) })).toBe("1.1.0");
    }
    for (const outsider of [id(N), "user-", "someone-else"]) {
      expect(await offered(fx, { deviceId: "d-x", userId: outsider })).toBe("1.0.0");
    }
    // The check path reads shards from KV, not D1: the list's rows hold only metadata.
    const row = await env.DB.prepare("select length(regex_entries) as l from allowlists where id = ?")
      .bind(list.id)
      .first<{ l: number }>();
    expect(row?.l).toBeLessThan(10);

    // Appending a duplicate keeps the count; one more distinct id would pass the limit and is refused whole.
    const append = (body: string) =>
      call(`/v1/admin/allowlists/${list.id}/entries`, {
        method: "POST",
        token,
        headers: { "content-type": "text/plain" },
        body,
      });
    expect(await expectJson(await append("user-000000"), 200)).toMatchObject({ exactCount: N, contentVersion: 2 });
    const over = await append("one-too-many");
    expect(over.status).toBe(400);
    const after = await expectJson<{ exactCount: number; contentVersion: number }>(
      await call(`/v1/admin/allowlists/${list.id}`, { token }),
      200,
    );
    expect(after).toMatchObject({ exactCount: N, contentVersion: 2 });
    // The internal storage key of the content is not part of the API (found by review).
    expect(after).not.toHaveProperty("contentKey");
    expect(uploaded).not.toHaveProperty("contentKey");
    expect(await offered(fx, { deviceId: "d-late", userId: "one-too-many" })).toBe("1.0.0");
  }, 120_000);
});
