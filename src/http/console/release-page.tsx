// The console's release page (docs/console.md): status and timeline, targeting, the rollout with its
// audience estimate before saving, lifecycle actions with confirmation, and the health gate.
import type { AuditEntry } from "../../usecases/ports";
import type { RollbackChoice } from "../../usecases/rollback-release";
import { type ChartData, LineChart } from "./chart";
import { Layout } from "./pages";
import {
  bp,
  EstimateBlock,
  type EstimateView,
  RampSection,
  ROLLBACK_FROM,
  RollbackSection,
  rampOf,
  TargetingSummary,
} from "./release-forms";

export interface ReleaseView {
  id: string;
  rowVersion: number;
  miniProgramId: string;
  version: string;
  status: string;
  appKey: string;
  env: string;
  miniProgramKey: string;
  targeting: Record<string, unknown> | null;
  healthPolicy?: Record<string, unknown> | null;
  /** Under a health gate: the ramp steps committed so far. */
  rampCommitted?: number;
  pausedFrom?: string | null;
}

export interface HealthView {
  last: { verdict: string; reason: string } | null;
  ramp: { committedSteps: number; holding: string | null };
}

/** Lifecycle moves the console offers from each status (the API refuses any other); see actionsFor. */
export const ACTIONS: Record<string, { to: string; label: string }[]> = {
  created: [
    { to: "in_review", label: "Submit for review" },
    { to: "cancelled", label: "Cancel the release" },
  ],
  rejected: [
    { to: "created", label: "Back to draft" },
    { to: "cancelled", label: "Cancel the release" },
  ],
  canary: [
    { to: "paused", label: "Pause" },
    { to: "full", label: "Release to everyone" },
    { to: "ended", label: "End" },
  ],
  full: [
    { to: "paused", label: "Pause" },
    { to: "ended", label: "End" },
  ],
  paused: [{ to: "ended", label: "End" }],
  approved: [
    { to: "canary", label: "Start canary" },
    { to: "full", label: "Release to everyone" },
    { to: "cancelled", label: "Cancel the release" },
  ],
};

/** The moves offered for a release: a paused one continues to the status it was paused from. */
export function actionsFor(r: ReleaseView): { to: string; label: string }[] {
  const moves = ACTIONS[r.status] ?? [];
  return r.status === "paused" && r.pausedFrom ? [{ to: r.pausedFrom, label: "Continue" }, ...moves] : moves;
}

/** Where a percentage means something: a canary, or a release not live yet. */
const ROLLOUT_STATUSES = ["created", "in_review", "approved", "canary", "paused"];

function percentageOf(r: ReleaseView): number {
  return (r.targeting?.percentage as { basisPoints?: number } | undefined)?.basisPoints ?? 0;
}

/** The percentage delivered now: the last ramp step reached (committed, under a gate), else the set one. */
function percentageNow(r: ReleaseView, now: number): number {
  const ramp = rampOf(r);
  const reached = r.healthPolicy ? Math.min(r.rampCommitted ?? 0, ramp.length) : ramp.filter((s) => s.at <= now).length;
  return reached > 0 ? (ramp[reached - 1]?.basisPoints ?? 0) : percentageOf(r);
}

