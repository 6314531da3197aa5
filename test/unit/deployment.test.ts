import { describe, expect, it } from "vitest";
import { packageBaseFrom } from "../../src/domain/deployment";
import { AppError } from "../../src/domain/errors";

describe("PACKAGE_BASE_URL", () => {
  it("is the check request's origin when unset or empty", () => {
    expect(packageBaseFrom(undefined)).toBeNull();
    expect(packageBaseFrom("")).toBeNull();
    expect(packageBaseFrom("  ")).toBeNull();
  });

  it.each([
    ["https://cdn.example.com", "https://cdn.example.com/v1/packages"],
    ["https://cdn.example.com/", "https://cdn.example.com/v1/packages"],
    ["https://cdn.example.com/updraft//", "https://cdn.example.com/updraft/v1/packages"],
    ["http://127.0.0.1:9000", "http://127.0.0.1:9000/v1/packages"],
    [" https://CDN.Example.com:443/a ", "https://cdn.example.com/a/v1/packages"],
  ])("%s → %s", (setting, base) => {
    expect(packageBaseFrom(setting)).toBe(base);
  });

  it.each([
    ["cdn.example.com", "is not an absolute URL"],
    ["/v1/packages", "is not an absolute URL"],
    ["ftp://cdn.example.com", "must use https"],
    ["javascript:alert(1)", "must use https"],
    ["https://user:pw@cdn.example.com", "must not carry credentials"],
    ["https://cdn.example.com/?x=1", "must not have a query"],
    ["https://cdn.example.com/?", "must not have a query"],
    ["https://cdn.example.com/#top", "must not have a query or a fragment"],
  ])("refuses %s as SERVICE_MISCONFIGURED (%s)", (setting, message) => {
    let thrown: unknown = null;
    try {
      packageBaseFrom(setting);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect((thrown as AppError).code).toBe("SERVICE_MISCONFIGURED");
    expect((thrown as AppError).message).toContain(message);
  });
});
