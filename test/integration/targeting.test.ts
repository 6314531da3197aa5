import { describe, expect, it } from "vitest";
import { expectJson, expectProblem, transition } from "../support/admin-factories";
import { canaryFixture, offered } from "../support/canary";
import { call, makeWorkspace } from "../support/workspace";

async function makeList(token: string, name: string, kind: "user" | "device", entries: string) {
  const created = await expectJson<{ id: string }>(
    await call("/v1/admin/allowlists", { method: "POST", token, json: { name, kind } }),
    201,
  );
  const put = await call(`/v1/admin/allowlists/${created.id}/entries`, {
    method: "PUT",
    token,
    headers: { "content-type": "text/plain" },
    body: entries,
  });
  await expectJson(put, 200);
  return created.id;
}

describe("canary targeting through /v1/check", () => {
  it("allowlists let listed users and regex-matched devices in, and a denylist wins over them", async () => {
    const { token } = await makeWorkspace();
    const users = await makeList(token, "testers", "user", "alice\nbob\n");
    await makeList(token, "lab", "device", "re:^lab-[0-9]{1,4}$\nfixed-device");
    const denied = await makeList(token, "blocked", "user", "bob");
    const fx = await canaryFixture(token, {
      allowlists: [
        { kind: "user", listId: users },
        { kind: "device", listId: "lab" },
      ],
      denylists: [{ kind: "user", listId: denied }],
    });
    expect(await offered(fx, { deviceId: "d-1", userId: "alice" })).toBe("1.1.0");
    expect(await offered(fx, { deviceId: "d-2", userId: "carol" })).toBe("1.0.0");
    expect(await offered(fx, { deviceId: "d-3", userId: "bob" })).toBe("1.0.0");
    expect(await offered(fx, { deviceId: "lab-42" })).toBe("1.1.0");
    expect(await offered(fx, { deviceId: "fixed-device" })).toBe("1.1.0");
    expect(await offered(fx, { deviceId: "lab-12345" })).toBe("1.0.0");
  });

  it("filters: all rules must match, geography only from request.cf, UA fills what the SDK did not send", async () => {
    const { token } = await makeWorkspace();
    const fx = await canaryFixture(token, {
      rules: [
        { attribute: "country", operator: "include", values: ["SG", "MY"] },
        { attribute: "brand", operator: "include", values: ["samsung"] },
        { attribute: "appVersion", operator: "inRange", values: [{ min: "8.0.0", max: "9.0.0" }] },
        { attribute: "osName", operator: "include", values: ["android"] },
      ],
    });
    const device = { deviceId: "d-1", brand: "SAMSUNG", appVersion: "8.2", platform: "android" };
    expect(await offered(fx, device, { cf: { country: "SG" } })).toBe("1.1.0");
    expect(await offered(fx, device, { cf: { country: "DE" } })).toBe("1.0.0");
    expect(await offered(fx, device)).toBe("1.0.0"); // no request.cf: unknown geography does not match
    expect(await offered(fx, { ...device, attributes: { country: "SG" } })).toBe("1.0.0");
    expect(await offered(fx, { ...device, appVersion: "9.0.0" }, { cf: { country: "SG" } })).toBe("1.0.0");
    const ua =
      "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
    expect(await offered(fx, { deviceId: "d-2", appVersion: "8.5.0" }, { cf: { country: "MY" }, userAgent: ua })).toBe(
      "1.1.0",
    );
  });

  it("percentage: deterministic per device, about the share asked for, and raising it only adds devices", async () => {
    const { token } = await makeWorkspace();
    const fx = await canaryFixture(token, { percentage: { basisPoints: 3000 } });
    const ids = Array.from({ length: 200 }, (_, i) => `device-${i}`);
    const first = new Set<string>();
    for (const id of ids) if ((await offered(fx, { deviceId: id })) === "1.1.0") first.add(id);
    expect(first.size).toBeGreaterThan(30);
    expect(first.size).toBeLessThan(90);
    for (const id of [...first].slice(0, 10)) expect(await offered(fx, { deviceId: id })).toBe("1.1.0");
    await expectJson(
      await call(`/v1/admin/releases/${fx.releaseId}/rollout`, { method: "PUT", token, json: { basisPoints: 6000 } }),
      200,
    );
    const second = new Set<string>();
    for (const id of ids) if ((await offered(fx, { deviceId: id })) === "1.1.0") second.add(id);
    for (const id of first) expect(second.has(id)).toBe(true);
    expect(second.size).toBeGreaterThan(first.size);
  });

  it("a phased ramp moves the percentage by itself", async () => {
    const { token } = await makeWorkspace();
    const now = Date.now();
    const fx = await canaryFixture(token, {
      percentage: { basisPoints: 0, ramp: [{ at: now - 1000, basisPoints: 10000 }] },
    });
    expect(await offered(fx, { deviceId: "anyone" })).toBe("1.1.0");
    const later = await canaryFixture(token, {
      percentage: { basisPoints: 0, ramp: [{ at: now + 3_600_000, basisPoints: 10000 }] },
    });
    expect(await offered(later, { deviceId: "anyone" })).toBe("1.0.0");
  });

  it("time window: at least 500 concurrent checks against a cap of 100 admit exactly 100, who stay admitted", async () => {
    const { token } = await makeWorkspace();
    const now = Date.now();
    const fx = await canaryFixture(token, { timeWindow: { startsAt: now - 1000, endsAt: now + 3_600_000, cap: 100 } });
    const ids = Array.from({ length: 520 }, (_, i) => `tw-${i}`);
    const answers = await Promise.all(ids.map((id) => offered(fx, { deviceId: id })));
    const admitted = ids.filter((_, i) => answers[i] === "1.1.0");
    expect(admitted).toHaveLength(100);
    for (const id of admitted.slice(0, 5)) expect(await offered(fx, { deviceId: id })).toBe("1.1.0");
    expect(await offered(fx, { deviceId: "late-comer" })).toBe("1.0.0");
  });

  it("refuses bad targeting with pointers and keeps nothing", async () => {
    const { token } = await makeWorkspace();
    const fx = await canaryFixture(token, { percentage: { basisPoints: 100 } });
    const release = await call("/v1/admin/releases", {
      method: "POST",
      token,
      json: { miniProgramId: fx.mpKey, version: "1.0.0", appId: fx.appKey, env: "test" },
    });
    const { id } = await expectJson<{ id: string }>(release, 201);
    const bad = await call(`/v1/admin/releases/${id}/targeting`, {
      method: "PUT",
      token,
      json: {
        rules: [{ attribute: "brand", operator: "regex", values: ["^(?=a)"] }],
        allowlists: [{ kind: "user", listId: "no-such-list" }],
      },
    });
    const { body } = await expectProblem(bad, 400, "VALIDATION_FAILED");
    expect(body.errors?.map((e) => e.pointer)).toContain("/rules/0/values/0");
    const window = await call(`/v1/admin/releases/${id}/targeting`, {
      method: "PUT",
      token,
      json: { timeWindow: { startsAt: 0, endsAt: 8 * 24 * 3_600_000, cap: 10 } },
    });
    await expectProblem(window, 400, "VALIDATION_FAILED");
    // A window already over when saved would admit nobody: refused (found by review).
    const ended = await call(`/v1/admin/releases/${id}/targeting`, {
      method: "PUT",
      token,
      json: { timeWindow: { startsAt: Date.now() - 30 * 86_400_000, endsAt: Date.now() - 29 * 86_400_000, cap: 10 } },
    });
    const { body: endedBody } = await expectProblem(ended, 400, "VALIDATION_FAILED");
    expect(endedBody.errors?.map((e) => e.pointer)).toEqual(["/timeWindow/endsAt"]);
    const after = await expectJson<{ targeting: unknown }>(await call(`/v1/admin/releases/${id}`, { token }), 200);
    expect(after.targeting).toBeNull();
    const live = await call(`/v1/admin/releases/${fx.releaseId}/targeting`, { method: "PUT", token, json: {} });
    await expectProblem(live, 409, "INVALID_TRANSITION");
  });

  it("a pause, an end or a percentage change reaches checks within 5 seconds", async () => {
    const { token } = await makeWorkspace();
    const fx = await canaryFixture(token, { percentage: { basisPoints: 10000 } });
    const within5s = async (expected: string) => {
      const started = Date.now();
      while (Date.now() - started < 5000) {
        if ((await offered(fx, { deviceId: "poller" })) === expected) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`still not ${expected} after 5 s`);
    };
    await within5s("1.1.0");
    await transition(token, fx.releaseId, "paused");
    await within5s("1.0.0");
    await transition(token, fx.releaseId, "canary");
    await within5s("1.1.0");
    await expectJson(
      await call(`/v1/admin/releases/${fx.releaseId}/rollout`, { method: "PUT", token, json: { basisPoints: 0 } }),
      200,
    );
    await within5s("1.0.0");
    await expectJson(
      await call(`/v1/admin/releases/${fx.releaseId}/rollout`, { method: "PUT", token, json: { basisPoints: 10000 } }),
      200,
    );
    await within5s("1.1.0");
    await transition(token, fx.releaseId, "ended");
    await within5s("1.0.0");
  });
});

