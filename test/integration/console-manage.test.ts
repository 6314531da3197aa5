// The console's management pages (docs/console.md), through the Worker with its real local
// bindings: the script the pages load, the estimate the slider fetches, the ramp schedule editor,
// rolling back, the lifecycle from a draft, and the allowlists page with its uploads.
import { beforeAll, describe, expect, it } from "vitest";
import {
  canaryOverFull,
  createApp,
  createMiniProgram,
  createRelease,
  getRelease,
  releaseFull,
  transition,
  uploadVersion,
} from "../support/admin-factories";
import { csrfOf, page, post, sessionOf } from "../support/console";
import { addMember, call, makeWorkspace } from "../support/workspace";

let token: string;
let workspaceId: string;
let appKey: string;
let cookie: string;

beforeAll(async () => {
  const w = await makeWorkspace();
  token = w.token;
  workspaceId = w.workspaceId;
  appKey = (await createApp(token)).key;
  cookie = await sessionOf(token);
});

async function html(path: string, session = cookie): Promise<string> {
  const res = await page(path, session);
  expect(res.status, path).toBe(200);
  return res.text();
}

/** A canary at 5 % of a new mini program's 1.1.0 over its full 1.0.0. */
async function canary() {
  const mp = await createMiniProgram(token);
  const { canary: release } = await canaryOverFull(
    token,
    { miniProgram: mp.id, appKey, env: "prod" },
    { percentage: { basisPoints: 500 } },
  );
  return { mp, release };
}

