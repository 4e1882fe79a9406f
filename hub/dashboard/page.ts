/**
 * The dashboard's HTML, served at `GET /`. Its script and stylesheet come from the same hub
 * (/dashboard.js, /dashboard.css) so the Content-Security-Policy can forbid everything else.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>AgentCom</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <h1>AgentCom</h1>
  <span id="conn" class="conn c-off" role="status" aria-live="polite"></span>
  <span id="whoami" class="whoami" hidden></span>
  <button id="sign-out" type="button" class="quiet" hidden>Sign out</button>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<main>
  <section id="signin" class="signin" aria-labelledby="signin-title">
    <h2 id="signin-title">Sign in</h2>
    <form id="signin-form" autocomplete="off">
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required>
      <p class="hint">Print one on the hub's machine with <code>npm run --silent token -- admin</code>.
        It stays in this browser tab only and is sent to this hub alone.</p>
      <p id="signin-error" class="error" role="alert" hidden></p>
      <button type="submit" class="primary">Sign in</button>
    </form>
  </section>

  <div id="app" hidden>
    <section class="panel" aria-labelledby="agents-title">
      <div class="panel-head">
        <h2 id="agents-title">Agents</h2>
        <div id="summary" class="summary" role="group" aria-label="Show agents by status"></div>
      </div>
      <div class="toolbar">
        <label for="search">Find agent</label>
        <input id="search" type="search" placeholder="agent id" spellcheck="false">
        <nav class="pager" aria-label="Agent pages">
          <button id="prev" type="button" aria-label="Previous page">‹ Prev</button>
          <span id="page-info" aria-live="polite"></span>
          <button id="next" type="button" aria-label="Next page">Next ›</button>
        </nav>
      </div>
      <div class="table-wrap">
        <table id="agents" class="agents no-hub">
          <caption class="sr-only">Agents</caption>
          <thead><tr>
            <th scope="col">Agent</th><th scope="col">Status</th><th scope="col" class="num">Restarts</th>
            <th scope="col" class="num">Memory</th><th scope="col">Task</th><th scope="col">Last seen</th>
            <th scope="col" class="hub">Hub</th><th scope="col">Version</th><th scope="col"><span class="sr-only">Actions</span></th>
          </tr></thead>
          <tbody id="agents-body"></tbody>
        </table>
      </div>
      <p id="agents-empty" class="empty" hidden></p>
    </section>

    <section class="panel" aria-labelledby="charts-title">
      <h2 id="charts-title">Fleet, last hour</h2>
      <div class="charts">
        <figure class="chart-box">
          <figcaption>Agents by status <span class="legend"><span class="k key-idle">idle</span>
            <span class="k key-working">working</span><span class="k key-restarting">restarting</span>
            <span class="k key-offline">offline</span></span></figcaption>
          <svg id="chart-statuses" class="chart" viewBox="0 0 600 120" preserveAspectRatio="none" role="img" aria-label="Agents by status, last hour"></svg>
        </figure>
        <figure class="chart-box">
          <figcaption>Tasks finished per minute <span class="legend"><span class="k key-completed">completed</span>
            <span class="k key-failed">failed</span><span class="k key-cancelled">cancelled</span></span></figcaption>
          <svg id="chart-finished" class="chart" viewBox="0 0 600 120" preserveAspectRatio="none" role="img" aria-label="Tasks finished per minute, last hour"></svg>
        </figure>
      </div>
    </section>

    <div class="columns">
      <section class="panel" aria-labelledby="rollouts-title">
        <h2 id="rollouts-title">Rolling restart</h2>
        <form id="rollout-form" class="inline-form">
          <label for="max-unavailable">Max unavailable</label>
          <input id="max-unavailable" type="number" min="1" step="1" value="1" required>
          <button type="submit" class="primary">Rolling restart</button>
        </form>
        <ol id="rollouts" class="rollouts" aria-label="Rollouts"></ol>
        <p id="rollouts-empty" class="empty">No rollout since this page opened.</p>
      </section>

      <section class="panel" aria-labelledby="tasks-title">
        <div class="panel-head">
          <h2 id="tasks-title">Recent tasks</h2>
          <label for="task-status" class="sr-only">Show tasks by status</label>
          <select id="task-status">
            <option value="">All</option><option>queued</option><option>assigned</option><option>working</option>
            <option>completed</option><option>failed</option><option>cancelled</option>
          </select>
        </div>
        <table class="compact" aria-labelledby="tasks-title">
          <thead><tr><th scope="col">Task</th><th scope="col">Status</th><th scope="col">Agent</th>
            <th scope="col" class="num">Attempts</th><th scope="col">Updated</th></tr></thead>
          <tbody id="tasks-body"></tbody>
        </table>
        <p id="tasks-empty" class="empty">No task has changed since this page opened.</p>
      </section>

      <section id="healing" class="panel" aria-labelledby="healing-title" hidden>
        <div class="panel-head">
          <h2 id="healing-title">Healing</h2>
          <span id="healing-state" class="muted"></span>
          <button id="healing-toggle" type="button" class="small">Pause healing</button>
        </div>
        <table class="compact" aria-labelledby="healing-title">
          <thead><tr><th scope="col">When</th><th scope="col">Agent</th><th scope="col">Rule</th>
            <th scope="col">Action</th><th scope="col">State</th><th scope="col">Detail</th></tr></thead>
          <tbody id="healing-body"></tbody>
        </table>
        <p id="healing-empty" class="empty">No healing action yet.</p>
      </section>

      <section class="panel" aria-labelledby="activity-title">
        <h2 id="activity-title">Activity</h2>
        <table class="compact" aria-labelledby="activity-title">
          <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th>
            <th scope="col">Target</th><th scope="col" class="num">Status</th></tr></thead>
          <tbody id="activity-body"></tbody>
        </table>
        <p id="activity-empty" class="empty">No change recorded yet.</p>
      </section>
    </div>
  </div>
</main>

<dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-detail">
  <form method="dialog">
    <h2 id="confirm-title"></h2>
    <p id="confirm-detail"></p>
    <div class="dialog-actions">
      <button value="cancel" type="submit" class="quiet">Cancel</button>
      <button id="confirm-ok" value="confirm" type="submit" class="danger">Confirm</button>
    </div>
  </form>
</dialog>
<dialog id="task-view" class="task-view" aria-labelledby="task-view-title">
  <form method="dialog">
    <h2 id="task-view-title">Task</h2>
    <dl id="task-facts" class="facts"></dl>
    <h3>Output <span id="task-output-state" class="muted" role="status"></span></h3>
    <pre id="task-output" class="output" tabindex="0" aria-label="Task output"></pre>
    <div class="dialog-actions">
      <button id="task-cancel" type="button" class="danger" hidden>Cancel task</button>
      <button value="close" type="submit" class="quiet">Close</button>
    </div>
  </form>
</dialog>
<div id="toast" class="toast" role="status" aria-live="polite" hidden></div>
</body>
</html>
`
