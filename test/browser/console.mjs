// `npm run test:browser` (called by .ci/run after `npm test`): the console in a real browser.
// Starts `npm start`'s server on a scratch state (127.0.0.1, a free port), drives Debian's headless
// Chromium with puppeteer-core (never a downloaded browser), and checks what an SRE does: sign in,
// move the rollout slider and see the estimate (fetched by the page's script), save, schedule a ramp
// step, pause and see the release paused, see a chart with data, see test QR codes drawn, upload an
// allowlist with a progress bar and see its counts, approve as a reviewer, and be refused an action
// the role lacks. A screenshot of each page goes to test/browser/screenshots/ (git-ignored).
//   CHROMIUM  the browser binary (default: Debian's chromium-headless-shell, else chromium)
// With CI=true a missing browser fails the run; elsewhere it is skipped with a note.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import puppeteer from "puppeteer-core";

const CANDIDATES = [
  process.env.CHROMIUM,
  "/usr/lib/chromium/chromium-headless-shell",
  "/usr/bin/chromium-headless-shell",
  "/usr/bin/chromium",
].filter(Boolean);
const SHOTS = join(import.meta.dirname, "screenshots");
/** The whole run stops by itself after this long. */
const DEADLINE_MS = 180_000;

const browserPath = CANDIDATES.find((p) => existsSync(p));
if (!browserPath) {
  const message = `no Chromium found (tried ${CANDIDATES.join(", ")}); .ci/run installs chromium-headless-shell`;
  if (process.env.CI === "true") {
    console.error(`test:browser: ${message}`);
    process.exit(1);
  }
  console.log(`test:browser: skipped: ${message}`);
  process.exit(0);
}

const deadline = setTimeout(() => {
  console.error(`test:browser: did not finish within ${DEADLINE_MS / 1000} s`);
  process.exit(1);
}, DEADLINE_MS);

const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, "127.0.0.1", () => {
    const { port } = probe.address();
    probe.close(() => resolve(port));
  });
});
const base = `http://127.0.0.1:${port}`;
const state = mkdtempSync(join(tmpdir(), "updraft-browser-"));
const server = spawn(process.execPath, ["scripts/start.mjs"], {
  env: {
    ...process.env,
    PORT: String(port),
    UPDRAFT_STATE_DIR: state,
    STATS_FLUSH_MS: "200",
    STATS_CHECKS_FLUSH_MS: "200",
  },
  stdio: ["ignore", "pipe", "pipe"],
});
let serverLog = "";
server.stdout.on("data", (d) => {
  serverLog += d;
});
server.stderr.on("data", (d) => {
  serverLog += d;
});