describe("console script", () => {
  it("is served from the console's origin as JavaScript, cacheable, and loaded by every page", async () => {
    const res = await page("/console/assets/console.js");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
    const js = await res.text();
    expect(js).toContain("form[data-upload]");
    expect(js).toContain("input[data-estimate]");
    // No eval-like constructs the CSP would refuse.
    expect(js).not.toMatch(/\beval\(|new Function|innerHTML/);
    expect(await html("/console")).toContain('<script src="/console/assets/console.js" defer=""></script>');
  });
});

describe("console rollout estimate", () => {
  it("answers the slider's estimate block alone, with the save form, and refuses a bad percentage", async () => {
    const { release } = await canary();
    const page1 = await html(`/console/releases/${release.id}`);
    expect(page1).toContain(`data-estimate="/console/releases/${release.id}/estimate"`);
    expect(page1).toContain('<output id="basisPoints-value" for="basisPoints">5 %</output>');
    const block = await html(`/console/releases/${release.id}/estimate?basisPoints=1500`);
    expect(block).not.toContain("<html");
    expect(block).toMatch(/At 15 %: about \d+ devices/);
    expect(block).toContain('name="basisPoints" value="1500"');
    expect(block).toContain(`name="_csrf" value="${csrfOf(page1)}"`);
    expect((await page(`/console/releases/${release.id}/estimate?basisPoints=10001`, cookie)).status).toBe(400);
    expect((await page(`/console/releases/${release.id}/estimate`, cookie)).status).toBe(400);
  });
});

describe("console ramp schedule", () => {
  it("shows the schedule, saves an edited one (rows in any order, blanks ignored) and removes it", async () => {
    const { release } = await canary();
    const form1 = await html(`/console/releases/${release.id}`);
    expect(form1).toContain("No ramp: the percentage stays where it is set.");
    expect(form1).toContain('<label for="ramp-at-0">Step 1 from (UTC)</label>');
    const hour = 3_600_000;
    const at = (n: number) => new Date(Math.ceil(Date.now() / hour) * hour + n * hour).toISOString().slice(0, 16);
    const saved = await post(`/console/releases/${release.id}/ramp`, cookie, {
      _csrf: csrfOf(form1),
      at0: at(48),
      percent0: "50",
      at1: at(24),
      percent1: "12.5",
      at2: "",
      percent2: "",
    });
    expect(saved.status, await saved.clone().text()).toBe(303);
    const stored = (await getRelease(token, release.id)) as unknown as {
      targeting: { percentage: { basisPoints: number; ramp: { at: number; basisPoints: number }[] } };
    };
    expect(stored.targeting.percentage).toEqual({
      basisPoints: 500,
      ramp: [
        { at: Date.parse(`${at(24)}Z`), basisPoints: 1250 },
        { at: Date.parse(`${at(48)}Z`), basisPoints: 5000 },
      ],
    });
    const shown = await html(`/console/releases/${release.id}`);
    expect(shown).toContain(`<td>${at(24).replace("T", " ")}</td><td>12.5 %</td><td>scheduled</td>`);
    expect(shown).toContain(`id="ramp-at-1" name="at1" type="datetime-local" value="${at(48)}"`);
    expect(shown).toContain("Set before the ramp&#39;s first step: 5 %");

    const half = await post(`/console/releases/${release.id}/ramp`, cookie, {
      _csrf: csrfOf(shown),
      at0: at(24),
      percent0: "",
    });
    expect(half.status).toBe(400);
    expect(await half.text()).toContain("Step 1 needs both a time and a percentage.");
    const over = await post(`/console/releases/${release.id}/ramp`, cookie, {
      _csrf: csrfOf(shown),
      at0: at(24),
      percent0: "101",
    });
    expect(over.status).toBe(400);

    const cleared = await post(`/console/releases/${release.id}/ramp`, cookie, { _csrf: csrfOf(shown) });
    expect(cleared.status).toBe(303);
    const after = (await getRelease(token, release.id)) as unknown as { targeting: { percentage: unknown } };
    expect(after.targeting.percentage).toEqual({ basisPoints: 500 });
  });
});

describe("console roll back", () => {
  it("offers the lower versions that went full, confirms, and creates the rollback release with inherited settings", async () => {
    const mp = await createMiniProgram(token);
    await uploadVersion(token, mp.id, "1.0.0");
    const first = await createRelease(token, {
      miniProgramId: mp.id,
      version: "1.0.0",
      appId: appKey,
      env: "prod",
      updateMode: "sync",
      config: { switches: { checkout: "on" } },
    });
    for (const to of ["in_review", "approved", "full"]) await transition(token, first.id, to);
    const { release: bad } = await releaseFull(token, { miniProgram: mp.id, appKey, env: "prod" }, "2.0.0");
    const shown = await html(`/console/releases/${bad.id}`);
    expect(shown).toContain('<label for="rollback-version">');
    expect(shown).toContain('<option value="1.0.0">1.0.0</option>');

    const asked = await post(`/console/releases/${bad.id}/rollback`, cookie, {
      _csrf: csrfOf(shown),
      version: "1.0.0",
    });
    expect(asked.status).toBe(200);
    const confirm = await asked.text();
    expect(confirm).toContain(`Roll ${mp.key} back from 2.0.0 to 1.0.0?`);
    expect(confirm).toContain(first.id);
    // Nothing is created before the confirmation.
    const before = await call(`/v1/admin/releases?miniProgramId=${mp.id}&version=1.0.0`, { token });
    expect(((await before.json()) as { items: unknown[] }).items).toHaveLength(1);

    const done = await post(`/console/releases/${bad.id}/rollback`, cookie, {
      _csrf: csrfOf(confirm),
      version: "1.0.0",
      confirmed: "yes",
    });
    expect(done.status).toBe(303);
    const location = done.headers.get("location") ?? "";
    const createdId = /^\/console\/releases\/(rel_[a-z0-9]+)\?created=rollback$/.exec(location)?.[1];
    expect(createdId, location).toBeDefined();
    const created = (await getRelease(token, createdId as string)) as unknown as Record<string, unknown>;
    expect(created).toMatchObject({
      version: "1.0.0",
      rollback: true,
      status: "created",
      updateMode: "sync",
      config: { switches: { checkout: "on" } },
    });
    const next = await html(location);
    expect(next).toContain("Rollback release created: submit it for review");
    expect(next).toContain(">Submit for review</button>");

    // 1.0.0 now has an open release: it is no longer offered, and a forged choice is refused.
    const again = await html(`/console/releases/${bad.id}`);
    expect(again).not.toContain('<option value="1.0.0">');
    const refused = await post(`/console/releases/${bad.id}/rollback`, cookie, {
      _csrf: csrfOf(again),
      version: "1.0.0",
      confirmed: "yes",
    });
    expect(refused.status).toBe(400);
  });

  it("is not offered to a reviewer, and a forged rollback form is refused", async () => {
    const mp = await createMiniProgram(token);
    await releaseFull(token, { miniProgram: mp.id, appKey, env: "prod" }, "1.0.0");
    const { release: bad } = await releaseFull(token, { miniProgram: mp.id, appKey, env: "prod" }, "2.0.0");
    const reviewer = await addMember(workspaceId, "reviewer");
    const session = await sessionOf(reviewer.token);
    const shown = await html(`/console/releases/${bad.id}`, session);
    expect(shown).not.toContain("rollback-version");
    const forged = await post(`/console/releases/${bad.id}/rollback`, session, {
      _csrf: csrfOf(shown),
      version: "1.0.0",
      confirmed: "yes",
    });
    expect(forged.status).toBe(403);
  });
});

describe("console allowlists", () => {
  const multipart = (session: string, fields: Record<string, string>, file: string | null) => {
    const body = new FormData();
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    if (file !== null) body.append("file", new File([file], "list.txt", { type: "text/plain" }));
    return call("/console/allowlists/upload", {
      method: "POST",
      redirect: "manual",
      headers: { cookie: session },
      body,
    });
  };

  it("creates a list, uploads a file to it with a plain form and with the script's raw body, and shows counts", async () => {
    const empty = await html("/console/allowlists");
    expect(empty).toContain('<label for="new-name">');
    const created = await post("/console/allowlists", cookie, { _csrf: csrfOf(empty), name: "qa-team", kind: "user" });
    expect(created.status).toBe(303);
    const listId = /created=(al_[a-z0-9]+)/.exec(created.headers.get("location") ?? "")?.[1] as string;
    expect(listId).toBeDefined();
    const shown = await html(`/console/allowlists?created=${listId}`);
    expect(shown).toContain("Created qa-team: upload its entries.");
    expect(shown).toContain('enctype="multipart/form-data" data-upload=""');
    expect(shown).toContain('<label for="upload-file">');
    expect(shown).toContain(`<option value="${listId}" selected="">`);

    // Without script: a multipart form.
    const plain = await multipart(
      cookie,
      { _csrf: csrfOf(shown), list: listId, mode: "replace" },
      "u1\nu2\nu3\nre:^qa-[0-9]{1,4}$\n",
    );
    expect(plain.status, await plain.clone().text()).toBe(303);
    expect(plain.headers.get("location")).toBe(`/console/allowlists?uploaded=${listId}`);
    const counted = await html(`/console/allowlists?uploaded=${listId}`);
    expect(counted).toContain("Uploaded: qa-team now holds 3 ids and 1 pattern.");
    expect(counted).toMatch(
      new RegExp(
        `<tr id="list-${listId}"><td>qa-team</td><td>user ids</td><td class="count">3</td><td class="count">1</td>`,
      ),
    );

    // With script: the raw file, list and mode in the query, the CSRF token in a header (appended).
    const raw = (headers: Record<string, string>) =>
      call(`/console/allowlists/upload?list=${listId}&mode=append`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, "content-type": "text/plain", ...headers },
        body: "u4\nu5\n",
      });
    expect((await raw({})).status).toBe(403);
    expect((await raw({ "x-updraft-csrf": "forged" })).status).toBe(403);
    const appended = await raw({ "x-updraft-csrf": csrfOf(shown) });
    expect(appended.status).toBe(303);
    const list = await call(`/v1/admin/allowlists/${listId}`, { token });
    expect(await list.json()).toMatchObject({ exactCount: 5, contentVersion: 2 });
    const entries = await (await call(`/v1/admin/allowlists/${listId}/entries`, { token })).text();
    expect(entries.split("\n").sort()).toEqual(["re:^qa-[0-9]{1,4}$", "u1", "u2", "u3", "u4", "u5"]);
  });

  it("shows bad lines on an error page, keeps the list as it was, and refuses a file too large for a plain form", async () => {
    const shown = await html("/console/allowlists");
    const created = await post("/console/allowlists", cookie, {
      _csrf: csrfOf(shown),
      name: "bad-lines",
      kind: "device",
    });
    const listId = /created=(al_[a-z0-9]+)/.exec(created.headers.get("location") ?? "")?.[1] as string;
    const bad = await multipart(cookie, { _csrf: csrfOf(shown), list: listId, mode: "replace" }, "ok-1\nre:(\n");
    expect(bad.status).toBe(400);
    const text = await bad.text();
    expect(text).toContain('role="alert"');
    expect(text).toContain('<ul class="field-errors"><li>');
    expect(await (await call(`/v1/admin/allowlists/${listId}`, { token })).json()).toMatchObject({
      exactCount: 0,
      contentVersion: 0,
    });
    const noFile = await multipart(cookie, { _csrf: csrfOf(shown), list: listId, mode: "replace" }, null);
    expect(noFile.status).toBe(400);
    const huge = await call("/console/allowlists/upload", {
      method: "POST",
      redirect: "manual",
      headers: {
        cookie,
        "content-type": "multipart/form-data; boundary=x",
        "content-length": String(17 * 1024 * 1024),
      },
      body: "--x--",
    });
    expect(huge.status).toBe(413);
    const badName = await post("/console/allowlists", cookie, { _csrf: csrfOf(shown), name: "al_looks_like_an_id" });
    expect(badName.status).toBe(400);
  });

  it("shows a reviewer the counts without forms, and refuses a forged upload", async () => {
    const reviewer = await addMember(workspaceId, "reviewer");
    const session = await sessionOf(reviewer.token);
    const shown = await html("/console/allowlists", session);
    expect(shown).toContain("qa-team");
    expect(shown).not.toContain("data-upload");
    expect(shown).not.toContain('<label for="new-name">');
    const forged = await multipart(session, { _csrf: csrfOf(shown), list: "qa-team", mode: "replace" }, "x\n");
    expect(forged.status).toBe(403);
    expect(await (await call("/v1/admin/allowlists/qa-team", { token })).json()).toMatchObject({ exactCount: 5 });
  });
});

