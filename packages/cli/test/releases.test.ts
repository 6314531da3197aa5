// `updraft release …`, `rollout set` and `explain`: what each sends to the admin API.
import { afterAll, describe, expect, it } from "vitest";
import { fakeServer, json, type Recorded, releaseFixture, Scratch } from "./harness.ts";

const scratch = new Scratch();
afterAll(() => scratch.remove());
const ENV = { UPDRAFT_SERVER: "https://updraft.test", UPDRAFT_TOKEN: "upd_t" };

function releaseServer(current: Record<string, unknown> = {}) {
  return fakeServer({
    "GET /v1/admin/releases/rel_1": () => json(releaseFixture(current)),
    "POST /v1/admin/releases/rel_1/transitions": (req) =>
      json(releaseFixture({ ...current, status: (req.json as { to: string }).to, pausedFrom: null })),
    "POST /v1/admin/releases": (req) => json(releaseFixture({ id: "rel_9", seq: 9, ...(req.json as object) }), 201),
    "GET /v1/admin/releases": (req) =>
      json({
        items:
          req.url.searchParams.get("version") === "1.2.0"
            ? [releaseFixture({ id: "rel_0", version: "1.2.0", updateMode: "sync", config: { switches: { a: "on" } } })]
            : [],
        nextCursor: null,
      }),
    "PUT /v1/admin/releases/rel_1/rollout": (req) =>
      json(releaseFixture({ status: "canary", targeting: { percentage: req.json } })),
  });
}

const posted = (requests: Recorded[]) => requests.filter((r) => r.method !== "GET").map((r) => r.json);

describe("updraft release <move>", () => {
  it.each([
    ["submit", "in_review"],
    ["approve", "approved"],
    ["canary", "canary"],
    ["full", "full"],
    ["pause", "paused"],
    ["end", "ended"],
    ["cancel", "cancelled"],
    ["reopen", "created"],
  ])("%s asks for %s", async (verb, to) => {
    const server = releaseServer();
    const result = await scratch.run(["release", verb, "rel_1"], { fetch: server.fetch, env: ENV });
    expect(result.code, result.stderr).toBe(0);
    expect(posted(server.requests)).toEqual([{ to }]);
    expect(result.stdout).toBe(`Release rel_1 (demo-pay 1.3.0 on demo-wallet/prod) is now ${to}.\n`);
  });

  it("reject sends its reason", async () => {
    const server = releaseServer();
    await scratch.run(["release", "reject", "rel_1", "--reason", "crashes on start"], {
      fetch: server.fetch,
      env: ENV,
    });
    expect(posted(server.requests)).toEqual([{ to: "rejected", reason: "crashes on start" }]);
  });

  it("continue goes back to where the release was paused", async () => {
    const server = releaseServer({ status: "paused", pausedFrom: "full" });
    const result = await scratch.run(["release", "continue", "rel_1"], { fetch: server.fetch, env: ENV });
    expect(result.code, result.stderr).toBe(0);
    expect(posted(server.requests)).toEqual([{ to: "full" }]);
  });

  it("continue of a release that is not paused is refused (exit 1), nothing posted", async () => {
    const server = releaseServer({ status: "canary" });
    const result = await scratch.run(["release", "continue", "rel_1"], { fetch: server.fetch, env: ENV });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("error: release rel_1 is canary, not paused: nothing to continue\n");
    expect(posted(server.requests)).toEqual([]);
  });
});

