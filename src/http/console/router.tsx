// The SRE console under /console (docs/console.md): server-rendered pages over the same use cases as
// the admin API, behind a session cookie, with a strict Content-Security-Policy (no inline script or
// style) and a CSRF token in every form.
import { Hono } from "hono";
import { AppError } from "../../domain/errors";
import { looksLikeId } from "../../domain/keys";
import { can } from "../../domain/permissions";
import { REQUESTABLE_STATUSES, type RequestableStatus } from "../../domain/release-status";
import { authenticate } from "../../usecases/authenticate";
import { consoleOverview } from "../../usecases/console-overview";
import { estimateAudience } from "../../usecases/estimate-audience";
import { explainDevice } from "../../usecases/explain-device";
import { releaseHealth } from "../../usecases/health-gates";
import { listAudit } from "../../usecases/list-audit";
import { getRelease, listReleases } from "../../usecases/list-releases";
import { createAllowlist, listAllowlists, uploadAllowlistEntries } from "../../usecases/manage-allowlists";
import { createQrCode, getQrCode, listQrCodes, qrCodeImage } from "../../usecases/manage-qr-codes";
import type { Deps, Context as UseCaseContext } from "../../usecases/ports";
import { installedVersions, releaseStats } from "../../usecases/release-stats";
import { createRollbackRelease, rollbackChoices } from "../../usecases/rollback-release";
import { setReleaseRollout } from "../../usecases/set-release-targeting";
import { transitionRelease } from "../../usecases/transition-release";
import { decodeEntries, LIST_BODY_LIMIT, LIST_NAME, readEntries } from "../admin/allowlists";
import { CreateQrCode } from "../admin/qr-codes";
import { ctxOf } from "../auth";
import { requestOrigin } from "../client/check";
import { parseCheckRequest } from "../client/check-request";
import { clientOf } from "../operator";
import { errorResponse, PROBLEMS } from "../problem";
import { fieldErrors } from "../validate";
import { assertConsoleAccess, consoleAccessOf } from "./access";
import { AllowlistsPage } from "./allowlists-page";
import { adoptionChart, eventsChart } from "./chart";
import { OverviewPage, SignInPage } from "./pages";
import { EstimateBlock, type EstimateView, parseRampForm, ROLLBACK_FROM, RollbackConfirmPage } from "./release-forms";
import {
  actionsFor,
  ConfirmPage,
  ErrorPage,
  ExplainPage,
  type ExplainResult,
  QrCodesPage,
  ReleasePage,
  type ReleaseView,
  ReviewPage,
} from "./release-page";
import { CONSOLE_JS } from "./script";
import {
  type ConsoleEnv,
  checkCsrf,
  checkCsrfHeader,
  consoleAuth,
  csrfToken,
  endSession,
  safeNext,
  startSession,
} from "./session";
import { CONSOLE_CSS } from "./style";

/** Every console response's policy: only this origin's scripts, styles and forms; never framed. */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Largest console form body (bytes). */
const FORM_LIMIT = 64 * 1024;
/** The allowlist upload: a raw body (the script's) as large as the admin API takes, a plain multipart form less. */
const UPLOAD_PATH = "/console/allowlists/upload";
const MULTIPART_UPLOAD_LIMIT = 16 * 1024 * 1024;

export const consoleRouter = new Hono<ConsoleEnv>();

consoleRouter.use("*", async (c, next) => {
  await next();
  c.header("content-security-policy", CONSOLE_CSP);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "same-origin");
  if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
});

// Form posts from another origin are refused (403) before anything else, sign-in included (login
// CSRF); on top of that every form after sign-in carries the session's CSRF token.
consoleRouter.use("*", async (c, next) => {
  if (c.req.method === "POST") {
    const origin = c.req.header("origin");
    const site = c.req.header("sec-fetch-site");
    if ((origin !== undefined && origin !== new URL(c.req.url).origin) || site === "cross-site") {
      return c.text("Cross-site form posts are refused.", 403);
    }
    // Console forms are a few fields: a body without a length, or over 64 KiB, is not read (an
    // allowlist upload has its own bounds).
    const length = Number(c.req.header("content-length") ?? Number.NaN);
    const raw = (c.req.header("content-type") ?? "").toLowerCase().startsWith("text/plain");
    const limit =
      new URL(c.req.url).pathname !== UPLOAD_PATH ? FORM_LIMIT : raw ? LIST_BODY_LIMIT : MULTIPART_UPLOAD_LIMIT;
    if (!(length <= limit)) {
      return c.text(
        limit === MULTIPART_UPLOAD_LIMIT
          ? "Without JavaScript a file of at most 16 MiB can be uploaded here; a larger one with JavaScript on, or the admin API."
          : "The form is too large.",
        413,
      );
    }
  }
  await next();
});

