//! The page's one inline style sheet.

// ---------------------------------------------------------------------------------------------------------------
// Style

pub(crate) const CSS: &str = r#":root {
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial,
    sans-serif;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
  --ink: #1f2933; --muted: #66707d; --faint: #9aa3af; --line: #e3e7ec; --bg: #f5f6f8; --panel: #ffffff;
  --good: #2f9e6b; --warn: #b7791f; --bad: #c93434; --accent: #2f6fd0;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; font: 15px/1.5 var(--sans); color: var(--ink); }
main { max-width: 1220px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { font-size: 28px; line-height: 1.25; margin: 4px 0 14px; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 18px; margin: 0 0 4px; font-weight: 620; }
code, pre { font-family: var(--mono); font-size: 13px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 22px 24px;
  margin: 0 0 22px; }
.brand { font-size: 12px; text-transform: uppercase; letter-spacing: 0.08em; color: var(--muted); font-weight: 600; }
header.top { margin: 0 0 22px; }
dl.meta { display: flex; flex-wrap: wrap; gap: 10px 36px; margin: 0; }
dl.meta div { display: flex; flex-direction: column; }
dl.meta dt { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
dl.meta dd { margin: 2px 0 0; font-variant-numeric: tabular-nums; font-weight: 500; }
.warning { margin: 16px 0 0; padding: 10px 14px; border-radius: 8px; background: #fff6e0; border: 1px solid #f0d28a;
  color: #7a5200; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-size: 13px; font-weight: 600;
  line-height: 1.6; border: 1px solid transparent; }
.badge.good { background: #e4f5ec; color: #1d6b47; border-color: #b9e2cb; }
.badge.warn { background: #fdf3dc; color: #8a5a00; border-color: #f0d28a; }
.badge.bad { background: #fbe5e5; color: #a12626; border-color: #f1b9b9; }
.badge.neutral { background: #e8eef8; color: #2d4a7a; border-color: #c6d5ee; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 14px; background: none;
  border: 0; padding: 0; }
.card { min-width: 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
.card .value { font-size: 26px; font-weight: 650; margin: 4px 0 2px; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.card .sub { font-size: 12.5px; color: var(--muted); font-variant-numeric: tabular-nums; }
.card.warn .value { color: var(--warn); }
.card.bad .value { color: var(--bad); }
.caption { margin: 0 0 10px; color: var(--muted); font-size: 13.5px; }
.lede { margin: 6px 0 14px; }
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart.narrow { display: none; }
h3 { font-size: 15px; margin: 18px 0 6px; font-weight: 620; }
p, li, dd { overflow-wrap: anywhere; }
details.folded { margin: 12px 0 0; color: var(--muted); }
details.folded summary { cursor: pointer; }
ul.noise, ul.reasons { margin: 8px 0 0; padding-left: 20px; font-size: 13.5px; }
ul.reasons { color: var(--ink); }
.together { font-family: var(--sans); font-size: 11.5px; color: var(--muted); }
td.statuses { font-size: 12.5px; white-space: nowrap; }
td.excerpt { font-size: 12.5px; min-width: 16em; }
.note { margin-top: 8px; }
dl.repro { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 4px 16px; margin: 8px 0 0; }
dl.repro dt { color: var(--muted); font-size: 13px; }
dl.repro dd { margin: 0; min-width: 0; }
dl.repro code { overflow-wrap: anywhere; word-break: break-all; }
svg.chart text { font-family: var(--sans); font-size: 11px; fill: var(--muted); font-variant-numeric: tabular-nums; }
svg.chart .legend text { fill: var(--ink); font-size: 12px; }
svg.chart .grid line { stroke: #edf0f3; stroke-width: 1; }
svg.chart .grid line.mark, svg.chart .axes line { stroke: #98a2ae; }
svg.chart .axis-title { fill: var(--ink); font-size: 12px; }
svg.chart .band-label { fill: #475569; font-weight: 600; }
svg.chart .empty { font-size: 14px; fill: var(--faint); }
.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
table.data th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; padding: 6px 8px;
  border-bottom: 1px solid var(--line); vertical-align: bottom; white-space: nowrap; }
table.data th.group { text-align: center; border-bottom: 1px solid #cfd6de; color: var(--ink); }
table.data th.sub { font-weight: 500; }
table.data td { padding: 7px 8px; border-bottom: 1px solid #f0f2f5; vertical-align: baseline; }
table.data tbody tr:hover { background: #fafbfc; }
table.data .num { text-align: right; white-space: nowrap; }
table.data .zero { color: #c0c6ce; }
table.data .bad { color: var(--bad); font-weight: 600; }
table.data .ok { color: #1f7a4d; font-weight: 600; }
.verdict { padding: 10px 14px; border-radius: 8px; border: 1px solid; }
.verdict-ok { background: #e7f5ee; border-color: #a8d9bf; color: #17603c; }
.verdict-bad { background: #fbe5e5; border-color: #f1b9b9; color: #a12626; }
.verdict-warn { background: #fdf3dc; border-color: #f0d28a; color: #8a5a00; }
table.data .warn { color: var(--warn); font-weight: 600; }
table.data .good { color: var(--good); }
table.data td.arrow, table.data th.arrow { color: var(--faint); padding: 7px 0; text-align: center; width: 1em; }
table.data td.route { font-family: var(--mono); font-size: 12.5px; white-space: nowrap; }
.empty-row, .empty-note { color: var(--faint); font-style: italic; }
.pill { display: inline-block; padding: 0 8px; border-radius: 6px; background: #eef1f5; color: #475569;
  font-size: 12px; line-height: 1.7; white-space: nowrap; }
.pill.observer { background: #e6eefb; color: #2d4a7a; font-weight: 600; }
.pill.standard { background: #efe9fb; color: #553c9a; }
i.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 5px; vertical-align: 0; }
.sample-grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
.sample { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
.sample-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.sample-head .route { font-family: var(--mono); font-size: 13px; font-weight: 600; }
.sample-head .spacer { flex: 1; }
.sample-head .status { font-weight: 600; font-variant-numeric: tabular-nums; }
.sample-head .status.error { color: var(--bad); }
.sample-head .latency { color: var(--muted); font-variant-numeric: tabular-nums; }
dl.headers { display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr); gap: 1px 10px;
  margin: 10px 0 0; font-family: var(--mono); font-size: 12px; }
dl.headers dt { color: var(--muted); overflow-wrap: anywhere; }
dl.headers dd { margin: 0; overflow-wrap: anywhere; }
.sample pre { margin: 10px 0 0; padding: 10px 12px; background: #f6f8fa; border-radius: 6px; max-height: 220px;
  overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; line-height: 1.45; }
.empty-body { margin: 10px 0 0; color: var(--faint); font-size: 13px; font-style: italic; }
footer { color: var(--faint); font-size: 12.5px; text-align: center; margin-top: 8px; }
@media (max-width: 900px) {
  .sample-grid { grid-template-columns: 1fr; }
}
/* A phone: less padding, two cards a row, the narrow drawing of each chart. */
@media (max-width: 600px) {
  main { padding: 16px 10px 32px; }
  section { padding: 16px 12px; border-radius: 8px; }
  h1 { font-size: 22px; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px; }
  .card { padding: 10px 12px; }
  .card .value { font-size: 21px; }
  dl.meta { gap: 8px 20px; }
  dl.repro { grid-template-columns: minmax(0, 1fr); }
  svg.chart.wide { display: none; }
  svg.chart.narrow { display: block; }
}
"#;
