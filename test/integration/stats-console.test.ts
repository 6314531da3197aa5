// The console's release page charts what devices reported (events counted by the real Queue and
// monitors), with the release's changes from the audit log as markers.
import { describe, expect, it, vi } from "vitest";
import { createApp, createMiniProgram, releaseFull } from "../support/admin-factories";
import { sessionOf } from "../support/console";
import { call, makeWorkspace } from "../support/workspace";

describe("console charts", () => {
  it("draw installs and failures per hour once devices report them", async () => {
    const { token } = await makeWorkspace();
    const appKey = (await createApp(token)).key;
    const mp = await createMiniProgram(token);
    const { release } = await releaseFull(token, { miniProgram: mp.id, appKey, env: "prod" }, "1.0.0");
    const now = Date.now();
    for (let i = 0; i < 5; i++) {
      const events = [
        { id: "d", type: "download_ok", miniProgram: mp.key, version: "1.0.0", releaseId: release.id, at: now },
        {
          id: "i",
          type: i === 0 ? "install_failed" : "install_ok",
          miniProgram: mp.key,
          version: "1.0.0",
          releaseId: release.id,
          at: now,
        },
      ];
      const res = await call("/v1/events", {
        method: "POST",
        json: { appId: appKey, env: "prod", deviceId: `chart-${i}`, events },
      });
      expect(res.status).toBe(202);
    }
    const cookie = await sessionOf(token);
    const html = await vi.waitFor(
      async () => {
        const text = await (await call(`/console/releases/${release.id}`, { headers: { cookie } })).text();
        const installs = /class="series installs" points="([^"]*)"/.exec(text)?.[1] ?? "";
        if (installs.trim() === "") throw new Error("no installs charted yet");
        return text;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(html).toContain('aria-label="Offers, installs and failures per hour, with changes marked"');
    expect(/class="series failures" points="([^"]*)"/.exec(html)?.[1]?.trim()).not.toBe("");
    // The release's moves are marked on the chart.
    expect(html).toMatch(/<line[^>]*class="marker"/);
  });
});
