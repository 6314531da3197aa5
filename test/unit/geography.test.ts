import { describe, expect, it } from "vitest";
import { readsGeography as partReadsGeography } from "../../src/domain/delivery";
import type { Geo } from "../../src/domain/device-profile";
import type { Snapshot } from "../../src/domain/snapshot";
import { decideAll, type RequestOrigin } from "../../src/usecases/check-updates";
import type { Deps } from "../../src/usecases/ports";
import { checkInput, oneMiniProgramSnapshot } from "../support/decide-fixtures";
import { memoryDelivery } from "../support/memory-delivery";

const readsGeography = (s: Snapshot) => partReadsGeography(s.miniPrograms.mp as never);

const snapshotWith = (canaryRules: unknown[], fullRules: unknown[] | null = null): Snapshot =>
  oneMiniProgramSnapshot({ rules: canaryRules }, fullRules === null ? null : { rules: fullRules });

const country = { attribute: "country", operator: "include", values: ["SG"] };
const brand = { attribute: "brand", operator: "include", values: ["samsung"] };

/** decideAll for one device on 1.0.0 with ports that only serve `snapshot`; counts reads of request.cf. */
async function check(snapshot: Snapshot) {
  let cfReads = 0;
  const origin: RequestOrigin = {
    get cf() {
      cfReads += 1;
      return { country: "SG" };
    },
    userAgent: null,
  };
  const deps = {
    delivery: memoryDelivery(snapshot),
    clock: { now: () => 0 },
    bucketKey: null,
    parseUserAgent: () => null,
    geoFromCf: (cf: unknown) => cf as Geo,
  } as unknown as Deps;
  const input = checkInput({ brand: "Samsung" });
  const { decisions } = await decideAll(deps, input, origin, "admit");
  return { action: decisions[0]?.action, cfReads };
}

describe("geography is read from request.cf only when a rule needs it", () => {
  it("tells mini programs whose canary rules read country, region or city", () => {
    expect(readsGeography(snapshotWith([country]))).toBe(true);
    expect(readsGeography(snapshotWith([brand, { ...country, attribute: "city" }]))).toBe(true);
    expect(readsGeography(snapshotWith([brand]))).toBe(false);
    // A full release's targeting is never evaluated.
    expect(readsGeography(snapshotWith([brand], [country]))).toBe(false);
  });

  it("a check reads request.cf once when a rule is on geography, and not at all otherwise", async () => {
    expect(await check(snapshotWith([country, brand]))).toEqual({ action: "update", cfReads: 1 });
    expect(await check(snapshotWith([brand]))).toEqual({ action: "update", cfReads: 0 });
  });
});
