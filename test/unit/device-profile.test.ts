import { describe, expect, it } from "vitest";
import {
  buildDeviceProfile,
  type Geo,
  type ParsedUserAgent,
  type SdkDeviceFields,
  userAgentCanFill,
} from "../../src/domain/device-profile";
import type { DeviceProfile } from "../../src/domain/targeting/rules";
import { geoFromCf } from "../../src/edge/geo";
import { EMPTY_PROFILE } from "../support/profiles";

function sdk(overrides: Partial<SdkDeviceFields> = {}): SdkDeviceFields {
  return {
    appVersion: null,
    platform: null,
    osVersion: null,
    brand: null,
    model: null,
    network: null,
    language: null,
    attributes: {},
    ...overrides,
  };
}

function ua(overrides: Partial<ParsedUserAgent> = {}): ParsedUserAgent {
  return { osName: null, osVersion: null, brand: null, model: null, ...overrides };
}

const SAMSUNG_UA = ua({ osName: "Android", osVersion: "14", brand: "Samsung", model: "SM-S918B" });
const IPHONE_UA = ua({ osName: "iOS", osVersion: "17.5.1", brand: "Apple", model: "iPhone" });

describe("buildDeviceProfile", () => {
  it("returns an all-unknown profile when nothing is known", () => {
    expect(buildDeviceProfile(sdk(), null, null)).toEqual(EMPTY_PROFILE);
  });

  it("copies every explicit SDK field", () => {
    const profile = buildDeviceProfile(
      sdk({
        appVersion: "10.5.0",
        platform: "android",
        osVersion: "14",
        brand: "Samsung",
        model: "SM-S918B",
        network: "wifi",
        language: "zh-CN",
        attributes: { tier: "gold" },
      }),
      { country: "CN", region: "Zhejiang", city: "Hangzhou" },
      null,
    );
    expect(profile).toEqual({
      city: "Hangzhou",
      region: "Zhejiang",
      country: "CN",
      brand: "Samsung",
      model: "SM-S918B",
      network: "wifi",
      osName: "Android",
      osVersion: "14",
      appVersion: "10.5.0",
      language: "zh-CN",
      custom: { tier: "gold" },
    });
  });

  describe("osName from platform", () => {
    it.each<[string | null, string | null]>([
      ["ios", "iOS"],
      ["iOS", "iOS"],
      ["IOS", "iOS"],
      ["android", "Android"],
      ["Android", "Android"],
      ["harmony", "HarmonyOS"],
      ["HarmonyOS", "HarmonyOS"],
      ["windows", "windows"],
      ["  tizen  ", "tizen"],
      ["constructor", "constructor"],
      ["", null],
      ["   ", null],
      [null, null],
    ])("platform %j gives osName %j", (platform, osName) => {
      expect(buildDeviceProfile(sdk({ platform }), null, null).osName).toBe(osName);
    });
  });

  describe("trust order: SDK over UA, UA only fills what is missing", () => {
    it.each<[string, Partial<SdkDeviceFields>, ParsedUserAgent, Partial<DeviceProfile>]>([
      [
        "UA fills everything when the SDK sent nothing",
        {},
        SAMSUNG_UA,
        { osName: "Android", osVersion: "14", brand: "Samsung", model: "SM-S918B" },
      ],
      [
        "SDK fields win over the UA",
        { platform: "android", osVersion: "13", brand: "Xiaomi", model: "2201123C" },
        SAMSUNG_UA,
        { osName: "Android", osVersion: "13", brand: "Xiaomi", model: "2201123C" },
      ],
      [
        "SDK platform wins over the UA's OS name",
        { platform: "harmony" },
        SAMSUNG_UA,
        { osName: "HarmonyOS", osVersion: null, brand: "Samsung", model: "SM-S918B" },
      ],
      [
        "UA OS version fills in when the OS names agree (case-insensitive)",
        { platform: "ios" },
        IPHONE_UA,
        { osName: "iOS", osVersion: "17.5.1", brand: "Apple", model: "iPhone" },
      ],
      [
        "UA OS version is not used for a different OS",
        { platform: "ios" },
        SAMSUNG_UA,
        { osName: "iOS", osVersion: null },
      ],
      [
        "UA OS version is not used when the OS name is unknown",
        {},
        ua({ osVersion: "14" }),
        { osName: null, osVersion: null },
      ],
      [
        "UA model fills in when the SDK brand agrees",
        { brand: "samsung" },
        SAMSUNG_UA,
        { brand: "samsung", model: "SM-S918B" },
      ],
      [
        "UA model is not used for a different SDK brand",
        { brand: "Xiaomi" },
        SAMSUNG_UA,
        { brand: "Xiaomi", model: null },
      ],
      [
        "UA model fills in when the brand is unknown everywhere",
        {},
        ua({ model: "Pixel 7" }),
        { brand: null, model: "Pixel 7" },
      ],
      [
        "a blank SDK field counts as not sent",
        { platform: " ", osVersion: "", brand: "  ", model: "" },
        SAMSUNG_UA,
        { osName: "Android", osVersion: "14", brand: "Samsung", model: "SM-S918B" },
      ],
      [
        "the UA never supplies network, language or app version",
        {},
        SAMSUNG_UA,
        { network: null, language: null, appVersion: null },
      ],
    ])("%s", (_name, fields, parsed, expected) => {
      expect(buildDeviceProfile(sdk(fields), null, parsed)).toMatchObject(expected);
    });
  });

  describe("geography comes only from the platform", () => {
    const clientGeo = { country: "US", city: "Austin", region: "Texas" };

    it.each<[string, Geo | null, Partial<DeviceProfile>]>([
      ["unknown geography", null, { country: null, region: null, city: null }],
      ["empty geography", {}, { country: null, region: null, city: null }],
      ["platform geography", { country: "CN", region: "Beijing", city: "Beijing" }, { country: "CN", city: "Beijing" }],
      ["partial platform geography", { country: "DE" }, { country: "DE", region: null, city: null }],
    ])("%s: client country/city/region attributes never become geography", (_name, geo, expected) => {
      const profile = buildDeviceProfile(sdk({ attributes: clientGeo }), geo, null);
      expect(profile).toMatchObject(expected);
      expect(profile.custom).toEqual(clientGeo);
    });

    it("ignores geography-looking UA data entirely", () => {
      const profile = buildDeviceProfile(sdk(), null, SAMSUNG_UA);
      expect([profile.country, profile.region, profile.city]).toEqual([null, null, null]);
    });
  });

  describe("normalization", () => {
    it.each<[keyof SdkDeviceFields & keyof DeviceProfile, string, string | null]>([
      ["appVersion", " 10.5.0 ", "10.5.0"],
      ["osVersion", "\t14\n", "14"],
      ["brand", "  Samsung", "Samsung"],
      ["model", "SM-S918B  ", "SM-S918B"],
      ["network", "", null],
      ["language", "   ", null],
    ])("%s %j becomes %j", (field, value, expected) => {
      expect(buildDeviceProfile(sdk({ [field]: value }), null, null)[field]).toBe(expected);
    });

    it("trims platform geography and turns blanks into null", () => {
      const profile = buildDeviceProfile(sdk(), { country: " CN ", region: "", city: "  " }, null);
      expect(profile).toMatchObject({ country: "CN", region: null, city: null });
    });

    it("trims UA values and turns blanks into null", () => {
      const profile = buildDeviceProfile(
        sdk(),
        null,
        ua({ osName: " iOS ", osVersion: " ", brand: "", model: " iPhone" }),
      );
      expect(profile).toMatchObject({ osName: "iOS", osVersion: null, brand: null, model: "iPhone" });
    });

    it("copies custom attributes as given, into a new object", () => {
      const attributes = { " spaced ": " value ", empty: "", __proto__x: "y" };
      const profile = buildDeviceProfile(sdk({ attributes }), null, null);
      expect(profile.custom).toEqual(attributes);
      expect(profile.custom).not.toBe(attributes);
    });

    it("keeps a __proto__ attribute as an own property without touching the prototype", () => {
      const attributes = JSON.parse('{"__proto__": "x", "tier": "gold"}') as Record<string, string>;
      const profile = buildDeviceProfile(sdk({ attributes }), null, null);
      expect(Object.hasOwn(profile.custom, "__proto__")).toBe(true);
      expect(Object.getPrototypeOf(profile.custom)).toBe(Object.prototype);
      expect(profile.custom.tier).toBe("gold");
    });
  });
});