describe("console lifecycle from a draft", () => {
  it("submits a created release for review and cancels an approved one, each after confirmation", async () => {
    const mp = await createMiniProgram(token);
    await uploadVersion(token, mp.id, "1.0.0");
    const r = await createRelease(token, { miniProgramId: mp.id, version: "1.0.0", appId: appKey, env: "prod" });
    const shown = await html(`/console/releases/${r.id}`);
    expect(shown).toContain(">Submit for review</button>");
    expect(shown).toContain(">Cancel the release</button>");
    const submitted = await post(`/console/releases/${r.id}/transition`, cookie, {
      _csrf: csrfOf(shown),
      to: "in_review",
      confirmed: "yes",
    });
    expect(submitted.status).toBe(303);
    const waiting = await html(`/console/releases/${r.id}`);
    expect(waiting).toContain("Waiting for a reviewer: see the review queue.");
    await transition(token, r.id, "approved");
    const approved = await html(`/console/releases/${r.id}`);
    expect(approved).toContain(">Cancel the release</button>");
    const cancelled = await post(`/console/releases/${r.id}/transition`, cookie, {
      _csrf: csrfOf(approved),
      to: "cancelled",
      confirmed: "yes",
    });
    expect(cancelled.status).toBe(303);
    expect((await getRelease(token, r.id)).status).toBe("cancelled");
  });
});

