// The chart of docs/benchmarks.svg, drawn from a results JSON with no library: grouped bars
// per shape (one bar per server, as a ratio to the C reference, with the 1.0 line), and the
// memory per idle connection in bytes, with the goals marked. The machine is named on top.
import { describeMachine } from './machine.js';

const COLORS = {
  c: '#616161',
  'native-builtin': '#0d47a1',
  'native-js': '#42a5f5',
  'node-js': '#2e7d32',
  'node-raw': '#9ccc65',
  bun: '#f9a825',
  'native-echo': '#c62828',
};

const GROUP_LABELS = {
  'tcp-1x64': ['tcp 1 x 64 B', 'ping-pong'],
  'tcp-50x64': ['tcp 50 x 64 B', 'ping-pong'],
  'tcp-50x64x16': ['tcp 50 x 64 B', 'x 16 pipelined'],
  'tcp-10x16k': ['tcp 10 x 16 KiB', 'x 4 stream'],
  'tcp-50x64-lines': ['tcp 50 x 64 B', 'lines x 16'],
  'tcp-10x16k-len4': ['tcp 10 x 16 KiB', 'len-prefix x 4'],
  'udp-1x64': ['udp 1 x 64 B', 'ping-pong'],
  'udp-16x64x8': ['udp 16 x 64 B', 'x 8 in flight'],
  churn: ['tcp churn x 16', 'conn / close'],
};

