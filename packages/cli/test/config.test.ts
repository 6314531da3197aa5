// `updraft login` / `logout` and the config file: verified before stored, mode 0600 in a 0700
// directory, the token never printed, environment variables over the file, and the file's token
// never sent to another server.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fakeServer, json, problem, releaseFixture, Scratch } from "./harness.ts";

const TOKEN = "upd_0123456789abcdef_secret";
const WORKSPACE = { id: "ws_1", name: "Demo", allowSelfApproval: true, requireSignedUploads: false, createdAt: 0 };

let scratch: Scratch;
afterEach(() => scratch.remove());

function server(expectedToken = TOKEN) {
  return fakeServer({
    "GET /v1/admin/workspace": (req) =>
      req.headers.get("authorization") === `Bearer ${expectedToken}`
        ? json(WORKSPACE)
        : problem(401, "UNAUTHENTICATED", "A valid bearer token is required."),
    "GET /v1/admin/releases/rel_1": () => json(releaseFixture()),
  });
}

describe("updraft login", () => {
  it("verifies the token, then stores server and token in a 0600 file in a 0700 directory", async () => {
    scratch = new Scratch();
    const s = server();
    const result = await scratch.run(["login", "--server", "https://updraft.test/", "--token", TOKEN], {
      fetch: s.fetch,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(s.requests[0]?.url.toString()).toBe("https://updraft.test/v1/admin/workspace");
    expect(result.stdout).toContain('workspace "Demo" (ws_1)');
    expect(JSON.parse(readFileSync(scratch.configFile, "utf8"))).toEqual({
      server: "https://updraft.test",
      token: TOKEN,
    });
    expect(statSync(scratch.configFile).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(scratch.configFile)).mode & 0o777).toBe(0o700);
    expect(result.stdout + result.stderr).not.toContain(TOKEN);
  });

  it("reads the token from stdin", async () => {
    scratch = new Scratch();
    const result = await scratch.run(["login", "--server", "https://updraft.test"], {
      fetch: server().fetch,
      stdin: `${TOKEN}\n`,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(readFileSync(scratch.configFile, "utf8")).token).toBe(TOKEN);
  });

  it("stores nothing when the server refuses the token (exit 1)", async () => {
    scratch = new Scratch();
    const result = await scratch.run(["login", "--server", "https://updraft.test", "--token", "upd_wrong"], {
      fetch: server().fetch,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("error: UNAUTHENTICATED (401): A valid bearer token is required.\n");
    expect(existsSync(scratch.configFile)).toBe(false);
  });

  it("without a server anywhere is a usage error (exit 2)", async () => {
    scratch = new Scratch();
    const result = await scratch.run(["login", "--token", TOKEN]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no server");
  });

  it("keeps the file's other settings (the default key) and follows XDG_CONFIG_HOME", async () => {
    scratch = new Scratch();
    const env = { UPDRAFT_CONFIG: "", XDG_CONFIG_HOME: scratch.path("xdg") };
    const result = await scratch.run(["login", "--server", "https://updraft.test", "--token", TOKEN], {
      fetch: server().fetch,
      env,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(existsSync(scratch.path("xdg", "updraft", "config.json"))).toBe(true);
  });
});

describe("the config file and the environment", () => {
  it("UPDRAFT_TOKEN and UPDRAFT_SERVER override the file", async () => {
    scratch = new Scratch();
    await scratch.run(["login", "--server", "https://updraft.test", "--token", TOKEN], { fetch: server().fetch });
    const other = server("upd_from_env");
    const result = await scratch.run(["release", "show", "rel_1"], {
      fetch: other.fetch,
      env: { UPDRAFT_SERVER: "https://other.test", UPDRAFT_TOKEN: "upd_from_env" },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(other.requests[0]?.url.host).toBe("other.test");
    expect(other.requests[0]?.headers.get("authorization")).toBe("Bearer upd_from_env");
  });

  it("never sends the file's token to a server other than the file's", async () => {
    scratch = new Scratch();
    await scratch.run(["login", "--server", "https://updraft.test", "--token", TOKEN], { fetch: server().fetch });
    const s = server();
    const result = await scratch.run(["--server", "https://evil.test", "release", "show", "rel_1"], { fetch: s.fetch });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("not logged in to https://evil.test");
    expect(s.requests).toHaveLength(0);
  });

  it("warns when the file holding a token is readable by others", async () => {
    scratch = new Scratch();
    await scratch.run(["login", "--server", "https://updraft.test", "--token", TOKEN], { fetch: server().fetch });
    const { chmodSync } = await import("node:fs");
    chmodSync(scratch.configFile, 0o644);
    const result = await scratch.run(["release", "show", "rel_1"], { fetch: server().fetch });
    expect(result.stderr).toContain("readable by others (mode 644)");
  });

  it("an unreadable config file is a local failure (exit 4)", async () => {
    scratch = new Scratch();
    writeFileSync(scratch.path("bad.json"), "{not json");
    const result = await scratch.run(["release", "show", "rel_1"], {
      env: { UPDRAFT_CONFIG: scratch.path("bad.json") },
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("is not JSON");
  });
});

describe("updraft logout", () => {
  it("removes the token and keeps the rest", async () => {
    scratch = new Scratch();
    await scratch.run(["login", "--server", "https://updraft.test", "--token", TOKEN], { fetch: server().fetch });
    const result = await scratch.run(["logout"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(scratch.configFile, "utf8"))).toEqual({ server: "https://updraft.test" });
    expect(statSync(scratch.configFile).mode & 0o777).toBe(0o600);
    expect((await scratch.run(["logout"])).stdout).toContain("No token stored");
  });
});
