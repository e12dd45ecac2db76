#!/usr/bin/env node
// Prints a results file as the Markdown tables of docs/benchmarks.md:
//   node bench/markdown.js [RESULTS.json]   (default bench/results/latest.json)
// or, with --summary, the README's one table: every shape a row, every server a column,
// each cell the ratio to C (idle memory in bytes per connection).
//   node bench/markdown.js --summary [RESULTS.json]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './lib/paths.js';
import { describeMachine } from './lib/machine.js';

const args = process.argv.slice(2);
const summaryOnly = args.includes('--summary');
const input = args.find((arg) => !arg.startsWith('--')) ?? join(benchDir, 'results', 'latest.json');
const results = JSON.parse(readFileSync(input, 'utf8'));
const out = [];
const int = (v) => (v === null || v === undefined ? '-' : Math.round(v).toLocaleString('en-US'));
const num = (v, d = 1) => (v === null || v === undefined ? '-' : v.toFixed(d));
const ratio = (v) => (v === null || v === undefined ? '-' : v.toFixed(2));

if (summaryOnly) {
  const servers = results.servers.filter((server) => server.id !== 'node-raw');
  out.push(`| shape | ${servers.map((server) => server.short).join(' | ')} |`);
  out.push(`|---|${servers.map(() => '--:').join('|')}|`);
  for (const shape of results.shapes) {
    const rows = results.summary[shape.id];
    if (!rows) continue;
    const cells = servers.map((server) => {
      const row = rows[server.id];
      if (!row) return '-';
      return shape.lowerIsBetter ? `${int(row.median)} B` : ratio(row.ratio);
    });
    out.push(`| ${shape.label} | ${cells.join(' | ')} |`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  process.exit(0);
}

out.push(`Run of ${results.date.slice(0, 16).replace('T', ' ')} UTC (${results.mode}), ${describeMachine(results.machine)}; ` +
  `commit ${results.build?.commit ?? '?'}; ${results.config.rounds} rounds of ${results.config.warmup_s} s warm-up + ${results.config.duration_s} s; ` +
  `${results.config.pinned ? 'server pinned to one core, load generator to the other' : 'not pinned'}; ${results.elapsed_s} s in all.`);
out.push('');
for (const shape of results.shapes) {
  const rows = results.summary[shape.id];
  if (!rows) continue;
  out.push(`**${shape.label}** (${shape.unit}${shape.lowerIsBetter ? ', lower is better' : ''})`);
  out.push('');
  if (shape.lowerIsBetter) {
    out.push('| server | median | x C | malloc heap part | rounds |');
    out.push('|---|--:|--:|--:|---|');
  } else {
    out.push('| server | median | x C | p50 us | p99 us | server CPU ns/msg | rounds |');
    out.push('|---|--:|--:|--:|--:|--:|---|');
  }
  for (const server of results.servers) {
    const row = rows[server.id];
    if (!row) continue;
    const rounds = row.rounds.map((v) => (v === null ? 'FAIL' : int(v))).join(' / ');
    out.push(
      shape.lowerIsBetter
        ? `| ${server.label} | ${int(row.median)} | ${ratio(row.ratio)} | ${int(row.malloc_heap_bytes)} | ${rounds} |`
        : `| ${server.label} | ${int(row.median)} | ${ratio(row.ratio)} | ${num(row.p50_us)} | ${num(row.p99_us)} | ${int(row.cpu_ns)} | ${rounds} |`,
    );
  }
  out.push('');
}
if (results.notes?.length) {
  for (const note of results.notes) out.push(`Note: ${note}`);
  out.push('');
}
out.push('| goal | status | measured |');
out.push('|---|---|---|');
for (const goal of results.goals) out.push(`| ${goal.goal} | ${goal.met === null ? 'n/a' : goal.met ? 'met' : '**missed**'} | ${goal.detail} |`);
out.push('');
if (results.micro?.ok) {
  const m = results.micro;
  out.push('| uppercase kernel | native ns | JavaScript ns | native GB/s | JavaScript GB/s |');
  out.push('|---|--:|--:|--:|--:|');
  for (const u of m.uppercase) out.push(`| ${u.size.toLocaleString('en-US')} B | ${num(u.native_ns)} | ${num(u.js_ns)} | ${num(u.native_gb_per_s, 2)} | ${num(u.js_gb_per_s, 2)} |`);
  out.push('');
  out.push(`One crossing, binding.noop(): ${num(m.crossing.native_noop_ns)} ns; a plain JavaScript call in the same loop: ${num(m.crossing.js_call_ns)} ns.`);
  out.push('');
  out.push('| batch | delivery us per batch | delivery ns per event | with the writes, ns per event | events per wake-up |');
  out.push('|--:|--:|--:|--:|--:|');
  for (const d of m.delivery) out.push(`| ${d.batch} | ${num(d.delivery_us_per_batch, 2)} | ${int(d.delivery_ns_per_event)} | ${int(d.cycle_ns_per_event)} | ${num(d.events_per_wakeup, 2)} |`);
  out.push('');
}
process.stdout.write(`${out.join('\n')}\n`);
