// Parts of the console's release page (docs/console.md): the audience estimate (also served alone,
// for the slider's script), the ramp schedule and its editor, and rolling back.
import type { RollbackChoice } from "../../usecases/rollback-release";
import { Layout } from "./pages";
import type { ReleaseView } from "./release-page";

export interface EstimateView {
  basisPoints: number;
  sampled: number;
  exact: boolean;
  current: number;
  proposed: number;
  more: number;
  standardError: number;
}

export const bp = (n: number) => `${n / 100} %`;

/**
 * The audience at a proposed percentage, with the form that saves it (the slider's script swaps the
 * block in). The save form is there whenever a percentage is proposed, estimated or not: an
 * estimate that cannot be made (statistics unreachable) never blocks setting a percentage.
 */
export function EstimateBlock(props: {
  releaseId: string;
  rowVersion: number;
  basisPoints: number | null;
  estimate: EstimateView | null;
  csrf: string;
  mayWrite: boolean;
}) {
  if (props.basisPoints === null) {
    return <p class="muted">Move the slider: the audience at that percentage shows here before you save it.</p>;
  }
  const e = props.estimate;
  return (
    <div>
      <p>
        {e === null
          ? `The audience at ${bp(props.basisPoints)} cannot be estimated right now; it can still be saved.`
          : `At ${bp(e.basisPoints)}: about ${e.proposed} devices (today ${e.current}, ` +
            `${e.more >= 0 ? "+" : ""}${e.more}; ±${e.standardError}) ` +
            `of ${e.sampled} devices ${e.exact ? "seen" : "sampled"} in the last 7 days.`}
      </p>
      {props.mayWrite && (
        <form method="post" action={`/console/releases/${props.releaseId}/rollout`}>
          <input type="hidden" name="_csrf" value={props.csrf} />
          <input type="hidden" name="rowVersion" value={String(props.rowVersion)} />
          <input type="hidden" name="basisPoints" value={String(props.basisPoints)} />
          <button type="submit">{`Save ${bp(props.basisPoints)}`}</button>
        </form>
      )}
    </div>
  );
}

export interface RampStep {
  at: number;
  basisPoints: number;
}

export function rampOf(r: ReleaseView): RampStep[] {
  const ramp = (r.targeting?.percentage as { ramp?: RampStep[] } | undefined)?.ramp;
  return Array.isArray(ramp) ? ramp : [];
}

/** `2026-12-04T13:05` (UTC), the value of a datetime-local input. */
export function utcMinute(at: number): string {
  return new Date(at).toISOString().slice(0, 16);
}

/** Rows the editor shows below the schedule's steps, for new ones. */
export const BLANK_RAMP_ROWS = 3;
/** The most steps a ramp may have (the API's bound). */
export const MAX_RAMP_STEPS = 100;

/**
 * The phased ramp: each step's time and percentage and whether it applies yet (under a health gate,
 * a due step applies only once the gate commits it), then an editor with a row per step and blank
 * rows to add more; a row left empty is removed.
 */
