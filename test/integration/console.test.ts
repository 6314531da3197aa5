// The SRE console's sign-in and overview (docs/console.md), through the Worker with its real local
// bindings: a token is exchanged for an HttpOnly, Secure, SameSite=Strict cookie scoped to /console
// that stops working on the next request once the token is revoked; forms carry a CSRF token; every
// page is served under a Content-Security-Policy without 'unsafe-inline'.
import { beforeAll, describe, expect, it } from "vitest";
import {
  canaryOverFull,
  createApp,
  createMiniProgram,
  createRelease,
  getRelease,
  transition,
  uploadVersion,
} from "../support/admin-factories";
import { cookieOf, csrfOf, form, page, post, signIn } from "../support/console";
import { addMember, BASE, call, makeWorkspace } from "../support/workspace";

let token: string;
let workspaceId: string;
let appKey: string;
let mpKey: string;
let canaryId: string;

beforeAll(async () => {
  const w = await makeWorkspace();
  token = w.token;
  workspaceId = w.workspaceId;
  appKey = (await createApp(token)).key;
  const mp = await createMiniProgram(token);
  mpKey = mp.key;
  const { canary } = await canaryOverFull(
    token,
    { miniProgram: mp.id, appKey, env: "prod" },
    { percentage: { basisPoints: 500 } },
  );
  canaryId = canary.id;
});