export function ReleasePage(props: {
  release: ReleaseView;
  csrf: string;
  /** The proposed percentage asked for (null: none) and its audience (null: not estimated). */
  basisPoints: number | null;
  estimate: EstimateView | null;
  health: HealthView | null;
  timeline: AuditEntry[] | null;
  notice?: string | undefined;
  /** Whether the actor may change the release (release:write on its mini program): else no forms. */
  mayWrite: boolean;
  /** Hourly charts of the last 24 hours (null: not readable now). */
  charts: { events: ChartData | null; adoption: ChartData | null };
  /** Versions the release's devices could be rolled back to; null: not offered (status or role). */
  rollbackChoices: RollbackChoice[] | null;
  now: number;
}) {
  const r = props.release;
  const actions = props.mayWrite ? actionsFor(r) : [];
  const proposed = props.basisPoints ?? percentageOf(r);
  const markers = (props.timeline ?? []).map((e) => ({ at: e.createdAt, label: `${e.action}${reasonOf(e)}` }));
  return (
    <Layout title={`${r.miniProgramKey} ${r.version}`} signedIn={true} csrf={props.csrf}>
      <h1>
        {`${r.miniProgramKey} ${r.version} `}
        <span class={`pill ${r.status}`}>{r.status}</span>
      </h1>
      <p class="muted">{`${r.appKey} · ${r.env} · ${r.id}`}</p>
      {props.mayWrite && (
        <p>
          <a href={`/console/releases/${r.id}/qr-codes`}>Test QR codes</a>
        </p>
      )}
      {props.notice && <p role="status">{props.notice}</p>}
      {(r.status === "paused" || r.status === "ended") && props.health?.last?.verdict === "breached" && (
        <p class="error" role="alert">{`Halted by its health gate: ${props.health.last.reason}`}</p>
      )}

      {ROLLOUT_STATUSES.includes(r.status) && (
        <section>
          <h2>Rollout</h2>
          <p>{`Percentage now: ${bp(percentageNow(r, props.now))}`}</p>
          {rampOf(r).length > 0 && (
            <p class="muted">
              {`Set before the ramp's first step: ${bp(percentageOf(r))}. The slider changes that; each step then sets its own.`}
            </p>
          )}
          <form method="get" action={`/console/releases/${r.id}`}>
            <label for="basisPoints">Proposed percentage, in basis points (100 = 1 %)</label>
            <input
              id="basisPoints"
              name="basisPoints"
              type="range"
              min="0"
              max="10000"
              step="10"
              value={String(proposed)}
              aria-valuetext={bp(proposed)}
              data-estimate={`/console/releases/${r.id}/estimate`}
            />{" "}
            <output id="basisPoints-value" for="basisPoints">
              {bp(proposed)}
            </output>
            <p>
              <button type="submit">Estimate the audience</button>
            </p>
          </form>
          <div id="estimate">
            <EstimateBlock
              releaseId={r.id}
              rowVersion={r.rowVersion}
              basisPoints={props.basisPoints}
              estimate={props.estimate}
              csrf={props.csrf}
              mayWrite={props.mayWrite}
            />
          </div>
          <p id="estimate-status" class="sr-only" role="status" />
        </section>
      )}
      {ROLLOUT_STATUSES.includes(r.status) && (
        <RampSection release={r} csrf={props.csrf} mayWrite={props.mayWrite} now={props.now} />
      )}

      <h2>Actions</h2>
      {actions.length === 0 ? (
        <p class="muted">
          {!props.mayWrite
            ? "Your role cannot change this release."
            : r.status === "in_review"
              ? "Waiting for a reviewer: see the review queue."
              : "No lifecycle action from this status here."}
        </p>
      ) : (
        <div class="actions">
          {actions.map((a) => (
            <form method="post" action={`/console/releases/${r.id}/transition`}>
              <input type="hidden" name="_csrf" value={props.csrf} />
              <input type="hidden" name="to" value={a.to} />
              <button type="submit">{a.label}</button>
            </form>
          ))}
        </div>
      )}
      {props.rollbackChoices !== null && ROLLBACK_FROM.includes(r.status) && (
        <RollbackSection release={r} csrf={props.csrf} choices={props.rollbackChoices} />
      )}

      <h2>Adoption and failures, last 24 hours</h2>
      {props.charts.events === null ? (
        <p class="muted">Statistics cannot be read right now.</p>
      ) : (
        <LineChart
          title="Offers, installs and failures per hour, with changes marked"
          {...props.charts.events}
          markers={markers}
        />
      )}
      {props.charts.adoption === null ? (
        <p class="muted">Installed versions cannot be read right now.</p>
      ) : (
        <LineChart
          title={`Devices that checked in each hour on ${r.version} and on other versions of ${r.miniProgramKey}`}
          {...props.charts.adoption}
          markers={markers}
        />
      )}

      <h2>Health gate</h2>
      {props.health === null || !r.healthPolicy ? (
        <p class="muted">No health gate.</p>
      ) : (
        <div>
          <p>{policySummary(r.healthPolicy)}</p>
          <p>{props.health.last ? `${props.health.last.verdict}: ${props.health.last.reason}` : "Not judged yet."}</p>
          <p>{`Ramp steps committed: ${props.health.ramp.committedSteps}`}</p>
          {props.health.ramp.holding && <p class="error">{props.health.ramp.holding}</p>}
        </div>
      )}

      <h2>Targeting</h2>
      <TargetingSummary targeting={r.targeting} />

      <h2>Timeline</h2>
      {props.timeline === null ? (
        <p class="muted">Reading the audit log needs the audit:read permission.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When (UTC)</th>
              <th scope="col">What</th>
              <th scope="col">Who</th>
            </tr>
          </thead>
          <tbody>
            {props.timeline.map((e) => (
              <tr>
                <td>{new Date(e.createdAt).toISOString().replace("T", " ").slice(0, 19)}</td>
                <td>{`${e.action}${reasonOf(e)}`}</td>
                <td>{e.actorMemberId}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}

/** A health policy in words: its threshold, what it does, and when it judges. */
function policySummary(p: Record<string, unknown>): string {
  const n = (k: string) => (typeof p[k] === "number" ? (p[k] as number) : 0);
  return (
    `${p.action === "end" ? "Ends the release" : p.action === "notify" ? "Notifies the workspace" : "Pauses the release"} when its failure rate is over ` +
    `${bp(n("failureRateBasisPoints"))} with ${Math.round(Number(p.confidence ?? 0.95) * 100)} % confidence, ` +
    `over the last ${Math.round(n("windowMs") / 60_000)} minutes, once there are ${n("minAttempts")} attempts ` +
    `and ${n("minFailures")} failures.`
  );
}

function reasonOf(e: AuditEntry): string {
  const reason = (e.after as { reason?: unknown } | null)?.reason;
  const to = (e.after as { status?: unknown } | null)?.status;
  return `${typeof to === "string" ? ` → ${to}` : ""}${typeof reason === "string" && reason ? ` (${reason})` : ""}`;
}

export function ConfirmPage(props: { release: ReleaseView; csrf: string; to: string; label: string }) {
  const r = props.release;
  return (
    <Layout title="Confirm" signedIn={true} csrf={props.csrf}>
      <h1>{`${props.label}: ${r.miniProgramKey} ${r.version}?`}</h1>
      <p>{`${r.appKey} · ${r.env}. Devices see the change within seconds.`}</p>
      <form method="post" action={`/console/releases/${r.id}/transition`}>
        <input type="hidden" name="_csrf" value={props.csrf} />
        <input type="hidden" name="to" value={props.to} />
        <input type="hidden" name="confirmed" value="yes" />
        <label for="reason">Reason (kept in the audit log)</label>
        <input id="reason" name="reason" type="text" maxlength={500} />
        <p>
          <button type="submit">{`Yes, ${props.label.toLowerCase()}`}</button>{" "}
          <a href={`/console/releases/${r.id}`}>Cancel</a>
        </p>
      </form>
    </Layout>
  );
}

/** Field errors an error page lists (a long list of bad lines is cut). */
const SHOWN_ERRORS = 20;

export function ErrorPage(props: {
  status: number;
  title: string;
  detail: string;
  errors?: { pointer: string; message: string }[];
  signedIn: boolean;
}) {
  const errors = props.errors ?? [];
  return (
    <Layout title={props.title} signedIn={props.signedIn}>
      <h1>{props.title}</h1>
      <p class="error" role="alert">
        {props.detail}
      </p>
      {errors.length > 0 && (
        <ul class="field-errors">
          {errors.slice(0, SHOWN_ERRORS).map((e) => (
            <li>{`${e.pointer}: ${e.message}`}</li>
          ))}
          {errors.length > SHOWN_ERRORS && <li>{`… and ${errors.length - SHOWN_ERRORS} more`}</li>}
        </ul>
      )}
      <p>
        <a href="/console">Back to the overview</a>
      </p>
    </Layout>
  );
}

export interface ReviewItem {
  id: string;
  miniProgramKey: string;
  version: string;
  appKey: string;
  env: string;
  submittedBy: string | null;
  mayReview: boolean;
}

/** Releases waiting for review, each with approve and reject (a rejection needs a reason). */
export function ReviewPage(props: { items: ReviewItem[]; csrf: string; notice?: string | undefined }) {
  return (
    <Layout title="Review queue" signedIn={true} csrf={props.csrf} current="/console/reviews">
      <h1>Review queue</h1>
      {props.notice && <p role="status">{props.notice}</p>}
      {props.items.length === 0 && <p class="muted">Nothing is waiting for review.</p>}
      {props.items.map((r) => (
        <section>
          <h2 id={`review-${r.id}`}>
            <a href={`/console/releases/${r.id}`}>{`${r.miniProgramKey} ${r.version}`}</a>{" "}
            <span class="muted">{`${r.appKey} · ${r.env}, submitted by ${r.submittedBy ?? "unknown"}`}</span>
          </h2>
          {r.mayReview ? (
            <div>
              <form method="post" action={`/console/releases/${r.id}/transition`}>
                <input type="hidden" name="_csrf" value={props.csrf} />
                <input type="hidden" name="to" value="approved" />
                <input type="hidden" name="confirmed" value="yes" />
                <input type="hidden" name="back" value="reviews" />
                <button type="submit" aria-describedby={`review-${r.id}`}>
                  Approve
                </button>
              </form>
              <form method="post" action={`/console/releases/${r.id}/transition`}>
                <input type="hidden" name="_csrf" value={props.csrf} />
                <input type="hidden" name="to" value="rejected" />
                <input type="hidden" name="confirmed" value="yes" />
                <input type="hidden" name="back" value="reviews" />
                <label for={`reason-${r.id}`}>Reason for rejecting</label>
                <input
                  id={`reason-${r.id}`}
                  name="reason"
                  type="text"
                  maxlength={500}
                  required
                  aria-describedby={`review-${r.id}`}
                />
                <button type="submit" aria-describedby={`review-${r.id}`}>
                  Reject
                </button>
              </form>
            </div>
          ) : (
            <p class="muted">Your role cannot review this release.</p>
          )}
        </section>
      ))}
    </Layout>
  );
}

export interface ExplainFields {
  appId: string;
  env: string;
  deviceId: string;
  userId: string;
  platform: string;
  appVersion: string;
  osVersion: string;
  brand: string;
  miniPrograms: string;
}

export interface ExplainResult {
  id: string;
  action: string;
  reason: string;
  version?: string;
  releases: {
    releaseId: string;
    version: string;
    status: string;
    reason: string;
    targeting?: { step: string; reason: string; failedRule?: { index: number; attribute: string; reason: string } };
  }[];
}

const EXPLAIN_LABELS: [keyof ExplainFields, string][] = [
  ["appId", "App (key or id)"],
  ["env", "Environment"],
  ["deviceId", "Device id"],
  ["userId", "User id (optional)"],
  ["platform", "Platform (ios, android, harmony)"],
  ["appVersion", "Host app version"],
  ["osVersion", "OS version"],
  ["brand", "Brand"],
  ["miniPrograms", "Mini programs: keys, each optionally key@installed-version, separated by commas"],
];

/** Build a device profile and see, per mini program, what it would get and why (nothing is admitted). */
export function ExplainPage(props: {
  fields: ExplainFields;
  /** A pasted check request, shown back in its field. */
  pasted: string;
  csrf: string;
  results: ExplainResult[] | null;
}) {
  return (
    <Layout title="Explain a device" signedIn={true} csrf={props.csrf} current="/console/explain">
      <h1>Explain a device</h1>
      <form method="post" action="/console/explain">
        <input type="hidden" name="_csrf" value={props.csrf} />
        <label for="explain-request">Paste a check request: the JSON a device sends to /v1/check</label>
        <textarea id="explain-request" name="request" rows={6} required>
          {props.pasted}
        </textarea>
        <p>
          <button type="submit">Explain this request</button>
        </p>
      </form>
      <h2>Or build a device profile</h2>
      <form method="get" action="/console/explain">
        {EXPLAIN_LABELS.map(([name, label]) => (
          <div>
            <label for={`explain-${name}`}>{label}</label>
            <input id={`explain-${name}`} name={name} type="text" value={props.fields[name]} />
          </div>
        ))}
        <p>
          <button type="submit">Explain</button>
        </p>
      </form>
      {props.results?.map((r) => (
        <section>
          <h2>{`${r.id}: ${r.action}${r.version ? ` ${r.version}` : ""} (${r.reason})`}</h2>
          {r.releases.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Release</th>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Why</th>
                </tr>
              </thead>
              <tbody>
                {r.releases.map((t) => (
                  <tr>
                    <td>
                      <a href={`/console/releases/${t.releaseId}`}>{t.releaseId}</a>
                    </td>
                    <td>{t.version}</td>
                    <td>{t.status}</td>
                    <td>
                      {t.reason}
                      {t.targeting &&
                        ` · ${t.targeting.step}: ${t.targeting.reason}` +
                          (t.targeting.failedRule
                            ? ` (rule ${t.targeting.failedRule.index + 1}, ${t.targeting.failedRule.attribute}: ${t.targeting.failedRule.reason})`
                            : "")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      ))}
    </Layout>
  );
}

export interface QrCodeItem {
  id: string;
  kind: string;
  pagePath: string;
  query: Record<string, string>;
  link: string | null;
  expiresAt: number | null;
}

/** A release's test QR codes (docs/preview.md): each drawn as an image, with its link. */
export function QrCodesPage(props: {
  release: ReleaseView;
  codes: QrCodeItem[];
  csrf: string;
  mayWrite: boolean;
  notice?: string | undefined;
}) {
  const r = props.release;
  return (
    <Layout title={`Test QR codes · ${r.miniProgramKey} ${r.version}`} signedIn={true} csrf={props.csrf}>
      <h1>
        {"Test QR codes of "}
        <a href={`/console/releases/${r.id}`}>{`${r.miniProgramKey} ${r.version}`}</a>
      </h1>
      {props.notice && <p role="status">{props.notice}</p>}
      {props.codes.length === 0 && <p class="muted">This release has no test QR code.</p>}
      {props.codes.map((code) => (
        <section>
          <h2>{`${code.kind === "default" ? "Default" : "Custom"}: ${code.pagePath}`}</h2>
          {code.link === null ? (
            <p class="muted">{`A ${r.status} release cannot be previewed: codes work while it is created, in review or approved.`}</p>
          ) : (
            <div>
              <img
                src={`/console/releases/${r.id}/qr-codes/${code.id}/image.svg`}
                alt={`QR code opening ${code.pagePath}`}
                width="200"
                height="200"
              />
              <p>
                <a href={code.link}>{code.link}</a>
              </p>
              {code.expiresAt !== null && (
                <p class="muted">{`The link works until ${new Date(code.expiresAt).toISOString().slice(0, 16).replace("T", " ")} UTC.`}</p>
              )}
            </div>
          )}
        </section>
      ))}
      {props.mayWrite && (
        <form method="post" action={`/console/releases/${r.id}/qr-codes`}>
          <input type="hidden" name="_csrf" value={props.csrf} />
          <h2>Add a code for a page</h2>
          <label for="pagePath">Page path</label>
          <input id="pagePath" name="pagePath" type="text" required maxlength={256} />
          <label for="query">Query (optional, as a=1&amp;b=2)</label>
          <input id="query" name="query" type="text" maxlength={1000} />
          <p>
            <button type="submit">Add</button>
          </p>
        </form>
      )}
    </Layout>
  );
}
