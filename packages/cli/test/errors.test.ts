// Exit codes and error lines: argument errors are usage errors (2), a 4xx problem is one line and
// exit 1, a 5xx or an unreachable server exit 3, never a stack trace; --json also prints the problem.
import { afterAll, describe, expect, it } from "vitest";
import { problemLine } from "../src/api.ts";
import { fakeServer, json, problem, Scratch } from "./harness.ts";

const scratch = new Scratch();
afterAll(() => scratch.remove());
const ENV = { UPDRAFT_SERVER: "https://updraft.test", UPDRAFT_TOKEN: "upd_t" };

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe("argument errors: exit 2", () => {
  it.each([
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["pack"], /missing required argument 'dir'/],
    [["pack", "dist", "--zip"], /unknown option '--zip'/],
    [["publish", "dist", "--version", "1.0.0"], /required option '--mini-program <key>' not specified/],
    [["release", "reject", "rel_1"], /reject needs --reason/],
    [["rollout", "set", "rel_1", "abc"], /not a percentage/],
    [["rollout", "set", "rel_1", "100.5"], /at most 100%/],
    [["rollout", "set", "rel_1", "0.125"], /at most two decimals/],
    [["release", "list", "--env", "prod"], /--env needs --app/],
    [
      [
        "release",
        "create",
        "--mini-program",
        "m",
        "--version",
        "1.0.0",
        "--app",
        "a",
        "--env",
        "e",
        "--update-mode",
        "fast",
      ],
      /--update-mode must be one of/,
    ],
    [
      ["explain", "--app", "a", "--env", "e", "--device", "d", "--mini-program", "m@"],
      /expected <key> or <key>@<version>/,
    ],
    [["keys", "sign", "--root", "r.pem", "--version", "0", "--key", "k=x"], /--version must be a positive integer/],
    [["keys", "verify", "--root-public", "short", "x.json"], /is not a base64url raw 32-byte public key/],
    [["release", "show", "rel_1"], /no server/],
  ])("%j", async (argv, message) => {
    const result = await scratch.run(argv as string[], { env: argv[0] === "release" && argv[1] === "show" ? {} : ENV });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe("");
    noStack(result.stderr);
  });

  it("help and the version are not errors", async () => {
    expect((await scratch.run(["--help"])).code).toBe(0);
    expect((await scratch.run(["release", "--help"])).stdout).toContain("rollback");
    const version = await scratch.run(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toBe("0.1.0\n");
  });

  it("no command at all shows the help as a usage error", async () => {
    const result = await scratch.run([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Usage: updraft");
  });
});

describe("problem+json: one line", () => {
  it("shows code, status, detail and the first field error", () => {
    const line = problemLine(400, {
      code: "VALIDATION_FAILED",
      status: 400,
      detail: "The request query is not valid.",
      errors: [
        { pointer: "/version", message: "Must be a semver version." },
        { pointer: "/compat", message: "Invalid range." },
      ],
      requestId: "req_1",
    });
    expect(line).toBe(
      "error: VALIDATION_FAILED (400): The request query is not valid. (/version: Must be a semver version.; 1 more)",
    );
  });

  it("keeps a hostile detail on one line without control characters", () => {
    const line = problemLine(409, { code: "CONFLICT", detail: "two\nlines\u001b[31m red" });
    expect(line).toBe("error: CONFLICT (409): two lines [31m red");
  });

  it("a 4xx answer: exit 1, the line on stderr, and with --json the problem on stdout", async () => {
    const body = { pointer: "/to", message: "Invalid option" };
    const server = fakeServer({
      "POST /v1/admin/releases/rel_1/transitions": () =>
        problem(409, "INVALID_TRANSITION", "A release in created cannot move to full.", { errors: [body] }),
    });
    const result = await scratch.run(["release", "full", "rel_1", "--json"], { fetch: server.fetch, env: ENV });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "error: INVALID_TRANSITION (409): A release in created cannot move to full. (/to: Invalid option)\n",
    );
    expect(JSON.parse(result.stdout)).toMatchObject({ code: "INVALID_TRANSITION", status: 409 });
  });

  it("a 5xx answer: exit 3, with the request id to quote", async () => {
    const server = fakeServer({
      "GET /v1/admin/releases/rel_1": () => problem(500, "INTERNAL", "Something went wrong on our side."),
    });
    const result = await scratch.run(["release", "show", "rel_1"], { fetch: server.fetch, env: ENV });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe("error: INTERNAL (500): Something went wrong on our side. (request req_1)\n");
  });

  it("a non-JSON error page: exit 3 for a 502, exit 1 for a 404", async () => {
    const server = fakeServer({
      "GET /v1/admin/releases/rel_1": () => new Response("<html>Bad gateway</html>", { status: 502 }),
      "GET /v1/admin/releases/rel_2": () => new Response("nope", { status: 404 }),
    });
    const bad = await scratch.run(["release", "show", "rel_1"], { fetch: server.fetch, env: ENV });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toBe("error: HTTP 502 from GET /v1/admin/releases/rel_1: <html>Bad gateway</html>\n");
    expect((await scratch.run(["release", "show", "rel_2"], { fetch: server.fetch, env: ENV })).code).toBe(1);
  });

  it("an unreachable server: exit 3, one line", async () => {
    const fetch = async () => {
      throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:9") });
    };
    const result = await scratch.run(["release", "show", "rel_1"], {
      fetch: fetch as typeof globalThis.fetch,
      env: ENV,
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe("error: cannot reach https://updraft.test: connect ECONNREFUSED 127.0.0.1:9\n");
  });

  it("a success without JSON: exit 3", async () => {
    const server = fakeServer({ "GET /v1/admin/releases/rel_1": () => new Response("ok") });
    const result = await scratch.run(["release", "show", "rel_1"], { fetch: server.fetch, env: ENV });
    expect(result.code).toBe(3);
    noStack(result.stderr);
  });

  it("the API's JSON with --json on success", async () => {
    const server = fakeServer({ "GET /v1/admin/publisher-keys": () => json({ items: [], nextCursor: null }) });
    const result = await scratch.run(["keys", "list", "--json"], { fetch: server.fetch, env: ENV });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ items: [], nextCursor: null });
  });
});

describe("text from the server", () => {
  it("is printed without its control characters (no escape sequence reaches the terminal)", async () => {
    const server = fakeServer({
      "GET /v1/admin/publisher-keys": () =>
        json({
          items: [
            {
              id: "pub_1",
              keyId: "0123456789abcdef",
              name: "ci\u001b]0;owned\u0007\u001b[2J\nkey",
              publicKey: "A".repeat(43),
              createdAt: 0,
              revokedAt: null,
            },
          ],
          nextCursor: null,
        }),
    });
    const result = await scratch.run(["keys", "list"], { fetch: server.fetch, env: ENV });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("ci?]0;owned??[2J?key");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
    expect(result.stdout.replaceAll("\n", "")).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
