/**
 * The dashboard's stylesheet, served at /dashboard.css. System fonts only (nothing to fetch);
 * light and dark follow prefers-color-scheme. Status colours: idle green, working blue,
 * restarting amber, offline grey, quarantined and failed red; every colour comes with text.
 */
export const DASHBOARD_CSS = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --panel: #ffffff; --text: #1b1f24; --muted: #5b6470; --line: #dde1e6;
  --accent: #2f5bd3; --accent-text: #ffffff; --focus: #2f5bd3; --hover: #eef1f5;
  --green: #1a7f37; --green-bg: #dcf5e3; --blue: #1f5fbf; --blue-bg: #dde9fb;
  --amber: #8a5a00; --amber-bg: #fdefc8; --grey: #59636e; --grey-bg: #e8ebef;
  --red: #b42318; --red-bg: #fde3e0; --banner: #b42318;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1216; --panel: #171b21; --text: #e6e9ed; --muted: #9aa4b0; --line: #2a3038;
    --accent: #5b8cff; --accent-text: #0b0d10; --focus: #8fb0ff; --hover: #1f252d;
    --green: #5fd184; --green-bg: #143321; --blue: #7aaaff; --blue-bg: #17284a;
    --amber: #f2c14e; --amber-bg: #3a2c0b; --grey: #a3adb8; --grey-bg: #262c34;
    --red: #ff8577; --red-bg: #421814; --banner: #a3271b;
  }
}
* { box-sizing: border-box; }
html { font-size: 15px; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 1rem/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
h1 { font-size: 1.15rem; margin: 0; letter-spacing: .01em; }
h2 { font-size: 1rem; margin: 0 0 .6rem; }
code, .mono { font-family: var(--mono); font-size: .92em; }
.sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}
[hidden] { display: none !important; }
.muted { color: var(--muted); }