describe("console explain, pasted", () => {
  it("explains a pasted check request and shows it back, with the profile fields filled in", async () => {
    const { mp, release } = await canary();
    const shown = await html("/console/explain");
    expect(shown).toContain('<label for="explain-request">');
    const request = JSON.stringify({
      appId: appKey,
      env: "prod",
      deviceId: "pasted-device",
      platform: "ios",
      miniPrograms: [{ id: mp.key, version: "1.0.0" }],
    });
    const res = await post("/console/explain", cookie, { _csrf: csrfOf(shown), request });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(new RegExp(`${mp.key}: (update 1\\.1\\.0|none) \\(`));
    expect(text).toContain(`href="/console/releases/${release.id}"`);
    expect(text).toContain(`value="${mp.key}@1.0.0"`);
    expect(text).toContain("&quot;deviceId&quot;:&quot;pasted-device&quot;");
    const bad = await post("/console/explain", cookie, { _csrf: csrfOf(shown), request: '{"appId": 1}' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('<ul class="field-errors">');
    const forged = await post("/console/explain", cookie, { _csrf: "forged", request });
    expect(forged.status).toBe(403);
  });
});

describe("console review mends", () => {
  it("refuses a ramp or rollout saved over a change made since the page was loaded", async () => {
    const { release } = await canary();
    const stale = await html(`/console/releases/${release.id}?basisPoints=800`);
    const rowVersion = /name="rowVersion" value="(\d+)"/.exec(stale)?.[1];
    expect(rowVersion).toBeDefined();
    // Someone else changes the percentage meanwhile.
    const other = await call(`/v1/admin/releases/${release.id}/rollout`, {
      method: "PUT",
      token,
      json: { basisPoints: 700 },
    });
    expect(other.status).toBe(200);
    for (const [path, fields] of [
      ["rollout", { basisPoints: "800" }],
      ["ramp", {}],
    ] as const) {
      const res = await post(`/console/releases/${release.id}/${path}`, cookie, {
        _csrf: csrfOf(stale),
        rowVersion: rowVersion as string,
        ...fields,
      });
      expect(res.status, path).toBe(409);
      expect(await res.text()).toContain("The release changed since this page was loaded");
    }
    const after = (await getRelease(token, release.id)) as unknown as { targeting: { percentage: unknown } };
    expect(after.targeting.percentage).toEqual({ basisPoints: 700 });
  });

  it("validates a QR code's page and parameters as the admin API does", async () => {
    const mp = await createMiniProgram(token);
    await uploadVersion(token, mp.id, "1.0.0");
    const r = await createRelease(token, { miniProgramId: mp.id, version: "1.0.0", appId: appKey, env: "prod" });
    const shown = await html(`/console/releases/${r.id}/qr-codes`);
    for (const fields of [
      { pagePath: "javascript:alert(1)", query: "" },
      { pagePath: "pages/a", query: "bad key=1" },
      { pagePath: "pages/a", query: Array.from({ length: 21 }, (_, i) => `k${i}=v`).join("&") },
    ]) {
      const res = await post(`/console/releases/${r.id}/qr-codes`, cookie, { _csrf: csrfOf(shown), ...fields });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(await res.text()).toContain('<ul class="field-errors">');
    }
  });

  it("returns to the page asked for after signing in, and never to another origin", async () => {
    const { release } = await canary();
    const asked = await page(`/console/releases/${release.id}?basisPoints=100`);
    expect(asked.status).toBe(303);
    const location = asked.headers.get("location") ?? "";
    expect(location).toBe(
      `/console/sign-in?next=${encodeURIComponent(`/console/releases/${release.id}?basisPoints=100`)}`,
    );
    const form = await html(location, "");
    expect(form).toContain(
      `<input type="hidden" name="next" value="/console/releases/${release.id}?basisPoints=100"/>`,
    );
    const signIn = (next: string) =>
      call("/console/sign-in", {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, next }).toString(),
      });
    expect((await signIn(`/console/releases/${release.id}`)).headers.get("location")).toBe(
      `/console/releases/${release.id}`,
    );
    for (const evil of ["//evil.example/console/", "https://evil.example/", "/console//evil.example", "/\\evil"]) {
      expect((await signIn(evil)).headers.get("location"), evil).toBe("/console");
    }
    expect(await html("/console/sign-in?next=//evil.example", "")).not.toContain('name="next"');
  });

  it("marks the current page in the navigation, offers a skip link, and voices the slider in percent", async () => {
    const { release } = await canary();
    const overview = await html("/console/allowlists");
    expect(overview).toContain('<a href="/console/allowlists" aria-current="page">Allowlists</a>');
    expect(overview).toContain('<a class="skip" href="#main">');
    expect(overview).toContain('<main id="main">');
    const shown = await html(`/console/releases/${release.id}`);
    expect(shown).toContain('aria-valuetext="5 %"');
    expect(shown).toContain('<p id="estimate-status" class="sr-only" role="status"></p>');
  });
});
