// Device events end to end in workerd with the real local Queue, Durable Objects and D1: a batch is
// validated, limited per device, buffered in the isolate, sent to the stats Queue, counted once per
// event id by the release's monitor, rolled up into D1, and read back as statistics.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createApp, createMiniProgram, expectJson, expectProblem, releaseFull } from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";

type Json = Record<string, unknown>;
interface Stats {
  totals: Record<string, number | null>;
  devices: Record<string, { estimate: number; standardError: number }>;
  buckets: { at: number; counts: Record<string, number> }[];
}

let token: string;
let rel: { appKey: string; miniProgramKey: string; releaseId: string; version: string };

beforeAll(async () => {
  token = (await makeWorkspace()).token;
  const appKey = (await createApp(token)).key;
  const mp = await createMiniProgram(token);
  const r = await releaseFull(token, { miniProgram: mp.id, appKey, env: "prod" }, "1.0.0");
  rel = { appKey, miniProgramKey: mp.key, releaseId: r.release.id, version: "1.0.0" };
});

let seq = 0;
function event(type: string, extra: Json = {}): Json {
  seq++;
  return {
    id: `ev-${seq}`,
    type,
    miniProgram: rel.miniProgramKey,
    version: rel.version,
    releaseId: rel.releaseId,
    at: Date.now() - 1000,
    ...extra,
  };
}

function send(deviceId: string, events: Json[], extra: Json = {}) {
  return call("/v1/events", { method: "POST", json: { appId: rel.appKey, env: "prod", deviceId, events, ...extra } });
}

async function stats(query = "", releaseId = rel.releaseId): Promise<Stats> {
  return expectJson<Stats>(await call(`/v1/admin/releases/${releaseId}/stats${query}`, { token }), 200);
}

/** Waits until the release's totals satisfy `done`. */
function until(done: (totals: Stats["totals"]) => boolean, query = ""): Promise<Stats> {
  return vi.waitFor(
    async () => {
      const s = await stats(query);
      if (!done(s.totals)) throw new Error(`not yet: ${JSON.stringify(s.totals)}`);
      return s;
    },
    { timeout: 15_000, interval: 50 },
  );
}

describe("POST /v1/events", () => {
  it("accepts a batch with 202, counts each event id once per device, and drops what is not about the release", async () => {
    const a = [event("download_ok"), event("install_ok"), event("launch_ok")];
    const b = [event("download_ok"), event("install_failed", { errorCode: "CHECKSUM_MISMATCH" })];
    const res = await send("device-a", a);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 3 });
    expect(res.headers.get("request-id")).toBeTruthy();
    // The same batch again (a retry), and the same ids from another device (different events).
    expect((await send("device-a", a)).status).toBe(202);
    expect((await send("device-b", [...b, b[0] as Json])).status).toBe(202);
    // Unknown release, another version, another mini program, another app: accepted, never counted.
    expect((await send("device-c", [event("download_ok", { releaseId: "rel_doesnotexist000000000" })])).status).toBe(
      202,
    );
    expect((await send("device-c", [event("download_ok", { version: "9.9.9" })])).status).toBe(202);
    expect((await send("device-c", [event("download_ok", { miniProgram: "someone-else" })])).status).toBe(202);
    expect((await send("device-c", [event("download_ok")], { appId: "other-app" })).status).toBe(202);
    const s = await until((t) => t.download_ok === 2 && t.install_failed === 1);
    expect(s.totals).toMatchObject({
      offered: 0,
      download_ok: 2,
      download_failed: 0,
      install_ok: 1,
      install_failed: 1,
      launch_ok: 1,
      launch_failed: 0,
      rolled_back: 0,
      attempts: 2,
      failures: 1,
      failureRateBasisPoints: 5000,
    });
    expect(s.devices.download_ok?.estimate).toBe(2);
    expect(s.devices.install_ok?.estimate).toBe(1);
    // Minute buckets add up to the same totals.
    const minutes = await stats(`?step=minute&from=${Date.now() - 3_600_000}`);
    const sum = minutes.buckets.reduce((n, b) => n + (b.counts.download_ok ?? 0), 0);
    expect(sum).toBe(2);
  });

  it("rolls hours up into D1, and the hourly history reads them back", async () => {
    const stub = env.MONITORS.get(env.MONITORS.idFromName(rel.releaseId));
    await vi.waitFor(async () => {
      expect(await runDurableObjectAlarm(stub)).toBe(true);
    });
    const rows = await env.DB.prepare(
      "select metric, sum(count) as n from release_stats_hourly where release_id = ? group by metric order by metric",
    )
      .bind(rel.releaseId)
      .all<{ metric: string; n: number }>();
    expect(Object.fromEntries(rows.results.map((r) => [r.metric, r.n]))).toEqual({
      download_ok: 2,
      install_failed: 1,
      install_ok: 1,
      launch_ok: 1,
    });
    const s = await stats("?step=hour");
    expect(s.totals.download_ok).toBe(2);
  });

  it("resolves more releases in one Queue batch than D1 binds parameters in one statement", async () => {
    const unknown = (n: number) =>
      Array.from({ length: 99 }, (_, i) => event("download_ok", { releaseId: `rel_unknown${n}x${i}` }));
    const before = (await stats()).totals.launch_failed ?? 0;
    // Two batches sent together: ~200 release ids for the consumer to look up, the known one among them.
    const [a, b] = await Promise.all([
      send("many-releases-a", [...unknown(1), event("launch_failed")]),
      send("many-releases-b", [...unknown(2), event("launch_failed")]),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    await until((t) => t.launch_failed === before + 2);
  });

  it("refuses a bad batch whole, as problem+json with a pointer per field", async () => {
    const bad = await send("device-d", [event("downloaded"), event("install_ok", { at: 5, extra: 1 })]);
    const { body: p } = await expectProblem(bad, 400, "VALIDATION_FAILED");
    expect(p.errors?.map((e) => e.pointer).sort()).toEqual(["/events/0/type", "/events/1/at", "/events/1/extra"]);
    await expectProblem(await send("device-d", []), 400, "VALIDATION_FAILED");
    await expectProblem(
      await send(
        "device-d",
        Array.from({ length: 101 }, () => event("download_ok")),
      ),
      400,
      "VALIDATION_FAILED",
    );
    await expectProblem(
      await call("/v1/events", { method: "POST", body: "{", headers: { "content-type": "application/json" } }),
      400,
      "MALFORMED_JSON",
    );
    await expectProblem(
      await call("/v1/events", {
        method: "POST",
        body: "x".repeat(70_000),
        headers: { "content-type": "application/json" },
      }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    await expectProblem(await call("/v1/events", { method: "POST", body: "{}" }), 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  it("limits a flooding device without affecting others", async () => {
    const batch = () => Array.from({ length: 100 }, () => event("launch_ok"));
    const answers: number[] = [];
    for (let i = 0; i < 5; i++) answers.push((await send("flooder", batch())).status);
    expect(answers).toEqual([202, 202, 429, 429, 429]);
    const limited = await send("flooder", [event("launch_ok")]);
    const { body: p } = await expectProblem(limited, 429, "RATE_LIMITED");
    expect(p.detail).toContain("more events");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await send("quiet-device", batch())).status).toBe(202);
  });
});