.top {
  display: flex; align-items: center; gap: 1rem; padding: .7rem 1.25rem;
  background: var(--panel); border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 2;
}
.top #sign-out { margin-left: auto; }
.conn { font-size: .88rem; color: var(--muted); display: inline-flex; align-items: center; gap: .4rem; }
.conn::before { content: ""; width: .55rem; height: .55rem; border-radius: 50%; background: var(--grey); }
.conn.c-off::before { display: none; }
.conn.c-live::before { background: var(--green); }
.conn.c-connecting::before, .conn.c-polling::before { background: var(--amber); }
.conn.c-down::before { background: var(--red); }
.banner { background: var(--banner); color: #fff; padding: .55rem 1.25rem; font-weight: 600; }

main { padding: 1.25rem; max-width: 1400px; margin: 0 auto; }
.panel {
  background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 1rem 1.1rem; margin-bottom: 1.25rem; min-width: 0;
}
.panel-head { display: flex; align-items: baseline; flex-wrap: wrap; gap: .5rem 1rem; margin-bottom: .6rem; }
.panel-head h2 { margin: 0; }
.panel-head .small { margin-left: auto; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 0 1.25rem; }

button {
  font: inherit; font-size: .9rem; padding: .35rem .8rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--line); background: var(--panel); color: var(--text);
}
button:hover:not(:disabled) { background: var(--hover); }
button:disabled { opacity: .45; cursor: not-allowed; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); font-weight: 600; }
button.primary:hover:not(:disabled) { background: var(--accent); filter: brightness(1.08); }
button.danger { background: #c42b1c; border-color: #c42b1c; color: #fff; font-weight: 600; }
button.quiet { background: transparent; }
button.small { font-size: .82rem; padding: .2rem .6rem; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
input {
  font: inherit; padding: .4rem .55rem; border-radius: 6px; border: 1px solid var(--line);
  background: var(--bg); color: var(--text);
}
label { font-weight: 600; font-size: .9rem; }

.signin { max-width: 30rem; margin: 4rem auto; background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 1.6rem; }
.signin form { display: grid; gap: .55rem; }
.signin input { font-family: var(--mono); width: 100%; }
.signin button { justify-self: start; }
.hint { color: var(--muted); font-size: .88rem; margin: 0; }
.error { color: var(--red); font-weight: 600; margin: 0; }

.summary { display: flex; flex-wrap: wrap; gap: .4rem; }
.chip { border-radius: 999px; font-size: .85rem; padding: .15rem .7rem; font-variant-numeric: tabular-nums; }
.chip[aria-pressed="true"] { border-color: var(--accent); box-shadow: inset 0 0 0 1px var(--accent); font-weight: 600; }
.chip.g-idle { color: var(--green); } .chip.g-working { color: var(--blue); }
.chip.g-restarting { color: var(--amber); } .chip.g-offline, .chip.g-drained { color: var(--grey); }
.chip.g-quarantined, .chip.g-failed { color: var(--red); }
.toolbar { display: flex; align-items: center; flex-wrap: wrap; gap: .5rem; margin-bottom: .6rem; }
.toolbar input { width: 14rem; }
.pager { margin-left: auto; display: flex; align-items: center; gap: .5rem; font-variant-numeric: tabular-nums; }
#page-info { color: var(--muted); font-size: .88rem; min-width: 9rem; text-align: center; }

.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
thead th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
tbody th { font-weight: 600; }
tbody tr:hover { background: var(--hover); }
.num { text-align: right; }
td.task, td.hub, .agent-id { font-family: var(--mono); font-size: .9em; }
td.seen { color: var(--muted); }
td.actions { text-align: right; }
td.actions button { font-size: .82rem; padding: .2rem .6rem; margin-left: .3rem; }
table.no-hub .hub { display: none; }
table.compact th, table.compact td { padding: .3rem .5rem; font-size: .9rem; }
td.detail { white-space: normal; color: var(--muted); max-width: 22rem; }
.empty { color: var(--muted); font-size: .9rem; margin: .6rem 0 0; }

.pill {
  display: inline-flex; align-items: center; gap: .35rem; padding: .05rem .55rem; border-radius: 999px;
  font-size: .82rem; font-weight: 600; background: var(--grey-bg); color: var(--grey);
}
.dot { width: .5rem; height: .5rem; border-radius: 50%; background: currentColor; }
.s-idle, .s-completed { background: var(--green-bg); color: var(--green); }
.s-working, .s-running, .s-assigned { background: var(--blue-bg); color: var(--blue); }
.s-restarting, .s-commanded, .s-deferred { background: var(--amber-bg); color: var(--amber); }
.s-offline, .s-queued, .s-waiting, .s-cancelled { background: var(--grey-bg); color: var(--grey); }
.s-failed, .s-quarantined { background: var(--red-bg); color: var(--red); }
.s-working .dot, .s-restarting .dot, .s-running .dot { animation: pulse 1.6s ease-in-out infinite; }
@keyframes pulse { 50% { opacity: .35; } }
@media (prefers-reduced-motion: reduce) { .dot { animation: none !important; } }
.tag { margin-left: .4rem; font-size: .75rem; font-weight: 600; padding: .05rem .45rem; border-radius: 4px; border: 1px solid currentColor; }
.t-drained { color: var(--grey); }
.t-quarantined, .t-failed { color: var(--red); }

.inline-form { display: flex; align-items: center; gap: .6rem; flex-wrap: wrap; margin-bottom: .8rem; }
.inline-form input { width: 5.5rem; }
.rollouts { list-style: none; margin: 0; padding: 0; display: grid; gap: .6rem; }
.rollout { border: 1px solid var(--line); border-radius: 8px; padding: .6rem .7rem; }
.rollout-head { display: flex; align-items: center; flex-wrap: wrap; gap: .5rem; }
.rollout-head .small { margin-left: auto; }
.rollout progress { width: 100%; height: .6rem; margin: .5rem 0 .2rem; accent-color: var(--green); }
.rollout-counts { margin: 0; font-size: .88rem; color: var(--muted); }

dialog {
  border: 1px solid var(--line); border-radius: 12px; padding: 1.3rem 1.4rem; max-width: 28rem;
  background: var(--panel); color: var(--text); box-shadow: 0 18px 50px rgba(0, 0, 0, .3);
}
dialog::backdrop { background: rgba(10, 12, 16, .45); }
dialog h2 { font-size: 1.05rem; }
.dialog-actions { display: flex; justify-content: flex-end; gap: .6rem; margin-top: 1rem; }
.toast {
  position: fixed; right: 1.25rem; bottom: 1.25rem; max-width: 30rem; z-index: 3;
  background: var(--text); color: var(--bg); padding: .6rem .9rem; border-radius: 8px;
  box-shadow: 0 8px 24px rgba(0, 0, 0, .25); font-size: .92rem;
}
.toast.error { background: var(--red); color: #fff; }
.mem { display: inline-block; min-width: 4.5rem; }
.spark { width: 60px; height: 16px; margin-left: .4rem; vertical-align: middle; overflow: visible; }
.spark-line { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
.chart-box { margin: 0; min-width: 0; }
.chart-box figcaption { font-size: .88rem; color: var(--muted); margin-bottom: .3rem; display: flex; flex-wrap: wrap; gap: .2rem .8rem; }
.chart { width: 100%; height: 120px; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
.chart-scale { font-size: 10px; fill: var(--muted); }
.series { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; }
.legend { display: inline-flex; gap: .7rem; }
.legend .k::before { content: ""; display: inline-block; width: .7rem; height: .22rem; margin-right: .25rem; vertical-align: middle; background: currentColor; }
.line-idle { stroke: var(--green); } .key-idle { color: var(--green); }
.line-working { stroke: var(--blue); } .key-working { color: var(--blue); }
.line-restarting { stroke: var(--amber); } .key-restarting { color: var(--amber); }
.line-offline { stroke: var(--grey); } .key-offline { color: var(--grey); }
.bar-completed { fill: var(--green); } .key-completed { color: var(--green); }
.bar-failed { fill: var(--red); } .key-failed { color: var(--red); }
.bar-cancelled { fill: var(--grey); } .key-cancelled { color: var(--grey); }
dialog.task-view { max-width: min(60rem, 94vw); width: 60rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .9rem; margin: .6rem 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.output {
  max-height: 50vh; min-height: 6rem; overflow: auto; margin: .4rem 0 0; padding: .6rem .7rem;
  border: 1px solid var(--line); border-radius: 8px; font-size: .85rem; white-space: pre-wrap; overflow-wrap: anywhere;
}
button.link { background: none; border: 0; padding: 0; color: var(--blue); text-decoration: underline; cursor: pointer; font: inherit; }
.t-label { font-weight: normal; margin-left: .35rem; }
`