consoleRouter.get("/assets/console.css", (c) =>
  c.body(CONSOLE_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "public, max-age=3600" }),
);

consoleRouter.get("/assets/console.js", (c) =>
  c.body(CONSOLE_JS, 200, {
    "content-type": "text/javascript; charset=utf-8",
    "cache-control": "public, max-age=3600",
  }),
);

consoleRouter.get("/sign-in", (c) =>
  c.html(
    <SignInPage
      notice={c.req.query("expired") ? "Your session ended: sign in again." : undefined}
      next={safeNext(c.req.query("next"))}
    />,
  ),
);

consoleRouter.post("/sign-in", async (c) => {
  const form = await c.req.parseBody();
  const token = typeof form.token === "string" ? form.token.trim() : "";
  try {
    const actor = await authenticate(c.var.deps, token, clientOf(c.req.header.bind(c.req)));
    startSession(c, token, actor, c.var.deps.clock.now());
    return c.redirect(safeNext(typeof form.next === "string" ? form.next : null) ?? "/console", 303);
  } catch (error) {
    if (error instanceof AppError && (error.code === "UNAUTHENTICATED" || error.code === "RATE_LIMITED")) {
      const message =
        error.code === "RATE_LIMITED"
          ? "Too many failed attempts from this address: wait a few minutes."
          : "That token is not valid (unknown, revoked or expired).";
      const next = safeNext(typeof form.next === "string" ? form.next : null);
      return c.html(<SignInPage error={message} next={next} />, error.code === "RATE_LIMITED" ? 429 : 401);
    }
    throw error;
  }
});

// Every route but the public ones needs a session, then the permission its table entry names
// (console/access.ts; default deny).
consoleRouter.use("/*", async (c, next) => {
  const access = consoleAccessOf(c, c.req.method);
  if (access === "public" || access === undefined) return next();
  return consoleAuth(c, async () => {
    assertConsoleAccess(c, access);
    await next();
  });
});

consoleRouter.post("/sign-out", async (c) => {
  await checkCsrf(c);
  endSession(c);
  return c.redirect("/console/sign-in", 303);
});

consoleRouter.get("/", async (c) => {
  const targets = await consoleOverview(c.var.deps, ctxOf(c));
  return c.html(<OverviewPage targets={targets} csrf={csrfToken(c)} />);
});

consoleRouter.get("/releases/:releaseId", async (c) => {
  const deps = c.var.deps;
  const ctx = ctxOf(c);
  const id = c.req.param("releaseId");
  const release = (await getRelease(deps, ctx, id)) as ReleaseView;
  const basisPoints = basisPointsOf(c.req.query("basisPoints"));
  const mayCreate = ROLLBACK_FROM.includes(release.status) && can(c.var.actor, "release:create", release.miniProgramId);
  const [estimate, choices, health, timeline, stats, installed] = await Promise.all([
    basisPoints === null ? null : estimateView(deps, ctx, id, basisPoints),
    mayCreate ? rollbackChoices(deps, ctx, id).catch(() => null) : null,
    release.healthPolicy ? releaseHealth(deps, ctx, id).catch(() => null) : null,
    listAudit(deps, ctx, { resourceId: id }, null, 50).then(
      (page) => page.items,
      () => null,
    ),
    releaseStats(deps, ctx, id, { step: "hour" }).catch(() => null),
    installedVersions(deps, ctx, release.miniProgramId, { appId: release.appKey, env: release.env }).catch(() => null),
  ]);
  const charts = {
    events: stats === null ? null : eventsChart(stats),
    adoption: installed === null ? null : adoptionChart(installed, release.version),
  };
  const notice = c.req.query("saved")
    ? "Saved."
    : c.req.query("moved")
      ? "Done."
      : c.req.query("created") === "rollback"
        ? "Rollback release created: submit it for review; once approved, release it to everyone (or as a canary)."
        : undefined;
  return c.html(
    <ReleasePage
      release={release}
      csrf={csrfToken(c)}
      basisPoints={basisPoints}
      estimate={estimate}
      health={health}
      timeline={timeline}
      notice={notice}
      mayWrite={can(c.var.actor, "release:write", release.miniProgramId)}
      charts={charts}
      rollbackChoices={choices}
      now={deps.clock.now()}
    />,
  );
});

