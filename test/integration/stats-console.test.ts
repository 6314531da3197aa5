// The console's release page charts what devices reported (events counted by the real Queue and
// monitors), with the release's changes from the audit log as markers.
import { describe, expect, it, vi } from "vitest";
import { createApp, createMiniProgram, releaseFull } from "../support/admin-factories";
import { sessionOf } from "../support/console";
import { call, makeWorkspace } from "../support/workspace";

describe("console charts", () => {
  it("draw installs and failures per hour once devices report them, and adoption once they check", async () => {
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
    // Three devices check with 1.0.0 installed: the adoption chart counts them.
    for (let i = 0; i < 3; i++) {
      const res = await call("/v1/check", {
        method: "POST",
        json: {
          appId: appKey,
          env: "prod",
          deviceId: `adopter-${i}`,
          miniPrograms: [{ id: mp.key, version: "1.0.0" }],
        },
      });
      expect(res.status).toBe(200);
    }
    const cookie = await sessionOf(token);
    // Each chart's numbers are in its table: an hour with 4 installs and 1 failure (offered: the checks
    // of devices without 1.0.0, none here), and an hour with 3 devices on 1.0.0 and none on others.
    const html = await vi.waitFor(
      async () => {
        const text = await (await call(`/console/releases/${release.id}`, { headers: { cookie } })).text();
        if (!/<td class="count">\d+<\/td><td class="count">4<\/td><td class="count">1<\/td><\/tr>/.test(text)) {
          throw new Error("the installs and failures are not charted yet");
        }
        if (!/<tr><td>[^<]+<\/td><td class="count">3<\/td><td class="count">0<\/td><\/tr>/.test(text)) {
          throw new Error("the adoption is not charted yet");
        }
        return text;
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(html).toContain('aria-label="Offers, installs and failures per hour, with changes marked"');
    expect(html).toContain(
      `aria-label="Devices that checked in each hour on 1.0.0 and on other versions of ${mp.key}"`,
    );
    expect(html).toContain('<th scope="col">on 1.0.0</th><th scope="col">on other versions</th>');
    // The release's moves are marked on the chart.
    expect(html).toMatch(/<line[^>]*class="marker"/);
  });
});