function esc(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function compact(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return `${Math.round(v)}`;
}

export function renderChart(results) {
  const W = 1040;
  const servers = results.servers;
  const rateShapes = results.shapes.filter((s) => !s.lowerIsBetter && results.summary[s.id]);
  const out = [];
  const text = (x, y, s, attrs = '') => out.push(`<text x="${x}" y="${y}" ${attrs}>${esc(s)}</text>`);

  // Header
  const rounds = results.config.rounds;
  text(24, 30, 'sockengine: uppercase echo throughput as a ratio to a plain C epoll server (higher is better)', 'class="title"');
  text(24, 50, `${describeMachine(results.machine)}; median of ${rounds} interleaved round${rounds > 1 ? 's' : ''}, ${results.date.slice(0, 10)}`, 'class="sub"');
  // Legend
  let lx = 24;
  for (const server of servers) {
    out.push(`<rect x="${lx}" y="62" width="12" height="12" fill="${COLORS[server.id] ?? '#999'}"/>`);
    text(lx + 17, 72, server.short ?? server.id, 'class="legend"');
    lx += 28 + (server.short ?? server.id).length * 6.6;
  }

  // Panel 1: ratios
  const top = 100;
  const bottom = 400;
  const left = 64;
  const right = W - 64;
  let maxRatio = 1.25;
  for (const shape of rateShapes) {
    for (const server of servers) {
      const r = results.summary[shape.id][server.id]?.ratio;
      if (r != null) maxRatio = Math.max(maxRatio, r);
    }
  }
  const yMax = Math.ceil((maxRatio * 1.12) / 0.25) * 0.25;
  const y = (v) => bottom - (v / yMax) * (bottom - top);
  for (let g = 0; g <= yMax + 1e-9; g += yMax > 3 ? 0.5 : 0.25) {
    out.push(`<line x1="${left}" x2="${right}" y1="${y(g).toFixed(1)}" y2="${y(g).toFixed(1)}" class="grid"/>`);
    text(left - 6, (y(g) + 4).toFixed(1), g.toFixed(2), 'class="axis" text-anchor="end"');
  }
  text(16, (top + bottom) / 2, 'x C reference', `class="axis" transform="rotate(-90 16 ${(top + bottom) / 2})" text-anchor="middle"`);
  const groupWidth = (right - left) / Math.max(1, rateShapes.length);
  const barWidth = Math.min(22, (groupWidth - 16) / Math.max(1, servers.length));
  rateShapes.forEach((shape, gi) => {
    const gx = left + gi * groupWidth + (groupWidth - barWidth * servers.length) / 2;
    servers.forEach((server, si) => {
      const row = results.summary[shape.id][server.id];
      const x = gx + si * barWidth;
      if (!row || row.ratio == null) {
        text((x + barWidth / 2).toFixed(1), bottom - 4, 'n/a', `class="val" transform="rotate(-90 ${(x + barWidth / 2).toFixed(1)} ${bottom - 4})"`);
        return;
      }
      const h = bottom - y(row.ratio);
      out.push(
        `<rect x="${(x + 1).toFixed(1)}" y="${y(row.ratio).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[server.id] ?? '#999'}">` +
          `<title>${esc(`${server.label}, ${shape.label}: ${compact(row.median)} ${shape.unit}, ${row.ratio.toFixed(2)}x C`)}</title></rect>`,
      );
      const cx = (x + barWidth / 2 + 3).toFixed(1);
      const cy = (y(row.ratio) - 4).toFixed(1);
      text(cx, cy, row.ratio.toFixed(2), `class="val" transform="rotate(-90 ${cx} ${cy})"`);
    });
    const [l1, l2] = GROUP_LABELS[shape.id] ?? [shape.label, ''];
    const cx = (left + gi * groupWidth + groupWidth / 2).toFixed(1);
    text(cx, bottom + 18, l1, 'class="group" text-anchor="middle"');
    text(cx, bottom + 32, l2, 'class="group" text-anchor="middle"');
    const c = results.summary[shape.id].c?.median;
    if (c != null) text(cx, bottom + 47, `C: ${compact(c)} ${shape.unit}`, 'class="note" text-anchor="middle"');
  });
  out.push(`<line x1="${left}" x2="${right}" y1="${y(1).toFixed(1)}" y2="${y(1).toFixed(1)}" class="one"/>`);
  text(right + 6, (y(1) + 4).toFixed(1), 'C = 1.00', 'class="onelabel"');
  out.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" class="axisline"/>`);

  // Panel 2: memory per idle connection, silent and after one echo
  let height = bottom + 70;
  const memoryShapes = ['idle-memory', 'idle-memory-served']
    .map((id) => results.shapes.find((s) => s.id === id))
    .filter((shape) => shape && results.summary[shape.id]);
  if (memoryShapes.length > 0) {
    const mTop = bottom + 104;
    const n = memoryShapes[0].connections.toLocaleString('en-US');
    text(24, mTop - 30, `Memory per idle TCP connection: server RSS growth with ${n} idle connections, divided by ${n} (lower is better)`, 'class="title2"');
    text(24, mTop - 14, memoryShapes.length > 1 ? 'solid: connected, silent; light: after echoing one 64 B message each' : memoryShapes[0].what, 'class="sub"');
    const rows = servers.filter((s) => memoryShapes.some((shape) => results.summary[shape.id][s.id]));
    const labelRight = 200;
    const barLeft = 208;
    const barRight = W - 90;
    let maxBytes = 200;
    for (const shape of memoryShapes) for (const s of rows) maxBytes = Math.max(maxBytes, results.summary[shape.id][s.id]?.median ?? 0);
    const xb = (v) => barLeft + (Math.max(0, v) / maxBytes) * (barRight - barLeft);
    const barH = 12;
    const rowH = memoryShapes.length * (barH + 2) + 8;
    rows.forEach((server, i) => {
      const yy = mTop + i * rowH;
      text(labelRight, yy + 4 + (memoryShapes.length * (barH + 2)) / 2 + 3, server.short ?? server.id, 'class="legend" text-anchor="end"');
      memoryShapes.forEach((shape, k) => {
        const row = results.summary[shape.id][server.id];
        const by = yy + 4 + k * (barH + 2);
        if (!row || row.median == null) {
          text(barLeft + 4, by + barH - 2, 'n/a', 'class="val"');
          return;
        }
        const opacity = k === 0 ? 1 : 0.45;
        out.push(
          `<rect x="${barLeft}" y="${by}" width="${Math.max(1, xb(row.median) - barLeft).toFixed(1)}" height="${barH}" fill="${COLORS[server.id] ?? '#999'}" fill-opacity="${opacity}">` +
            `<title>${esc(`${server.label}, ${shape.label}: ${Math.round(row.median)} B per connection`)}</title></rect>`,
        );
        text((xb(row.median) + 5).toFixed(1), by + barH - 2, `${Math.round(row.median).toLocaleString('en-US')} B`, 'class="val2"');
      });
    });
    const mBottom = mTop + rows.length * rowH;
    for (const [limit, label] of [
      [64, 'goal, built-in: 64 B'],
      [200, 'goal, JS handler: 200 B'],
    ]) {
      const gx = xb(limit).toFixed(1);
      out.push(`<line x1="${gx}" x2="${gx}" y1="${mTop - 2}" y2="${mBottom + 2}" class="goal"/>`);
      text(gx, mBottom + 15 + (limit === 200 ? 12 : 0), label, 'class="note" text-anchor="middle"');
    }
    out.push(`<line x1="${barLeft}" x2="${barLeft}" y1="${mTop - 2}" y2="${mBottom + 2}" class="axisline"/>`);
    height = mBottom + 48;
  }
  text(24, height - 8, 'Generated by bench/run.js (npm run bench); method and numbers: docs/benchmarks.md', 'class="note"');

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>',
    '.title{font-size:16px;font-weight:bold;fill:#212121}.title2{font-size:14px;font-weight:bold;fill:#212121}',
    '.sub{font-size:12px;fill:#424242}.legend{font-size:12px;fill:#212121}.axis{font-size:11px;fill:#616161}',
    '.group{font-size:12px;fill:#212121}.note{font-size:11px;fill:#757575}.val{font-size:10px;fill:#212121}.val2{font-size:11px;fill:#212121}',
    '.grid{stroke:#e0e0e0;stroke-width:1}.axisline{stroke:#9e9e9e;stroke-width:1}',
    '.one{stroke:#c62828;stroke-width:1.5;stroke-dasharray:6 4}.onelabel{font-size:11px;fill:#c62828}',
    '.goal{stroke:#c62828;stroke-width:1;stroke-dasharray:4 3}',
    '</style>',
    `<rect width="${W}" height="${height}" fill="#ffffff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}