/** The estimate block alone, for the slider's script (the page itself renders the same block). */
consoleRouter.get("/releases/:releaseId/estimate", async (c) => {
  const id = c.req.param("releaseId");
  const basisPoints = basisPointsOf(c.req.query("basisPoints"));
  if (basisPoints === null) throw new AppError("VALIDATION_FAILED", "basisPoints must be 0 to 10,000.");
  const release = await getRelease(c.var.deps, ctxOf(c), id);
  return c.html(
    <EstimateBlock
      releaseId={id}
      rowVersion={release.rowVersion}
      basisPoints={basisPoints}
      estimate={await estimateView(c.var.deps, ctxOf(c), id, basisPoints)}
      csrf={csrfToken(c)}
      mayWrite={can(c.var.actor, "release:write", release.miniProgramId)}
    />,
  );
});

function basisPointsOf(asked: string | undefined): number | null {
  return asked !== undefined && /^\d{1,5}$/.test(asked) && Number(asked) <= 10_000 ? Number(asked) : null;
}

/** The audience at a proposed percentage (null when it cannot be estimated now). */
function estimateView(deps: Deps, ctx: UseCaseContext, id: string, basisPoints: number): Promise<EstimateView | null> {
  return estimateAudience(deps, ctx, id, { percentage: basisPoints }).then(
    (e) => ({
      basisPoints,
      sampled: e.sampled,
      exact: e.exact,
      current: e.current.devices,
      proposed: e.proposed.devices,
      more: e.more.devices,
      standardError: e.more.standardError,
    }),
    () => null,
  );
}

consoleRouter.post("/releases/:releaseId/rollout", async (c) => {
  const form = await checkCsrf(c);
  const id = c.req.param("releaseId");
  const basisPoints = Number(form.basisPoints);
  if (!Number.isInteger(basisPoints) || basisPoints < 0 || basisPoints > 10_000) {
    throw new AppError("VALIDATION_FAILED", "The percentage must be 0 to 10,000 basis points.");
  }
  const release = await getRelease(c.var.deps, ctxOf(c), id);
  assertUnchanged(release, form);
  const current = (release.targeting?.percentage ?? {}) as { ramp?: { at: number; basisPoints: number }[] };
  await setReleaseRollout(c.var.deps, ctxOf(c), id, { ...current, basisPoints });
  return c.redirect(`/console/releases/${id}?saved=1`, 303);
});

/**
 * A form that edits what the page showed carries the release's row version: a release changed
 * since (by someone else) is a CONFLICT, not silently overwritten.
 */
function assertUnchanged(release: { rowVersion: number }, form: Record<string, string>): void {
  if (form.rowVersion !== undefined && form.rowVersion !== String(release.rowVersion)) {
    throw new AppError(
      "CONFLICT",
      "The release changed since this page was loaded (someone else saved): reload it, check, and retry.",
    );
  }
}

consoleRouter.post("/releases/:releaseId/ramp", async (c) => {
  const form = await checkCsrf(c);
  const id = c.req.param("releaseId");
  const parsed = parseRampForm(form);
  if (!parsed.ok) throw new AppError("VALIDATION_FAILED", parsed.message);
  const release = await getRelease(c.var.deps, ctxOf(c), id);
  assertUnchanged(release, form);
  const basisPoints = (release.targeting?.percentage as { basisPoints?: number } | undefined)?.basisPoints ?? 0;
  await setReleaseRollout(c.var.deps, ctxOf(c), id, {
    basisPoints,
    ...(parsed.ramp.length > 0 ? { ramp: parsed.ramp } : {}),
  });
  return c.redirect(`/console/releases/${id}?saved=1`, 303);
});

consoleRouter.post("/releases/:releaseId/rollback", async (c) => {
  const form = await checkCsrf(c);
  const id = c.req.param("releaseId");
  const version = (form.version ?? "").trim();
  const release = (await getRelease(c.var.deps, ctxOf(c), id)) as ReleaseView;
  if (!can(c.var.actor, "release:create", release.miniProgramId)) {
    throw new AppError("FORBIDDEN", "Your role cannot create releases of this mini program.");
  }
  if (form.confirmed !== "yes") {
    const choice = (await rollbackChoices(c.var.deps, ctxOf(c), id)).find((v) => v.version === version);
    if (choice === undefined) throw new AppError("VALIDATION_FAILED", "That version cannot be rolled back to here.");
    return c.html(<RollbackConfirmPage release={release} csrf={csrfToken(c)} choice={choice} />);
  }
  const created = await createRollbackRelease(c.var.deps, ctxOf(c), id, version);
  return c.redirect(`/console/releases/${created.id}?created=rollback`, 303);
});