describe("updraft release create / rollback / show / list", () => {
  it("create sends the body of POST /v1/admin/releases", async () => {
    const server = releaseServer();
    const result = await scratch.run(
      [
        "release",
        "create",
        "--mini-program",
        "demo-pay",
        "--version",
        "1.3.0",
        "--app",
        "demo-wallet",
        "--env",
        "prod",
        "--config",
        '{"switches":{"x":"on"}}',
        "--update-mode",
        "async",
      ],
      { fetch: server.fetch, env: ENV },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(posted(server.requests)).toEqual([
      {
        miniProgramId: "demo-pay",
        version: "1.3.0",
        appId: "demo-wallet",
        env: "prod",
        updateMode: "async",
        config: { switches: { x: "on" } },
      },
    ]);
    expect(result.stdout).toContain("Next: updraft release submit rel_9");
  });

  it("rollback creates a rollback release on the bad release's target, copying how the version went out before", async () => {
    const server = releaseServer({ status: "full", wentFull: true });
    const result = await scratch.run(["release", "rollback", "rel_1", "--to", "1.2.0"], {
      fetch: server.fetch,
      env: ENV,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(posted(server.requests)).toEqual([
      {
        miniProgramId: "mp_1",
        version: "1.2.0",
        appId: "app_1",
        env: "prod",
        rollback: true,
        updateMode: "sync",
        config: { switches: { a: "on" } },
      },
    ]);
    expect(result.stderr).toContain("copied from rel_0");
    expect(result.stdout).toContain("Created rollback release rel_9");
  });

  it("rollback --no-inherit sends only what it is given", async () => {
    const server = releaseServer({ status: "paused", pausedFrom: "full" });
    const result = await scratch.run(["release", "rollback", "rel_1", "--to", "1.2.0", "--no-inherit"], {
      fetch: server.fetch,
      env: ENV,
    });
    expect(posted(server.requests)).toEqual([
      { miniProgramId: "mp_1", version: "1.2.0", appId: "app_1", env: "prod", rollback: true },
    ]);
    expect(result.stdout).toContain("is paused, so going full will not archive it: end it");
  });

  it("show prints the release; list passes its filters", async () => {
    const server = releaseServer({
      status: "paused",
      pausedFrom: "canary",
      targeting: { percentage: { basisPoints: 500 } },
    });
    const shown = await scratch.run(["release", "show", "rel_1"], { fetch: server.fetch, env: ENV });
    expect(shown.stdout).toContain("status        paused (from canary)");
    expect(shown.stdout).toContain("rollout       5%");
    await scratch.run(
      ["release", "list", "--app", "demo-wallet", "--env", "prod", "--status", "full", "--limit", "5"],
      {
        fetch: server.fetch,
        env: ENV,
      },
    );
    const list = server.requests.at(-1) as Recorded;
    expect(Object.fromEntries(list.url.searchParams)).toEqual({
      appId: "demo-wallet",
      env: "prod",
      status: "full",
      limit: "5",
    });
  });

  it("list --all follows nextCursor", async () => {
    let n = 0;
    const server = fakeServer({
      "GET /v1/admin/releases": () =>
        json({ items: [releaseFixture({ id: `rel_${n}` })], nextCursor: n++ < 2 ? `c${n}` : null }),
    });
    const result = await scratch.run(["release", "list", "--all", "--json"], { fetch: server.fetch, env: ENV });
    expect(JSON.parse(result.stdout).items.map((r: { id: string }) => r.id)).toEqual(["rel_0", "rel_1", "rel_2"]);
    expect(server.requests.map((r) => r.url.searchParams.get("cursor"))).toEqual([null, "c1", "c2"]);
  });
});

describe("updraft rollout set", () => {
  it("sends basis points and the ramp", async () => {
    const server = releaseServer();
    const result = await scratch.run(
      ["rollout", "set", "rel_1", "12.5%", "--ramp", "2026-06-01T00:00:00Z=20", "--ramp", "1780000000000=50"],
      { fetch: server.fetch, env: ENV },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(posted(server.requests)).toEqual([
      {
        basisPoints: 1250,
        ramp: [
          { at: Date.UTC(2026, 5, 1), basisPoints: 2000 },
          { at: 1780000000000, basisPoints: 5000 },
        ],
      },
    ]);
    expect(result.stdout).toContain("rollout 12.5%, ramp 2026-06-01T00:00:00Z 20%");
  });
});

describe("updraft explain", () => {
  it("sends a check body and prints each decision with its trace", async () => {
    const server = fakeServer({
      "POST /v1/admin/explain": () =>
        json({
          snapshotVersion: 42,
          evaluatedAt: Date.UTC(2026, 0, 1),
          results: [
            {
              id: "demo-pay",
              action: "none",
              reason: "UP_TO_DATE",
              releases: [
                {
                  releaseId: "rel_2",
                  version: "1.3.0",
                  status: "canary",
                  reason: "NOT_TARGETED",
                  targeting: { decision: "out", step: "percentage", reason: "OUTSIDE_PERCENTAGE" },
                },
                { releaseId: "rel_1", version: "1.2.0", status: "full", reason: "APPLIES" },
              ],
            },
          ],
        }),
    });
    const result = await scratch.run(
      [
        "explain",
        "--app",
        "demo-wallet",
        "--env",
        "prod",
        "--device",
        "d-1",
        "--user",
        "carol",
        "--app-version",
        "8.2.0",
        "--mini-program",
        "demo-pay@1.2.0",
        "--mini-program",
        "demo-coupons",
        "--attribute",
        "tier=gold",
        "--country",
        "SG",
      ],
      { fetch: server.fetch, env: ENV },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(server.requests[0]?.json).toEqual({
      appId: "demo-wallet",
      env: "prod",
      deviceId: "d-1",
      userId: "carol",
      appVersion: "8.2.0",
      miniPrograms: [
        { id: "demo-pay", version: "1.2.0" },
        { id: "demo-coupons", version: null },
      ],
      attributes: { tier: "gold" },
      cf: { country: "SG" },
    });
    expect(result.stdout.split("\n")).toEqual([
      "evaluated 2026-01-01T00:00:00Z, delivery snapshot 42",
      "demo-pay: none: UP_TO_DATE",
      "  rel_2  1.3.0  canary: NOT_TARGETED (targeting out at percentage: OUTSIDE_PERCENTAGE)",
      "  rel_1  1.2.0  full: APPLIES",
      "",
    ]);
  });
});