export function RampSection(props: { release: ReleaseView; csrf: string; mayWrite: boolean; now: number }) {
  const r = props.release;
  const ramp = rampOf(r);
  const gated = Boolean(r.healthPolicy);
  const state = (s: RampStep, i: number) =>
    gated
      ? i < (r.rampCommitted ?? 0)
        ? "committed"
        : s.at <= props.now
          ? "due: held until the gate finds the canary healthy"
          : "scheduled"
      : s.at <= props.now
        ? "reached"
        : "scheduled";
  const rows = Math.min(MAX_RAMP_STEPS, ramp.length + BLANK_RAMP_ROWS);
  return (
    <section>
      <h2>Ramp schedule</h2>
      {ramp.length === 0 ? (
        <p class="muted">No ramp: the percentage stays where it is set.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">From (UTC)</th>
              <th scope="col">Percentage</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {ramp.map((s, i) => (
              <tr>
                <td>{String(i + 1)}</td>
                <td>{utcMinute(s.at).replace("T", " ")}</td>
                <td>{bp(s.basisPoints)}</td>
                <td>{state(s, i)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.mayWrite && (
        <details>
          <summary>Edit the schedule</summary>
          <form method="post" action={`/console/releases/${r.id}/ramp`}>
            <input type="hidden" name="_csrf" value={props.csrf} />
            <input type="hidden" name="rowVersion" value={String(r.rowVersion)} />
            <fieldset>
              <legend>Times in UTC; leave a row empty to remove its step</legend>
              {Array.from({ length: rows }, (_, i) => {
                const s = ramp[i];
                return (
                  <div class="ramp-row">
                    <div>
                      <label for={`ramp-at-${i}`}>{`Step ${i + 1} from (UTC)`}</label>
                      <input
                        id={`ramp-at-${i}`}
                        name={`at${i}`}
                        type="datetime-local"
                        value={s ? utcMinute(s.at) : ""}
                      />
                    </div>
                    <div>
                      <label for={`ramp-percent-${i}`}>{`Step ${i + 1} percentage`}</label>
                      <input
                        id={`ramp-percent-${i}`}
                        name={`percent${i}`}
                        type="number"
                        min="0"
                        max="100"
                        step="0.01"
                        value={s ? String(s.basisPoints / 100) : ""}
                      />
                    </div>
                  </div>
                );
              })}
            </fieldset>
            <p>
              <button type="submit">Save the schedule</button>
            </p>
          </form>
        </details>
      )}
    </section>
  );
}

/**
 * The ramp a submitted editor describes, in time order: rows with both a time and a percentage (a
 * half-filled row is an error naming it); times are UTC minutes, percentages up to two decimals.
 */
export function parseRampForm(
  form: Record<string, string>,
): { ok: true; ramp: RampStep[] } | { ok: false; message: string } {
  const ramp: RampStep[] = [];
  for (let i = 0; i < MAX_RAMP_STEPS + BLANK_RAMP_ROWS; i++) {
    const at = (form[`at${i}`] ?? "").trim();
    const percent = (form[`percent${i}`] ?? "").trim();
    if (at === "" && percent === "") continue;
    if (at === "" || percent === "") return { ok: false, message: `Step ${i + 1} needs both a time and a percentage.` };
    const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(at) ? Date.parse(`${at}Z`) : Number.NaN;
    if (!Number.isFinite(time)) return { ok: false, message: `Step ${i + 1}: the time is not a date and time.` };
    const value = /^\d{1,3}(\.\d{1,2})?$/.test(percent) ? Math.round(Number(percent) * 100) : Number.NaN;
    if (!(value >= 0 && value <= 10_000)) {
      return { ok: false, message: `Step ${i + 1}: the percentage must be 0 to 100, with at most two decimals.` };
    }
    ramp.push({ at: time, basisPoints: value });
  }
  if (ramp.length > MAX_RAMP_STEPS) return { ok: false, message: `A ramp has at most ${MAX_RAMP_STEPS} steps.` };
  return { ok: true, ramp: ramp.sort((a, b) => a.at - b.at) };
}

/** Statuses from which the console offers to roll devices back. */
export const ROLLBACK_FROM = ["canary", "full", "paused", "ended"];

export function RollbackSection(props: { release: ReleaseView; csrf: string; choices: RollbackChoice[] }) {
  const r = props.release;
  return (
    <section>
      <h2>Roll back</h2>
      {props.choices.length === 0 ? (
        <p class="muted">
          No lower version went full on this target without an open release of its own: there is nothing to roll back
          to.
        </p>
      ) : (
        <form method="post" action={`/console/releases/${r.id}/rollback`}>
          <input type="hidden" name="_csrf" value={props.csrf} />
          <label for="rollback-version">Version to send devices back to</label>
          <select id="rollback-version" name="version">
            {props.choices.map((c) => (
              <option value={c.version}>{c.version}</option>
            ))}
          </select>{" "}
          <button type="submit">Roll back…</button>
        </form>
      )}
    </section>
  );
}

export function RollbackConfirmPage(props: { release: ReleaseView; csrf: string; choice: RollbackChoice }) {
  const r = props.release;
  const v = props.choice.version;
  return (
    <Layout title="Confirm the rollback" signedIn={true} csrf={props.csrf}>
      <h1>{`Roll ${r.miniProgramKey} back from ${r.version} to ${v}?`}</h1>
      <p>
        {`This creates a rollback release of ${v} on ${r.appKey} · ${r.env}, with the update mode and configuration ` +
          `of ${props.choice.fromReleaseId}. Like any release it is then submitted, approved by a reviewer and ` +
          "released (full, or a canary to roll back only some devices); devices on higher versions then go back to " +
          `${v}.`}
      </p>
      {r.status === "paused" && (
        <p>{`${r.version} is paused: releasing the rollback to everyone will not archive it, so end it too.`}</p>
      )}
      <form method="post" action={`/console/releases/${r.id}/rollback`}>
        <input type="hidden" name="_csrf" value={props.csrf} />
        <input type="hidden" name="version" value={v} />
        <input type="hidden" name="confirmed" value="yes" />
        <p>
          <button type="submit">{`Yes, create the rollback release of ${v}`}</button>{" "}
          <a href={`/console/releases/${r.id}`}>Cancel</a>
        </p>
      </form>
    </Layout>
  );
}

const ruleText = (r: { attribute?: unknown; operator?: unknown; values?: unknown }) =>
  `${String(r.attribute)} ${String(r.operator)} ${Array.isArray(r.values) ? r.values.map(String).join(", ") : ""}`;

const listRefs = (refs: unknown) =>
  (Array.isArray(refs) ? refs : []).map((l: { kind?: unknown; listId?: unknown }) => ({
    id: String(l.listId),
    kind: l.kind === "device" ? "device ids" : "user ids",
  }));

/**
 * A canary's targeting in words, in the order it is evaluated (denylists, allowlists, rules, time
 * window, percentage), with the stored JSON folded below it.
 */
export function TargetingSummary(props: { targeting: Record<string, unknown> | null }) {
  const t = props.targeting ?? {};
  const deny = listRefs(t.denylists);
  const allow = listRefs(t.allowlists);
  const rules = Array.isArray(t.rules) ? (t.rules as Record<string, unknown>[]) : [];
  const window = t.timeWindow as { startsAt?: number; endsAt?: number; cap?: number } | undefined;
  const p = t.percentage as { basisPoints?: number; ramp?: unknown[] } | undefined;
  const at = (ms: number | undefined) => (typeof ms === "number" ? utcMinute(ms).replace("T", " ") : "?");
  const lists = (refs: { id: string; kind: string }[]) =>
    refs.map((l, i) => (
      <>
        {i > 0 && ", "}
        <a href={`/console/allowlists#list-${l.id}`}>{l.id}</a>
        {` (${l.kind})`}
      </>
    ));
  return (
    <div>
      {props.targeting === null ? (
        <p class="muted">No targeting: as a canary it would reach nobody.</p>
      ) : (
        <ul>
          {deny.length > 0 && <li>Never: {lists(deny)}</li>}
          {allow.length > 0 && <li>Always: {lists(allow)}</li>}
          {rules.length > 0 && <li>{`Devices matching every rule: ${rules.map(ruleText).join("; ")}`}</li>}
          {window && (
            <li>{`Time window: ${at(window.startsAt)} to ${at(window.endsAt)} UTC, at most ${window.cap} devices admitted`}</li>
          )}
          {p && (
            <li>
              {`Percentage: ${bp(p.basisPoints ?? 0)} of ${rules.length > 0 || window ? "the devices past the steps above" : "all devices"}` +
                (Array.isArray(p.ramp) && p.ramp.length > 0 ? `, then a ramp of ${p.ramp.length} steps` : "")}
            </li>
          )}
          {typeof t.stickyKey === "string" && <li>{`Sticky by ${t.stickyKey}`}</li>}
        </ul>
      )}
      <details>
        <summary>As stored (JSON)</summary>
        <pre>{JSON.stringify(props.targeting ?? {}, null, 2)}</pre>
      </details>
    </div>
  );
}
