// Admin lists: what release objects show and how they are filtered.
import { describe, expect, it } from "vitest";
import {
  createApp,
  createMiniProgram,
  createRelease,
  expectJson,
  expectProblem,
  uploadVersion,
} from "../support/admin-factories";
import { call, makeWorkspace } from "../support/workspace";

interface Listed {
  id: string;
  version: string;
  appKey: string;
  env: string;
  status: string;
}

describe("release lists", () => {
  it("show the version string, app key and environment name, and filter by version", async () => {
    const { token } = await makeWorkspace();
    const app = await createApp(token);
    const mp = await createMiniProgram(token);
    await uploadVersion(token, mp.key, "1.0.0");
    await uploadVersion(token, mp.key, "1.1.0");
    const created = await createRelease(token, {
      miniProgramId: mp.key,
      version: "1.0.0",
      appId: app.key,
      env: "prod",
    });
    const names = { version: "1.0.0", appKey: app.key, env: "prod", miniProgramKey: mp.key };
    expect(created).toMatchObject(names);
    await createRelease(token, { miniProgramId: mp.key, version: "1.1.0", appId: app.key, env: "prod" });
    await createRelease(token, { miniProgramId: mp.key, version: "1.1.0", appId: app.key, env: "test" });

    const one = await expectJson<Listed>(await call(`/v1/admin/releases/${created.id}`, { token }), 200);
    expect(one).toMatchObject(names);

    const byVersion = await expectJson<{ items: Listed[] }>(
      await call(`/v1/admin/releases?miniProgramId=${mp.key}&version=1.1.0`, { token }),
      200,
    );
    expect(byVersion.items.map((r) => `${r.version}@${r.env}`).sort()).toEqual(["1.1.0@prod", "1.1.0@test"]);
    expect(byVersion.items.every((r) => (r as unknown as { miniProgramKey: string }).miniProgramKey === mp.key)).toBe(
      true,
    );
    const byTarget = await expectJson<{ items: Listed[] }>(
      await call(`/v1/admin/releases?appId=${app.key}&env=prod&version=1.1.0`, { token }),
      200,
    );
    expect(byTarget.items.map((r) => `${r.version}@${r.env}`)).toEqual(["1.1.0@prod"]);
    await expectProblem(await call("/v1/admin/releases?version=banana", { token }), 400, "VALIDATION_FAILED");
  });
});
