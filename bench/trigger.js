#!/usr/bin/env node
// The socket trigger's throughput: runs per second with a no-op workflow, with and without
// the SQLite store, on both backends; and the store's writes alone, one transaction per run
// against the batches the store uses. `npm run build:ts` first (it loads dist/).
//
//   node bench/trigger.js [--runs N (20000)] [--rounds R (3)]
//
// End to end: one node:net client in this process writes N line frames at once to a
// trigger (events: data, framing: line, concurrency 4, queue 1000); a run is counted when
// it has finished and, with a store, been queued for the store. The clock runs from the
// first write to the last finished run plus the store's last flush. Figures are medians of
// the rounds, interleaved so a slow minute on this shared machine hits every setting alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trigger } from '../dist/index.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, rounds: { type: 'string' } } });
const runs = Number(values.runs ?? 20000);
const rounds = Number(values.rounds ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'sockengine-bench-trigger-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function endToEnd(backend, store) {
  const t = await trigger({
    port: 0, backend, events: ['data'], framing: 'line', workflow: () => undefined,
    store: store ? join(dir, `e2e-${backend}-${Date.now()}.db`) : false,
  });
  const frame = Buffer.from('0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n'); // 64 bytes
  const socket = net.connect(t.address().port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const started = performance.now();
  socket.write(Buffer.concat(Array.from({ length: runs }, () => frame)));
  while (t.stats().ok < runs) await new Promise((resolve) => setImmediate(resolve));
  socket.end();
  await t.close(); // flushes the store's last batch
  const seconds = (performance.now() - started) / 1000;
  return runs / seconds;
}

function storeWrites(batch) {
  const Database = createRequire(import.meta.url)('better-sqlite3');
  const db = new Database(join(dir, `writes-${batch}-${Date.now()}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE runs (id INTEGER PRIMARY KEY, event TEXT, payload BLOB, status TEXT, output TEXT, received_at INTEGER, finished_at INTEGER)');
  const insert = db.prepare('INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)');
  const trim = db.prepare('DELETE FROM runs WHERE id < (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?)');
  const write = db.transaction((first, count) => {
    for (let id = first; id < first + count; id++) insert.run(id, 'data', Buffer.alloc(64, 97), 'ok', null, Date.now(), Date.now());
    trim.run(9999);
  });
  const n = Math.min(runs, batch === 1 ? 5000 : runs);
  const started = performance.now();
  for (let id = 1; id <= n; id += batch) write(id, Math.min(batch, n - id + 1));
  const rate = n / ((performance.now() - started) / 1000);
  db.close();
  return rate;
}

// Real workflows for scale: how many exec and webhook runs a second the trigger makes at
// concurrency 4, through debug() (no socket), with the store.
async function workflowRate(kind) {
  const http = kind === 'webhook' ? createServer((request, response) => request.resume().on('end', () => response.end('ok'))) : null;
  if (http) await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const workflow = http ? { webhook: `http://127.0.0.1:${http.address().port}/` } : { exec: 'true' };
  const t = await trigger({ port: 0, backend: 'node', workflow, store: join(dir, `${kind}-${Date.now()}.db`) });
  const n = kind === 'exec' ? 200 : 2000;
  const started = performance.now();
  await Promise.all(Array.from({ length: n }, () => t.debug('x')));
  const rate = n / ((performance.now() - started) / 1000);
  await t.close();
  if (http) {
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  }
  return rate;
}

const results = {};
const record = (name, value) => (results[name] ??= []).push(value);
try {
  for (let round = 1; round <= rounds; round++) {
    for (const backend of ['native', 'node']) {
      record(`${backend}, no store`, await endToEnd(backend, false));
      record(`${backend}, SQLite store`, await endToEnd(backend, true));
    }
    record('store writes, 1 run per transaction', storeWrites(1));
    record('store writes, 512 runs per transaction', storeWrites(512));
    record('exec workflow (`true`), with the store', await workflowRate('exec'));
    record('webhook workflow (local node:http), with the store', await workflowRate('webhook'));
    process.stderr.write(`round ${round} done\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`| setting | runs/s (median of ${rounds}) | rounds |`);
console.log('|---|---:|---|');
for (const [name, values] of Object.entries(results)) {
  console.log(`| ${name} | ${Math.round(median(values)).toLocaleString('en')} | ${values.map((v) => Math.round(v)).join(', ')} |`);
}