describe("explain", () => {
  it("returns the deciding step and the failed rule per release, and never shows reasons to devices", async () => {
    const { token } = await makeWorkspace();
    const fx = await canaryFixture(token, {
      rules: [
        { attribute: "brand", operator: "include", values: ["samsung"] },
        { attribute: "custom:tier", operator: "include", values: ["gold"] },
      ],
    });
    const body = {
      appId: fx.appKey,
      env: "prod",
      deviceId: "d-1",
      brand: "samsung",
      miniPrograms: [{ id: fx.mpKey, version: "1.0.0" }],
    };
    const res = await call("/v1/admin/explain", { method: "POST", token, json: body });
    const explained = await expectJson<{
      results: {
        action: string;
        releases: { reason: string; status: string; targeting?: Record<string, unknown> }[];
      }[];
    }>(res, 200);
    const canary = explained.results[0]?.releases.find((r) => r.status === "canary");
    expect(canary?.reason).toBe("NOT_TARGETED");
    expect(canary?.targeting).toMatchObject({
      step: "filters",
      reason: "FILTER_FAILED",
      failedRule: { index: 1, attribute: "custom:tier", reason: "ATTRIBUTE_MISSING" },
    });
    const gold = await call("/v1/admin/explain", {
      method: "POST",
      token,
      json: { ...body, attributes: { tier: "gold" } },
    });
    const ok = await expectJson<{ results: { action: string; version: string }[] }>(gold, 200);
    expect(ok.results[0]).toMatchObject({ action: "update", version: "1.1.0" });
    const device = await call("/v1/check", { method: "POST", json: body });
    const text = await device.text();
    expect(text).not.toContain("FILTER_FAILED");
    expect(text).not.toContain("reason");
  });

  it("tells a device a time window would still admit from one whose window is full (found by review)", async () => {
    const { token } = await makeWorkspace();
    const now = Date.now();
    const fx = await canaryFixture(token, { timeWindow: { startsAt: now - 1000, endsAt: now + 3_600_000, cap: 1 } });
    const explain = async (deviceId: string) => {
      const res = await call("/v1/admin/explain", {
        method: "POST",
        token,
        json: { appId: fx.appKey, env: "prod", deviceId, miniPrograms: [{ id: fx.mpKey, version: "1.0.0" }] },
      });
      const body = await expectJson<{
        results: { action: string; releases: { status: string; reason: string; targeting?: { reason: string } }[] }[];
      }>(res, 200);
      return body.results[0]?.releases.find((r) => r.status === "canary");
    };
    const counts = async () =>
      (await expectJson<{ timeWindow?: unknown }>(await call(`/v1/admin/releases/${fx.releaseId}`, { token }), 200))
        .timeWindow;
    expect(await counts()).toEqual({ admitted: 0, cap: 1, remaining: 1 });
    // Nobody admitted yet: explain admits nobody, and says the next check would ask.
    expect(await explain("first")).toMatchObject({
      reason: "NEEDS_ADMISSION",
      targeting: { reason: "ADMISSION_REQUIRED" },
    });
    expect(await offered(fx, { deviceId: "first" })).toBe("1.1.0");
    expect(await explain("first")).toMatchObject({ reason: "APPLIES", targeting: { reason: "ADMITTED" } });
    // The cap of 1 is reached: now a newcomer is refused, and the release shows no place left.
    expect(await explain("second")).toMatchObject({ reason: "NOT_TARGETED", targeting: { reason: "CAP_REACHED" } });
    expect(await counts()).toEqual({ admitted: 1, cap: 1, remaining: 0 });
    const listed = await expectJson<{ items: { id: string; timeWindow?: unknown }[] }>(
      await call(`/v1/admin/releases?miniProgramId=${fx.mpKey}`, { token }),
      200,
    );
    expect(listed.items.find((r) => r.id === fx.releaseId)?.timeWindow).toEqual({ admitted: 1, cap: 1, remaining: 0 });
    expect(listed.items.find((r) => r.id !== fx.releaseId)).not.toHaveProperty("timeWindow");
  });

  it("is scoped to the caller's workspace", async () => {
    const a = await makeWorkspace();
    const b = await makeWorkspace();
    const fx = await canaryFixture(a.token, { percentage: { basisPoints: 100 } });
    const res = await call("/v1/admin/explain", {
      method: "POST",
      token: b.token,
      json: { appId: fx.appKey, env: "prod", deviceId: "x", miniPrograms: [{ id: fx.mpKey, version: null }] },
    });
    await expectProblem(res, 404, "NOT_FOUND");
  });
});