describe("console sign-in", () => {
  it("serves the sign-in page under a strict CSP, with a labelled field and no script", async () => {
    const res = await call("/console/sign-in");
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain('<label for="token">');
    // One script, from this origin (progressive enhancement); nothing inline.
    expect(html.match(/<script/g)?.length).toBe(1);
    expect(html).toContain('<script src="/console/assets/console.js" defer=""></script>');
    expect(html).not.toContain("style=");
  });

  it("exchanges a valid token for an HttpOnly, Secure, SameSite=Strict cookie scoped to /console", async () => {
    const res = await signIn(token);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console");
    const set = res.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/^updraft_console=upd_/);
    for (const attribute of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console", "Max-Age=43200"]) {
      expect(set).toContain(attribute);
    }
  });

  it("refuses a sign-in form posted from another site (login CSRF)", async () => {
    const res = await call("/console/sign-in", {
      ...form({ token }),
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("refuses a form over 64 KiB without reading it", async () => {
    const res = await call("/console/sign-in", { ...form({ token: "x".repeat(70_000) }) });
    expect(res.status).toBe(413);
  });

  it("refuses a wrong token with the page and 401, setting no cookie", async () => {
    const res = await signIn("upd_00000000000000000000000000000000");
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toContain("That token is not valid");
  });

  it("sends a visitor without a session to the sign-in page", async () => {
    const res = await page("/console");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/sign-in");
  });
});

describe("console overview", () => {
  it("shows what is live where, and a sign-out form with the session's CSRF token", async () => {
    const cookie = cookieOf(await signIn(token));
    const res = await page("/console", cookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(`${appKey} · prod`);
    expect(html).toContain(mpKey);
    expect(html).toContain("1.0.0 full");
    expect(html).toMatch(/name="_csrf" value="[A-Za-z0-9_-]{43}"/);
  });

  it("stops working on the next request once the token is revoked", async () => {
    const issued = await call("/v1/admin/tokens", { method: "POST", token, json: { name: "console-test" } });
    const body = (await issued.json()) as Record<string, unknown>;
    const second = String(body.token ?? body.secret);
    const id = String((body.token as { id?: string } | undefined)?.id ?? body.id);
    expect(second, JSON.stringify(body)).toMatch(/^upd_/);
    const cookie = cookieOf(await signIn(second));
    expect((await page("/console", cookie)).status).toBe(200);
    expect((await call(`/v1/admin/tokens/${id}`, { method: "DELETE", token })).status).toBe(200);
    const after = await page("/console", cookie);
    expect(after.status).toBe(303);
    expect(after.headers.get("location")).toBe("/console/sign-in?expired=1");
  });

  it("refuses a form POST without the session's CSRF token", async () => {
    const cookie = cookieOf(await signIn(token));
    const forged = await call("/console/sign-out", {
      ...form({ _csrf: "forged" }),
      headers: { ...form({}).headers, cookie },
    });
    expect(forged.status).toBe(403);
    const html = await (await page("/console", cookie)).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
    const out = await call("/console/sign-out", { ...form({ _csrf: csrf }), headers: { ...form({}).headers, cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/^updraft_console=;/);
  });
});

describe("console release page", () => {
  it("shows the canary, estimates a proposed percentage before saving, and saves it", async () => {
    const cookie = cookieOf(await signIn(token));
    const overview = await (await page("/console", cookie)).text();
    expect(overview).toContain(`href="/console/releases/${canaryId}"`);
    expect(overview).toContain("1.1.0 canary 5 %");
    const shown = await page(`/console/releases/${canaryId}?basisPoints=2000`, cookie);
    expect(shown.status).toBe(200);
    const html = await shown.text();
    expect(html).toContain("Percentage now: 5 %");
    expect(html).toMatch(/At 20 %: about \d+ devices/);
    expect(html).toContain('<label for="basisPoints">');
    // The timeline from the audit log shows the release's moves.
    expect(html).toContain("release.transition → canary");
    const saved = await post(`/console/releases/${canaryId}/rollout`, cookie, {
      _csrf: csrfOf(html),
      basisPoints: "2000",
    });
    expect(saved.status).toBe(303);
    const after = (await getRelease(token, canaryId)) as unknown as {
      targeting: { percentage: { basisPoints: number } };
    };
    expect(after.targeting.percentage.basisPoints).toBe(2000);
  });

  it("pauses only after confirmation, with the reason in the audit log", async () => {
    const cookie = cookieOf(await signIn(token));
    const html = await (await page(`/console/releases/${canaryId}`, cookie)).text();
    const asked = await post(`/console/releases/${canaryId}/transition`, cookie, { _csrf: csrfOf(html), to: "paused" });
    expect(asked.status).toBe(200);
    const confirm = await asked.text();
    expect(confirm).toContain("Pause: ");
    expect((await getRelease(token, canaryId)).status).toBe("canary");
    const done = await post(`/console/releases/${canaryId}/transition`, cookie, {
      _csrf: csrfOf(confirm),
      to: "paused",
      confirmed: "yes",
      reason: "Crash reports",
    });
    expect(done.status).toBe(303);
    expect((await getRelease(token, canaryId)).status).toBe("paused");
    const again = await (await page(`/console/releases/${canaryId}`, cookie)).text();
    expect(again).toContain("release.transition → paused (Crash reports)");
    // Continue it again for the tests that follow.
    expect(again).toContain(">Continue</button>");
    await transition(token, canaryId, "canary");
  });

  it("refuses an action the role lacks, with a page and 403", async () => {
    const reviewer = await addMember(workspaceId, "reviewer");
    const cookie = cookieOf(await signIn(reviewer.token));
    const html = await (await page(`/console/releases/${canaryId}`, cookie)).text();
    // The page offers the reviewer no action; a forged form is refused all the same.
    expect(html).toContain("Your role cannot change this release.");
    expect(html).not.toContain(">Pause</button>");
    const refused = await post(`/console/releases/${canaryId}/transition`, cookie, {
      _csrf: csrfOf(html),
      to: "paused",
      confirmed: "yes",
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await refused.text()).toContain("Forbidden");
    expect((await getRelease(token, canaryId)).status).toBe("canary");
  });
});

describe("console explain", () => {
  it("explains per mini program what a built device profile gets, and why", async () => {
    const cookie = cookieOf(await signIn(token));
    const empty = await page("/console/explain", cookie);
    expect(empty.status).toBe(200);
    expect(await empty.text()).toContain('<label for="explain-deviceId">');
    const query = new URLSearchParams({
      appId: appKey,
      env: "prod",
      deviceId: "console-device",
      miniPrograms: `${mpKey}`,
    });
    const html = await (await page(`/console/explain?${query}`, cookie)).text();
    // Nothing installed: the full release 1.0.0 applies (the canary's percentage may or may not admit the device).
    expect(html).toMatch(new RegExp(`${mpKey}: update 1\\.[01]\\.0 \\(`));
    expect(html).toContain(`href="/console/releases/${canaryId}"`);
    const bad = await page(
      `/console/explain?${new URLSearchParams({ appId: appKey, deviceId: "d", miniPrograms: "@" })}`,
      cookie,
    );
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toMatch(/^text\/html/);
  });
});

describe("console test QR codes", () => {
  it("shows a previewable release's codes as images with their links, and adds one", async () => {
    const mp = await createMiniProgram(token);
    await uploadVersion(token, mp.id, "3.0.0");
    const r = await createRelease(token, { miniProgramId: mp.id, version: "3.0.0", appId: appKey, env: "prod" });
    const cookie = cookieOf(await signIn(token));
    const html = await (await page(`/console/releases/${r.id}/qr-codes`, cookie)).text();
    const img = /<img src="(\/console\/releases\/[^"]+\/image\.svg)"/.exec(html)?.[1];
    expect(img, html).toBeDefined();
    const image = await page(img as string, cookie);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toBe("image/svg+xml");
    expect(await image.text()).toMatch(/^<svg /);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
    const added = await call(`/console/releases/${r.id}/qr-codes`, {
      ...form({ _csrf: csrf, pagePath: "pages/cart", query: "item=42" }),
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    });
    expect(added.status).toBe(303);
    const after = await (await page(`/console/releases/${r.id}/qr-codes`, cookie)).text();
    expect(after).toContain("Custom: pages/cart");
    expect(after.match(/image\.svg/g)?.length).toBe(2);
  });
});

describe("console review queue", () => {
  it("lets a reviewer approve, and shows a developer no review forms", async () => {
    const mp = await createMiniProgram(token);
    await uploadVersion(token, mp.id, "2.0.0");
    const r = await createRelease(token, { miniProgramId: mp.id, version: "2.0.0", appId: appKey, env: "prod" });
    await transition(token, r.id, "in_review");
    const developer = await addMember(workspaceId, "developer", { [mp.id]: "developer" });
    const devCookie = cookieOf(await signIn(developer.token));
    const devPage = await (await page("/console/reviews", devCookie)).text();
    expect(devPage).toContain(`${mp.key} 2.0.0`);
    expect(devPage).toContain("Your role cannot review this release.");
    const reviewer = await addMember(workspaceId, "reviewer");
    const cookie = cookieOf(await signIn(reviewer.token));
    const html = await (await page("/console/reviews", cookie)).text();
    expect(html).toContain('<label for="reason-');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
    const approved = await call(`/console/releases/${r.id}/transition`, {
      ...form({ _csrf: csrf, to: "approved", confirmed: "yes", back: "reviews" }),
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
    });
    expect(approved.status).toBe(303);
    expect(approved.headers.get("location")).toBe("/console/reviews?done=1");
    expect((await getRelease(token, r.id)).status).toBe("approved");
    expect(await (await page("/console/reviews", cookie)).text()).not.toContain(`${mp.key} 2.0.0`);
  });
});

// BASE is not a loopback host: the cookie is Secure there (on 127.0.0.1 it is not, for `npm start`).
expect(new URL(BASE).hostname).not.toBe("127.0.0.1");