describe("userAgentCanFill", () => {
  const full = { platform: "android", osVersion: "13", brand: "Xiaomi", model: "2201123C" };
  const uas = [SAMSUNG_UA, IPHONE_UA, ua({ osName: "Android" }), ua({ brand: "Xiaomi", model: "Other" })];

  it("is false only when the SDK sent all four hardware fields, and then no UA changes the profile", () => {
    expect(userAgentCanFill(sdk(full))).toBe(false);
    for (const u of uas)
      expect(buildDeviceProfile(sdk(full), null, u)).toEqual(buildDeviceProfile(sdk(full), null, null));
  });

  it("is true as soon as one of them is missing or blank, and some UA then fills it", () => {
    for (const field of ["platform", "osVersion", "brand", "model"] as const) {
      for (const missing of [null, "  "]) {
        const input = sdk({ ...full, [field]: missing });
        expect(userAgentCanFill(input), `${field}=${missing}`).toBe(true);
        const plain = buildDeviceProfile(input, null, null);
        const filled = [SAMSUNG_UA, ua({ osName: "Android", osVersion: "14", brand: "Xiaomi", model: "M2" })].map((u) =>
          buildDeviceProfile(input, null, u),
        );
        expect(
          filled.some((p) => JSON.stringify(p) !== JSON.stringify(plain)),
          field,
        ).toBe(true);
      }
    }
  });
});

describe("geoFromCf", () => {
  it.each<[string, unknown, Geo | null]>([
    ["missing cf", undefined, null],
    ["null cf", null, null],
    ["non-object cf", "US", null],
    ["cf without geography", { colo: "SJC", asn: 13335 }, null],
    [
      "full geography",
      { country: "US", region: "Texas", regionCode: "TX", city: "Austin" },
      { country: "US", region: "Texas", city: "Austin" },
    ],
    ["regionCode fallback", { country: "US", regionCode: "TX" }, { country: "US", region: "TX" }],
    ["blank region falls back to regionCode", { region: " ", regionCode: "TX" }, { region: "TX" }],
    ["country only", { country: "GB" }, { country: "GB" }],
    ["Tor is kept", { country: "T1" }, { country: "T1" }],
    ["XX means unknown", { country: "XX", city: "" }, null],
    ["non-string fields are ignored", { country: 42, region: {}, city: ["Austin"] }, null],
    ["values are trimmed", { country: " US ", city: " Austin " }, { country: "US", city: "Austin" }],
  ])("%s", (_name, cf, expected) => {
    expect(geoFromCf(cf)).toEqual(expected);
  });
});
