/** The console's one stylesheet, served at /console/assets/console.css (no inline styles: the CSP has no 'unsafe-inline'). */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; --accent: #0969da;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; font: 15px/1.45 system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --bg: #0d1117; --accent: #4493f8;
  --ok: #3fb950; --warn: #d29922; --bad: #ff7b72; } }
body { margin: 0; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
header strong { font-size: 1.05rem; }
header nav { display: flex; gap: 1rem; flex: 1; }
header form { margin: 0; }
main { padding: 1rem 1.2rem; max-width: 72rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.pill { display: inline-block; padding: 0 .45rem; border-radius: .6rem; border: 1px solid var(--line); font-size: .85rem; margin-right: .3rem; }
.full { color: var(--ok); } .canary { color: var(--warn); } .paused { color: var(--bad); }
.muted { color: var(--muted); }
.error { color: var(--bad); }
label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
input[type=password], input[type=text], textarea { width: 28rem; max-width: 100%; padding: .35rem; font: inherit; }
button { font: inherit; padding: .3rem .9rem; cursor: pointer; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.chart { max-width: 44rem; display: block; }
.chart .axis { stroke: var(--line); }
.chart .marker { stroke: var(--muted); stroke-dasharray: 3 3; }
.chart .tick { fill: var(--muted); font-size: 11px; }
.chart .series { fill: none; stroke-width: 2; }
.chart .installs { stroke: var(--ok); } .chart .failures { stroke: var(--bad); } .chart .offers { stroke: var(--accent); }
.chart .adopted { stroke: var(--ok); } .chart .others { stroke: var(--muted); }
.legend.adopted { color: var(--ok); } .legend.others { color: var(--muted); }
details { margin: .3rem 0; }
.actions form { display: inline-block; margin: 0 .5rem .5rem 0; } summary { cursor: pointer; color: var(--muted); }
.legend.installs { color: var(--ok); } .legend.failures { color: var(--bad); } .legend.offers { color: var(--accent); }
figure { margin: .5rem 0 1.5rem; }
pre { overflow-x: auto; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.skip { position: absolute; left: -999rem; } .skip:focus { position: static; }
header nav a[aria-current=page] { font-weight: 600; text-decoration: none; }
fieldset { border: 1px solid var(--line); margin: .6rem 0; max-width: 44rem; }
label.inline { display: inline; font-weight: normal; margin: 0 1rem 0 .3rem; }
.ramp-row { display: flex; flex-wrap: wrap; gap: 0 1.2rem; }
input[type=number], input[type=datetime-local], select { font: inherit; padding: .25rem; }
td.count { text-align: right; font-variant-numeric: tabular-nums; }
progress { vertical-align: middle; width: 12rem; }
.field-errors { color: var(--bad); }
`;
