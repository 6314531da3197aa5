import { describe, expect, it } from "vitest";
import {
  type Actor,
  can,
  MINI_PROGRAM_PERMISSIONS,
  mayHold,
  PERMISSIONS,
  type TokenScope,
  visibleMiniPrograms,
} from "../../src/domain/permissions";
import { clientKey, DEFAULT_TOKEN_TTL_MS, MAX_TOKEN_TTL_MS, scopeWithin, tokenExpiry } from "../../src/domain/tokens";

const FULL: TokenScope = { access: "full", miniProgramIds: null };

function actor(over: Partial<Actor> = {}): Actor {
  return {
    memberId: "m",
    workspaceId: "w",
    tokenId: "t",
    kind: "person",
    role: "developer",
    miniProgramRoles: {},
    scope: FULL,
    tokenExpiresAt: null,
    ...over,
  };
}

describe("can", () => {
  it("gives a workspace admin with a full token every permission, everywhere", () => {
    const admin = actor({ role: "admin" });
    for (const p of PERMISSIONS) {
      expect(can(admin, p)).toBe(true);
      expect(can(admin, p, "mp_a")).toBe(true);
    }
  });

  it("gives mini program roles nothing workspace-wide and nothing on other mini programs", () => {
    const dev = actor({ miniProgramRoles: { mp_a: "admin" } });
    for (const p of MINI_PROGRAM_PERMISSIONS) {
      expect(can(dev, p, "mp_b")).toBe(false);
      expect(can(dev, p)).toBe(false);
    }
    expect(can(dev, "release:write", "mp_a")).toBe(true);
    expect(can(dev, "release:review", "mp_a")).toBe(false);
    expect(can(dev, "app:write")).toBe(false);
    expect(can(actor({ miniProgramRoles: { mp_a: "developer" } }), "version:upload", "mp_a")).toBe(true);
    expect(can(actor({ miniProgramRoles: { mp_a: "developer" } }), "version:delete", "mp_a")).toBe(false);
    // A workspace developer without a role uploads nowhere.
    expect(can(actor(), "version:upload", "mp_a")).toBe(false);
  });

  it("intersects the role with the token's access", () => {
    const read = actor({ role: "admin", scope: { access: "read", miniProgramIds: null } });
    expect(can(read, "workspace:read")).toBe(true);
    expect(can(read, "audit:read")).toBe(true);
    expect(can(read, "app:write")).toBe(false);
    expect(can(read, "token:self")).toBe(false);
    const publish = actor({ role: "admin", scope: { access: "publish", miniProgramIds: null } });
    expect(can(publish, "version:upload", "mp_a")).toBe(true);
    expect(can(publish, "release:create", "mp_a")).toBe(true);
    expect(can(publish, "release:write", "mp_a")).toBe(false);
    expect(can(publish, "release:review", "mp_a")).toBe(false);
    // publish on a reviewer gives nothing the reviewer lacks.
    const reviewer = actor({ role: "reviewer", scope: { access: "publish", miniProgramIds: null } });
    expect(can(reviewer, "version:upload", "mp_a")).toBe(false);
  });

  it("confines a token limited to mini programs to them, and takes workspace writes away", () => {
    const limited = actor({ role: "admin", scope: { access: "full", miniProgramIds: ["mp_a"] } });
    expect(can(limited, "release:write", "mp_a")).toBe(true);
    expect(can(limited, "release:write", "mp_b")).toBe(false);
    expect(can(limited, "workspace:read")).toBe(true);
    expect(can(limited, "token:self")).toBe(true);
    for (const p of ["app:write", "member:write", "allowlist:write", "audit:read", "token:admin"] as const) {
      expect(can(limited, p)).toBe(false);
    }
  });
});

describe("mayHold and visibleMiniPrograms", () => {
  it("let the route gate through only who could hold the permission somewhere", () => {
    expect(mayHold(actor(), "version:upload")).toBe(false);
    expect(mayHold(actor({ miniProgramRoles: { mp_a: "developer" } }), "version:upload")).toBe(true);
    expect(mayHold(actor({ role: "reviewer" }), "release:review")).toBe(true);
    expect(mayHold(actor({ role: "admin", scope: { access: "read", miniProgramIds: null } }), "release:write")).toBe(
      false,
    );
    expect(mayHold(actor({ role: "admin", scope: { access: "full", miniProgramIds: ["mp_a"] } }), "app:write")).toBe(
      false,
    );
  });

  it("show admins and reviewers every mini program, others theirs, each cut by the token", () => {
    expect(visibleMiniPrograms(actor({ role: "reviewer" }))).toBe("all");
    expect(visibleMiniPrograms(actor({ role: "admin", scope: { access: "read", miniProgramIds: ["mp_b"] } }))).toEqual([
      "mp_b",
    ]);
    const dev = actor({ miniProgramRoles: { mp_a: "developer", mp_b: "admin" } });
    expect(visibleMiniPrograms(dev)).toEqual(["mp_a", "mp_b"]);
    expect(visibleMiniPrograms({ ...dev, scope: { access: "publish", miniProgramIds: ["mp_b"] } })).toEqual(["mp_b"]);
  });
});

describe("token rules", () => {
  const now = 1_800_000_000_000;

  it("expiry: 90 days by default, at most a year, never only where allowed", () => {
    expect(tokenExpiry(undefined, now, false)).toEqual({ expiresAt: now + DEFAULT_TOKEN_TTL_MS });
    expect(tokenExpiry(now + 1000, now, false)).toEqual({ expiresAt: now + 1000 });
    expect(tokenExpiry(now + MAX_TOKEN_TTL_MS, now, false)).toEqual({ expiresAt: now + MAX_TOKEN_TTL_MS });
    for (const bad of [now, now - 1, now + MAX_TOKEN_TTL_MS + 1]) {
      expect(tokenExpiry(bad, now, true)).toMatchObject({ error: { pointer: "/expiresAt" } });
    }
    expect(tokenExpiry(null, now, false)).toMatchObject({ error: { pointer: "/expiresAt" } });
    expect(tokenExpiry(null, now, true)).toEqual({ expiresAt: null });
  });

  it("scopeWithin: access and mini programs only narrow", () => {
    const a = (access: TokenScope["access"], ids: string[] | null = null): TokenScope => ({
      access,
      miniProgramIds: ids,
    });
    expect(scopeWithin(a("read"), a("full"))).toBe(true);
    expect(scopeWithin(a("publish"), a("read"))).toBe(false);
    expect(scopeWithin(a("full"), a("full", ["x"]))).toBe(false);
    expect(scopeWithin(a("read", ["x"]), a("full", ["x", "y"]))).toBe(true);
    expect(scopeWithin(a("read", ["z"]), a("full", ["x", "y"]))).toBe(false);
  });

  it("clientKey: IPv4 as is, IPv6 by its /64, unknown without an address", () => {
    expect(clientKey("203.0.113.7")).toBe("ip:203.0.113.7");
    expect(clientKey(undefined)).toBe("unknown");
    expect(clientKey("2001:db8:1:2::1")).toBe(clientKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"));
    expect(clientKey("2001:db8:1:2::1")).not.toBe(clientKey("2001:db8:1:3::1"));
    expect(clientKey("::1")).toBe("ip6:0:0:0:0::/64");
  });
});
