/**
 * The trigger's page: plain HTML, CSS and JavaScript in one document, so nothing but this
 * module has to be shipped. It lists the runs newest first (live, from /api/events), shows
 * one run's payload as text and hex, its output, error and timing, runs a Debug payload and
 * replays a stored run.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sockengine trigger</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
  header { background: #1d232a; color: #fff; padding: 10px 16px; display: flex; gap: 24px; flex-wrap: wrap; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  header span b { font-variant-numeric: tabular-nums; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; padding: 16px; }
  section { background: #fff; border: 1px solid #d8dce1; border-radius: 6px; padding: 12px; min-width: 0; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eceef1; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 220px; }
  tbody tr { cursor: pointer; }
  tbody tr:hover, tbody tr.selected { background: #e8f0fe; }
  .ok { color: #17713a; } .error { color: #b3261e; font-weight: 600; }
  pre { background: #f1f3f5; padding: 8px; overflow: auto; max-height: 200px; margin: 4px 0 10px; white-space: pre-wrap; word-break: break-all; }
  textarea { width: 100%; box-sizing: border-box; font: 13px ui-monospace, monospace; }
  button { margin-top: 6px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 8px; }
  dt { color: #5b6570; }
  #message { color: #b3261e; min-height: 1em; }
  #detail-hex { white-space: pre; word-break: normal; }
</style>
</head>
<body>
<header>
  <h1>sockengine trigger</h1>
  <span>listening <b id="address">…</b></span>
  <span>backend <b id="backend">…</b></span>
  <span>connections <b id="connections">0</b></span>
  <span>runs/s <b id="rate">0</b></span>
  <span>queued <b id="queued">0</b></span>
  <span>errors <b id="errors">0</b></span>
  <span>dropped <b id="dropped">0</b></span>
</header>
<main>
  <section>
    <h2>Runs <small>(newest first, live)</small></h2>
    <table>
      <thead><tr><th>id</th><th>event</th><th>source</th><th>client</th><th>status</th><th>payload</th><th>received</th></tr></thead>
      <tbody id="runs"></tbody>
    </table>
  </section>
  <div>
    <section>
      <h2>Debug</h2>
      <p>Runs the workflow with this payload, as if a client had sent it.</p>
      <textarea id="debug-payload" rows="3" placeholder="payload text"></textarea>
      <select id="debug-event"></select>
      <button id="debug-run">Run</button>
      <div id="message"></div>
    </section>
    <section id="details" hidden>
      <h2>Run <span id="detail-id"></span> <button id="replay">Replay</button></h2>
      <dl id="detail-fields"></dl>
      <h2>Payload (text)</h2><pre id="detail-text"></pre>
      <h2>Payload (hex)</h2><pre id="detail-hex"></pre>
      <h2>Output</h2><pre id="detail-output"></pre>
      <h2>Error</h2><pre id="detail-error"></pre>
    </section>
  </div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const shown = new Set();
let selected = null;

async function api(path, body) {
  const init = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function hex(base64) {
  const bytes = atob(base64);
  const lines = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = [];
    for (let j = i; j < Math.min(i + 16, bytes.length); j++) row.push(bytes.charCodeAt(j).toString(16).padStart(2, '0'));
    lines.push(i.toString(16).padStart(6, '0') + '  ' + row.join(' '));
  }
  return lines.join('\\n');
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function addRun(run) {
  if (shown.has(run.id)) return;
  shown.add(run.id);
  const tr = document.createElement('tr');
  tr.dataset.id = String(run.id);
  const client = run.remoteAddress === null ? '' : run.remoteAddress + ':' + run.remotePort;
  tr.append(cell(String(run.id)), cell(run.event), cell(run.source), cell(client), cell(run.status, run.status),
    cell(JSON.stringify(run.payloadText)), cell(new Date(run.receivedAt).toLocaleTimeString()));
  tr.addEventListener('click', () => select(run.id));
  // Newest first: put it before the first row with a smaller id.
  const rows = $('runs').children;
  let before = null;
  for (const row of rows) if (Number(row.dataset.id) < run.id) { before = row; break; }
  $('runs').insertBefore(tr, before);
}

async function select(id) {
  const run = await api('/api/runs/' + id);
  selected = run.id;
  for (const row of $('runs').children) row.classList.toggle('selected', Number(row.dataset.id) === run.id);
  $('details').hidden = false;
  $('detail-id').textContent = '#' + run.id;
  const fields = [
    ['event', run.event], ['source', run.source + (run.replayOf ? ' of #' + run.replayOf : '')], ['status', run.status],
    ['client', run.remoteAddress === null ? '(none)' : run.remoteAddress + ':' + run.remotePort],
    ['session', run.session ?? '(none)'], ['payload', run.payloadBytes + ' bytes'],
    ['received', run.receivedAt], ['started', run.startedAt ?? '(never)'], ['finished', run.finishedAt],
    ['duration', run.durationMs === null ? '' : run.durationMs + ' ms'],
  ];
  $('detail-fields').replaceChildren(...fields.flatMap(([name, value]) => {
    const dt = document.createElement('dt'); dt.textContent = name;
    const dd = document.createElement('dd'); dd.textContent = value; dd.dataset.field = name;
    if (name === 'status') dd.className = value;
    return [dt, dd];
  }));
  $('detail-text').textContent = run.payloadText;
  $('detail-hex').textContent = hex(run.payloadBase64);
  $('detail-output').textContent = run.output ?? '';
  $('detail-error').textContent = run.error ?? '';
}

function showStatus(status) {
  const a = status.address;
  $('address').textContent = status.transport + ' ' + (a.family === 'IPv6' ? '[' + a.address + ']' : a.address) + ':' + a.port;
  $('backend').textContent = status.backend;
  $('connections').textContent = String(status.stats.connections);
  $('rate').textContent = String(status.stats.runsPerSecond);
  $('queued').textContent = String(status.stats.queued);
  $('errors').textContent = String(status.stats.errors);
  $('dropped').textContent = String(status.stats.dropped);
  if ($('debug-event').options.length === 0) {
    const events = status.transport === 'udp' ? ['datagram'] : ['data', 'connect', 'close'];
    for (const event of events) $('debug-event').append(new Option(event, event));
  }
}

$('debug-run').addEventListener('click', async () => {
  $('message').textContent = '';
  try {
    const run = await api('/api/debug', { payload: $('debug-payload').value, event: $('debug-event').value || undefined });
    addRun(run);
    await select(run.id);
  } catch (error) { $('message').textContent = error.message; }
});

$('replay').addEventListener('click', async () => {
  $('message').textContent = '';
  try {
    const run = await api('/api/runs/' + selected + '/replay', {});
    addRun(run);
    await select(run.id);
  } catch (error) { $('message').textContent = error.message; }
});

async function start() {
  showStatus(await api('/api/status'));
  // Listen first, then read what is stored: a run finishing in between is not missed (addRun skips repeats).
  const events = new EventSource('/api/events');
  events.addEventListener('run', (event) => addRun(JSON.parse(event.data)));
  events.addEventListener('status', (event) => showStatus(JSON.parse(event.data)));
  const runs = await api('/api/runs?limit=100');
  for (const run of runs.reverse()) addRun(run);
  document.body.dataset.ready = 'true';
}
start().catch((error) => { $('message').textContent = error.message; });
</script>
</body>
</html>
`;
