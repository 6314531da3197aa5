// A small line chart drawn on the server as SVG (no script, nothing inline the CSP forbids):
// series over time, with vertical markers for changes (from the audit log).

export interface Series {
  name: string;
  /** A class from console.css giving the line its colour. */
  className: string;
  points: { at: number; value: number }[];
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
        {props.series.map((s) => (
          <span class={`legend ${s.className}`}>{`${s.name} `}</span>
        ))}
      </figcaption>
    </figure>
  );
}