consoleRouter.post("/releases/:releaseId/transition", async (c) => {
  const form = await checkCsrf(c);
  const id = c.req.param("releaseId");
  const to = form.to ?? "";
  if (!(REQUESTABLE_STATUSES as readonly string[]).includes(to)) {
    throw new AppError("VALIDATION_FAILED", "That is not a status a release can be moved to.");
  }
  if (form.confirmed !== "yes") {
    const release = (await getRelease(c.var.deps, ctxOf(c), id)) as ReleaseView;
    const label = actionsFor(release).find((a) => a.to === to)?.label ?? to;
    return c.html(<ConfirmPage release={release} csrf={csrfToken(c)} to={to} label={label} />);
  }
  const reason = (form.reason ?? "").trim().slice(0, 500);
  await transitionRelease(c.var.deps, ctxOf(c), { releaseId: id, to: to as RequestableStatus, reason: reason || null });
  return c.redirect(form.back === "reviews" ? "/console/reviews?done=1" : `/console/releases/${id}?moved=1`, 303);
});

consoleRouter.get("/reviews", async (c) => {
  const actor = c.var.actor;
  const waiting = await listReleases(c.var.deps, ctxOf(c), { status: "in_review" });
  const items = waiting.map((r) => ({
    id: r.id,
    miniProgramKey: r.miniProgramKey,
    version: r.version,
    appKey: r.appKey,
    env: r.env,
    submittedBy: r.submittedBy,
    mayReview: can(actor, "release:review", r.miniProgramId),
  }));
  return c.html(<ReviewPage items={items} csrf={csrfToken(c)} notice={c.req.query("done") ? "Done." : undefined} />);
});

consoleRouter.get("/explain", async (c) => {
  const q = (name: string) => (c.req.query(name) ?? "").trim();
  const fields = {
    appId: q("appId"),
    env: q("env") || "prod",
    deviceId: q("deviceId"),
    userId: q("userId"),
    platform: q("platform"),
    appVersion: q("appVersion"),
    osVersion: q("osVersion"),
    brand: q("brand"),
    miniPrograms: q("miniPrograms"),
  };
  let results: ExplainResult[] | null = null;
  if (fields.appId && fields.deviceId && fields.miniPrograms) {
    // Validated exactly as a device check is (the same parser), then explained without admitting.
    const orNull = (v: string) => (v === "" ? null : v);
    const input = parseCheckRequest(
      JSON.stringify({
        appId: fields.appId,
        env: fields.env,
        deviceId: fields.deviceId,
        userId: orNull(fields.userId),
        platform: orNull(fields.platform),
        appVersion: orNull(fields.appVersion),
        osVersion: orNull(fields.osVersion),
        brand: orNull(fields.brand),
        miniPrograms: fields.miniPrograms
          .split(",")
          .map((m) => m.trim())
          .filter((m) => m !== "")
          .map((m) => {
            const [id, version] = m.split("@");
            return { id, version: version ?? null };
          }),
      }),
    );
    const explained = await explainDevice(c.var.deps, ctxOf(c), input, requestOrigin(c.req.raw));
    results = explained.results as ExplainResult[];
  }
  return c.html(<ExplainPage fields={fields} pasted="" csrf={csrfToken(c)} results={results} />);
});

/** A pasted check request (the JSON a device sends, say from its logs), explained as it stands. */
consoleRouter.post("/explain", async (c) => {
  const form = await checkCsrf(c);
  const pasted = (form.request ?? "").trim();
  const input = parseCheckRequest(pasted);
  const explained = await explainDevice(c.var.deps, ctxOf(c), input, requestOrigin(c.req.raw));
  const fields = {
    appId: input.appId,
    env: input.env,
    deviceId: input.deviceId,
    userId: input.userId ?? "",
    platform: input.platform ?? "",
    appVersion: input.appVersion ?? "",
    osVersion: input.osVersion ?? "",
    brand: input.brand ?? "",
    miniPrograms: input.miniPrograms.map((m) => (m.version ? `${m.id}@${m.version}` : m.id)).join(", "),
  };
  return c.html(
    <ExplainPage fields={fields} pasted={pasted} csrf={csrfToken(c)} results={explained.results as ExplainResult[]} />,
  );
});

consoleRouter.get("/releases/:releaseId/qr-codes", async (c) => {
  const deps = c.var.deps;
  const ctx = ctxOf(c);
  const id = c.req.param("releaseId");
  const release = (await getRelease(deps, ctx, id)) as ReleaseView;
  const records = await listQrCodes(deps, ctx, id);
  const codes = await Promise.all(records.map((r) => getQrCode(deps, ctx, id, r.id)));
  return c.html(
    <QrCodesPage
      release={release}
      codes={codes}
      csrf={csrfToken(c)}
      mayWrite={can(c.var.actor, "release:write", release.miniProgramId)}
      notice={c.req.query("added") ? "Added." : undefined}
    />,
  );
});