let browser;
let failed = false;
try {
  await waitForDemo();
  const { token } = JSON.parse(readFileSync(join(state, "demo.json"), "utf8"));
  const fixture = await makeFixture(token);
  mkdirSync(SHOTS, { recursive: true });
  browser = await puppeteer.launch({ executablePath: browserPath, args: ["--no-sandbox"] });
  const page = await browser.newPage();
  const cspViolations = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });

  // Sign in.
  await page.goto(`${base}/console/sign-in`);
  await shot(page, "sign-in");
  await page.type("#token", token);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  assert.equal(new URL(page.url()).pathname, "/console");
  assert.match(await page.content(), /What is live where/);
  await shot(page, "overview");

  // The canary: move the slider with the keyboard, estimate, save.
  await page.goto(`${base}/console/releases/${fixture.canary}`);
  await page.focus("#basisPoints");
  for (let i = 0; i < 10; i++) await page.keyboard.press("ArrowRight");
  const moved = await page.$eval("#basisPoints", (el) => el.value);
  assert.equal(moved, "600");
  // The script shows the value as it moves and fetches the estimate once the slider rests.
  assert.equal(await page.$eval("#basisPoints-value", (el) => el.textContent), "6 %");
  await page.waitForFunction(
    (seen) =>
      new RegExp(`At 6 %: about \\d+ devices .* of ${seen} devices seen`).test(
        document.getElementById("estimate").textContent,
      ),
    {},
    fixture.sampled,
  );
  await shot(page, "release-estimate");
  // The README's picture of the console (docs/images/console-release.png): the top of this page.
  await page.screenshot({ path: join(SHOTS, "readme-release.png"), clip: { x: 0, y: 0, width: 800, height: 1250 } });
  await Promise.all([page.waitForNavigation(), page.click(`#estimate form[action$="/rollout"] button`)]);
  assert.match(await page.content(), /Percentage now: 6 %/);

  // The ramp schedule: a step tomorrow at 25 %, saved and listed as scheduled.
  const tomorrow = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + 86_400_000).toISOString().slice(0, 16);
  await page.click("details:has(form[action$='/ramp']) > summary");
  await page.$eval(
    "#ramp-at-0",
    (el, v) => {
      el.value = v;
    },
    tomorrow,
  );
  await page.type("#ramp-percent-0", "25");
  await Promise.all([page.waitForNavigation(), page.click(`form[action$="/ramp"] button[type=submit]`)]);
  const ramped = await page.content();
  assert.match(ramped, new RegExp(`<td>${tomorrow.replace("T", " ")}</td><td>25 %</td><td>scheduled</td>`));
  await shot(page, "release-ramp");

  // Pause, with confirmation.
  await Promise.all([page.waitForNavigation(), page.click(`form[action$="/transition"] button`)]);
  assert.match(await page.content(), /Pause: /);
  await shot(page, "confirm-pause");
  await page.type("#reason", "Browser test");
  await Promise.all([page.waitForNavigation(), page.click(`form[action$="/transition"] button[type=submit]`)]);
  const paused = await page.content();
  assert.match(paused, /class="pill paused">paused/);
  assert.match(paused, /release\.transition → paused \(Browser test\)/);

  // A chart with data: events reported for the full release, counted by the Queue and its monitor.
  await page.goto(`${base}/console/releases/${fixture.full}`);
  // The chart's numbers (its table): the installs column of some hour is above zero.
  let installs = 0;
  for (let i = 0; i < 50 && installs === 0; i++) {
    await page.reload();
    installs = await page.$eval("figure table", (table) =>
      Math.max(0, ...[...table.querySelectorAll("tbody tr")].map((tr) => Number(tr.cells[2]?.textContent ?? 0))),
    );
    if (installs === 0) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(installs > 0, "no installs charted");
  const box = await page.$eval("svg.chart", (el) => el.getBoundingClientRect().width);
  assert.ok(box > 100, "the chart is drawn");
  await shot(page, "release-chart");

  // Test QR codes of the release in review: drawn as images (loaded under the CSP).
  await page.goto(`${base}/console/releases/${fixture.inReview}/qr-codes`);
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  const drawn = await page.$$eval("img", (imgs) => imgs.map((i) => i.naturalWidth));
  assert.ok(drawn.length > 0 && drawn.every((w) => w > 0), `QR images not drawn: ${drawn}`);
  await shot(page, "qr-codes");

  // A reviewer approves from the review queue, and is refused a pause.
  const reviewer = await browser.createBrowserContext();
  const rp = await reviewer.newPage();
  await rp.goto(`${base}/console/sign-in`);
  await rp.type("#token", fixture.reviewerToken);
  await Promise.all([rp.waitForNavigation(), rp.click("button[type=submit]")]);
  await rp.goto(`${base}/console/reviews`);
  await shot(rp, "review-queue");
  await Promise.all([rp.waitForNavigation(), rp.click(`form input[value="approved"] ~ button`)]);
  assert.match(await rp.content(), /Nothing is waiting for review/);
  assert.equal(await statusOf(token, fixture.inReview), "approved");
  await rp.goto(`${base}/console/releases/${fixture.full}`);
  assert.match(await rp.content(), /Your role cannot change this release/);
  await shot(rp, "reviewer-release");
  // A forged pause (the form the page does not offer) is refused.
  const refused = await rp.evaluate(async (id) => {
    const csrf = document.querySelector('input[name="_csrf"]')?.value ?? "";
    const res = await fetch(`/console/releases/${id}/transition`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: csrf, to: "paused", confirmed: "yes" }),
    });
    return res.status;
  }, fixture.full);
  assert.equal(refused, 403);

  // Allowlists: create one, upload a file of 200,000 ids with the progress bar, see the counts.
  await page.goto(`${base}/console/allowlists`);
  await page.type("#new-name", "browser-testers");
  await Promise.all([page.waitForNavigation(), page.click(`form[action="/console/allowlists"] button`)]);
  assert.match(await page.content(), /Created browser-testers: upload its entries/);
  const file = join(state, "testers.txt");
  writeFileSync(file, Array.from({ length: 200_000 }, (_, i) => `tester-${i}`).join("\n"));
  const statuses = [];
  await page.exposeFunction("reportUploadStatus", (text) => statuses.push(text));
  await page.evaluate(() => {
    const status = document.getElementById("upload-status");
    const bar = document.getElementById("upload-progress");
    new MutationObserver(() => window.reportUploadStatus(`${bar.hidden ? "" : "bar "}${status.textContent}`)).observe(
      status,
      { childList: true, characterData: true, subtree: true },
    );
  });
  const input = await page.$("#upload-file");
  await input.uploadFile(file);
  await shot(page, "allowlists");
  await Promise.all([page.waitForNavigation(), page.click("form[data-upload] button[type=submit]")]);
  assert.ok(
    statuses.some((t) => /^bar \d+ % sent$/.test(t)),
    `no progress was shown: ${JSON.stringify(statuses)}`,
  );
  assert.match(await page.content(), /Uploaded: browser-testers now holds 200,000 ids/);
  assert.match(await page.content(), /<td class="count">200,000<\/td>/);
  await shot(page, "allowlists-uploaded");

  await page.goto(
    `${base}/console/explain?appId=demo-wallet&env=prod&deviceId=browser&miniPrograms=${fixture.miniProgram}`,
  );
  assert.match(await page.content(), /update|none/);
  await shot(page, "explain");
  assert.deepEqual(cspViolations, [], "pages broke their Content-Security-Policy");
  console.log(`test:browser: passed (${browserPath}); screenshots in ${SHOTS}`);
} catch (error) {
  failed = true;
  console.error("test:browser: FAILED", error);
  console.error(serverLog.slice(-3000));
} finally {
  clearTimeout(deadline);
  await browser?.close();
  server.kill("SIGINT");
  await new Promise((r) => setTimeout(r, 1500));
  if (server.exitCode === null) server.kill("SIGKILL");
  rmSync(state, { recursive: true, force: true });
  process.exit(failed ? 1 : 0);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Until `npm start` has seeded the demo: its token answers and its release is full. */
async function waitForDemo() {
  for (let i = 0; i < 600; i++) {
    if (server.exitCode !== null) throw new Error(`npm start exited (${server.exitCode})`);
    if (existsSync(join(state, "demo.json"))) {
      const { token } = JSON.parse(readFileSync(join(state, "demo.json"), "utf8"));
      const res = await fetch(`${base}/v1/admin/releases?status=full&limit=1`, {
        headers: { authorization: `Bearer ${token}` },
      }).catch(() => null);
      if (res?.ok && (await res.json()).items.length > 0) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("npm start did not seed the demo in time");
}

async function api(token, method, path, body, type = "application/json") {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": type }) },
    body: body === undefined ? undefined : type === "application/json" ? JSON.stringify(body) : body,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function statusOf(token, releaseId) {
  return (await api(token, "GET", `/v1/admin/releases/${releaseId}`)).status;
}

/** A canary at 5 %, a release waiting for review, events for the full release, and a reviewer. */
async function makeFixture(token) {
  const { items } = await api(token, "GET", "/v1/admin/releases?status=full&limit=1");
  const full = items[0];
  assert.ok(full, "the demo has a full release");
  await api(token, "PATCH", "/v1/admin/workspace", { requireSignedUploads: false });
  const mp = full.miniProgramId;
  const upload = (version) =>
    api(
      token,
      "POST",
      `/v1/admin/mini-programs/${mp}/versions?version=${version}`,
      zipSync({ "index.js": new TextEncoder().encode(`// ${version}`) }),
      "application/zip",
    );
  await upload("9.0.0");
  await upload("9.1.0");
  const release = (version) =>
    api(token, "POST", "/v1/admin/releases", { miniProgramId: mp, version, appId: full.appKey, env: full.env });
  const canary = await release("9.0.0");
  await api(token, "PUT", `/v1/admin/releases/${canary.id}/rollout`, { basisPoints: 500 });
  for (const to of ["in_review", "approved", "canary"])
    await api(token, "POST", `/v1/admin/releases/${canary.id}/transitions`, { to });
  const inReview = await release("9.1.0");
  await api(token, "POST", `/v1/admin/releases/${inReview.id}/transitions`, { to: "in_review" });
  for (let i = 0; i < 4; i++) {
    const at = Date.now();
    const event = (id, type) => ({
      id,
      type,
      miniProgram: full.miniProgramKey,
      version: full.version,
      releaseId: full.id,
      at,
    });
    const res = await fetch(`${base}/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        appId: full.appKey,
        env: full.env,
        deviceId: `browser-${i}`,
        events: [event("d", "download_ok"), event("i", "install_ok")],
      }),
    });
    assert.equal(res.status, 202);
  }
  // Devices check in with the full release installed: the audience sample and the adoption chart
  // get them (the estimate then has devices to count).
  const devices = 40;
  for (let i = 0; i < devices; i++) {
    const res = await fetch(`${base}/v1/check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        appId: full.appKey,
        env: full.env,
        deviceId: `browser-device-${i}`,
        platform: i % 2 ? "ios" : "android",
        miniPrograms: [{ id: full.miniProgramKey, version: full.version }],
      }),
    });
    assert.equal(res.status, 200);
  }
  // Until they are in the audience sample (the demo's own devices may be there too).
  let sampled = 0;
  for (let i = 0; i < 150 && sampled < devices; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 200));
    sampled = (await api(token, "POST", `/v1/admin/releases/${canary.id}/estimate`, { percentage: 600 })).sampled;
  }
  assert.ok(sampled >= devices, `the audience sample holds ${sampled} devices, not the ${devices} that checked`);
  const member = await api(token, "POST", "/v1/admin/members", {
    kind: "service",
    name: "Browser reviewer",
    handle: "browser-reviewer",
    role: "reviewer",
  });
  const issued = await api(token, "POST", "/v1/admin/tokens", { name: "browser", memberId: member.id });
  return {
    canary: canary.id,
    inReview: inReview.id,
    full: full.id,
    miniProgram: full.miniProgramKey,
    sampled,
    reviewerToken: issued.token ?? issued.secret,
  };
}
