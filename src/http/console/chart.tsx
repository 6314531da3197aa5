// A small line chart drawn on the server as SVG (no script, nothing inline the CSP forbids):
// series over time, with vertical markers for changes (from the audit log), and its numbers as a
// table for screen readers and copying. Also the release page's two charts, built from statistics.

export interface Series {
  name: string;
  /** A class from console.css giving the line its colour. */
  className: string;
  points: { at: number; value: number }[];
}

export interface ChartData {
  from: number;
  to: number;
  series: Series[];
}

const HOUR_MS = 3_600_000;

/** Every hour of [from, to), valued by `value` (an hour without counts is valued on an empty record). */
function hourly<T>(from: number, to: number, byHour: Map<number, T>, empty: T) {
  const hours: number[] = [];
  for (let at = from; at < to; at += HOUR_MS) hours.push(at);
  return (name: string, className: string, value: (counts: T) => number): Series => ({
    name,
    className,
    points: hours.map((at) => ({ at, value: value(byHour.get(at) ?? empty) })),
  });
}

/** Offers, installs and failures per hour, from a release's statistics. */
export function eventsChart(stats: {
  from: number;
  to: number;
  buckets: { at: number; counts: Record<string, number | undefined> }[];
}): ChartData {
  const series = hourly(stats.from, stats.to, new Map(stats.buckets.map((b) => [b.at, b.counts])), {});
  return {
    from: stats.from,
    to: stats.to,
    series: [
      series("offered", "offers", (n) => n.offered ?? 0),
      series("installed", "installs", (n) => n.install_ok ?? 0),
      series("failed", "failures", (n) => (n.download_failed ?? 0) + (n.install_failed ?? 0) + (n.launch_failed ?? 0)),
    ],
  };
}

/** Adoption: devices that checked in each hour on the release's version, and on any other, of its mini program. */
export function adoptionChart(
  installed: {
    from: number;
    to: number;
    buckets: { at: number; versions: Record<string, { devices: number }> }[];
  },
  version: string,
): ChartData {
  const byHour = new Map(installed.buckets.map((b) => [b.at, b.versions]));
  const series = hourly(installed.from, installed.to, byHour, {});
  const others = (v: Record<string, { devices: number }>) =>
    Object.entries(v).reduce((sum, [k, n]) => (k === version ? sum : sum + n.devices), 0);
  return {
    from: installed.from,
    to: installed.to,
    series: [
      series(`on ${version}`, "adopted", (v) => v[version]?.devices ?? 0),
      series("on other versions", "others", others),
    ],
  };
}

const W = 640;
const H = 180;
const PAD = { left: 40, right: 10, top: 10, bottom: 24 };

export function LineChart(props: {
  title: string;
  from: number;
  to: number;
  series: Series[];
  markers: { at: number; label: string }[];
}) {
  const { from, to } = props;
  const max = Math.max(1, ...props.series.flatMap((s) => s.points.map((p) => p.value)));
  const x = (at: number) => PAD.left + ((at - from) / Math.max(1, to - from)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  const hour = (at: number) => new Date(at).toISOString().slice(5, 16).replace("T", " ");
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={props.title} class="chart">
        <title>{props.title}</title>
        <line x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} class="axis" />
        <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} class="axis" />
        <text x={PAD.left - 4} y={PAD.top + 8} class="tick" text-anchor="end">
          {String(max)}
        </text>
        <text x={PAD.left} y={H - 6} class="tick">
          {hour(from)}
        </text>
        <text x={W - PAD.right} y={H - 6} class="tick" text-anchor="end">
          {hour(to)}
        </text>
        {props.markers
          .filter((m) => m.at >= from && m.at <= to)
          .map((m) => (
            <line x1={x(m.at)} y1={PAD.top} x2={x(m.at)} y2={H - PAD.bottom} class="marker">
              <title>{m.label}</title>
            </line>
          ))}
        {props.series.map((s) => (
          <polyline
            class={`series ${s.className}`}
            points={s.points.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ")}
          >
            <title>{s.name}</title>
          </polyline>
        ))}
      </svg>
      <figcaption>
        {`${props.title}: `}
        {props.series.map((s) => (
          <span class={`legend ${s.className}`}>{`${s.name} `}</span>
        ))}
      </figcaption>
      <details>
        <summary>{`The numbers: ${props.title}`}</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Hour (UTC)</th>
              {props.series.map((s) => (
                <th scope="col">{s.name}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {(props.series[0]?.points ?? []).map((p, i) => (
              <tr>
                <td>{hour(p.at)}</td>
                {props.series.map((s) => (
                  <td class="count">{String(s.points[i]?.value ?? 0)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