consoleRouter.get("/releases/:releaseId/qr-codes/:codeId/image.svg", async (c) => {
  const svg = await qrCodeImage(c.var.deps, ctxOf(c), c.req.param("releaseId"), c.req.param("codeId"), "svg", 4);
  return c.body(svg as string, 200, { "content-type": "image/svg+xml", "cache-control": "private, no-store" });
});

consoleRouter.post("/releases/:releaseId/qr-codes", async (c) => {
  const form = await checkCsrf(c);
  const id = c.req.param("releaseId");
  // Validated by the admin API's own schema (page path and parameter names, at most 20 of them).
  const parsed = CreateQrCode.safeParse({
    kind: "custom",
    pagePath: (form.pagePath ?? "").trim(),
    query: Object.fromEntries(new URLSearchParams(form.query ?? "")),
  });
  if (!parsed.success) throw new AppError("VALIDATION_FAILED", "The code is not valid.", fieldErrors(parsed.error));
  await createQrCode(c.var.deps, ctxOf(c), id, parsed.data);
  return c.redirect(`/console/releases/${id}/qr-codes?added=1`, 303);
});

consoleRouter.get("/allowlists", async (c) => {
  const lists = await listAllowlists(c.var.deps, ctxOf(c));
  const uploaded = lists.find((l) => l.id === c.req.query("uploaded"));
  const created = lists.find((l) => l.id === c.req.query("created"));
  const notice = uploaded
    ? `Uploaded: ${uploaded.name} now holds ${uploaded.exactCount.toLocaleString("en")} ids` +
      `${uploaded.regexEntries?.length ? ` and ${uploaded.regexEntries.length} pattern${uploaded.regexEntries.length === 1 ? "" : "s"}` : ""}.`
    : created
      ? `Created ${created.name}: upload its entries.`
      : undefined;
  return c.html(
    <AllowlistsPage
      lists={lists}
      csrf={csrfToken(c)}
      mayWrite={can(c.var.actor, "allowlist:write")}
      selected={(uploaded ?? created)?.id ?? null}
      notice={notice}
    />,
  );
});

consoleRouter.post("/allowlists", async (c) => {
  const form = await checkCsrf(c);
  const kind = form.kind === "device" ? "device" : "user";
  const name = (form.name ?? "").trim();
  if (!LIST_NAME.test(name) || looksLikeId(name)) {
    throw new AppError(
      "VALIDATION_FAILED",
      "A list's name is 1-100 letters, digits, dots, dashes or underscores, not starting like an id (al_…).",
    );
  }
  const list = await createAllowlist(c.var.deps, ctxOf(c), { name, kind });
  return c.redirect(`/console/allowlists?created=${list.id}`, 303);
});

// The upload: a plain multipart form (file, list, mode), or the script's raw text/plain body with
// the list and mode in the query and the CSRF token in a header (console.js, for the progress bar).
consoleRouter.post("/allowlists/upload", async (c) => {
  let fields: Record<string, string>;
  let readBody: () => Promise<string>;
  if ((c.req.header("content-type") ?? "").toLowerCase().startsWith("text/plain")) {
    checkCsrfHeader(c);
    fields = { list: c.req.query("list") ?? "", mode: c.req.query("mode") ?? "" };
    readBody = () => readEntries(c.req.raw);
  } else {
    fields = await checkCsrf(c);
    const file = (await c.req.parseBody()).file;
    if (!(file instanceof File)) throw new AppError("VALIDATION_FAILED", "Choose a file to upload.");
    readBody = async () => decodeEntries(new Uint8Array(await file.arrayBuffer()));
  }
  const mode = fields.mode === "append" ? "append" : fields.mode === "replace" ? "replace" : null;
  if (mode === null)
    throw new AppError("VALIDATION_FAILED", "Say whether the file replaces the entries or adds to them.");
  const list = await uploadAllowlistEntries(c.var.deps, ctxOf(c), { idOrName: fields.list ?? "", mode, readBody });
  return c.redirect(`/console/allowlists?uploaded=${list.id}`, 303);
});

consoleRouter.onError((error, c) => {
  if (!(error instanceof AppError)) return errorResponse(error, c.var.requestId ?? "unknown");
  const { status, title } = PROBLEMS[error.code];
  c.header("content-security-policy", CONSOLE_CSP);
  return c.html(
    <ErrorPage status={status} title={title} detail={error.message} errors={error.errors ?? []} signedIn={true} />,
    status,
  );
});
