// From raw runs to quoted figures: medians over rounds, ratios to the C reference taken
// within each round, the table printed on stdout, and where each goal of the speed issue (#13) stands.

export function median(values) {
  const list = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  if (list.length === 0) return null;
  const mid = list.length >> 1;
  return list.length % 2 ? list[mid] : (list[mid - 1] + list[mid]) / 2;
}

/**
 * summary[shape][server] = { rounds: [value|null], median, ratio, ratios: [..], p50_us,
 * p99_us, cpu_ns, ok, failures }. A ratio is value / C's value in the same round; the quoted
 * ratio is the median of those per-round ratios.
 */
export function summarize(runs, shapeIds, serverIds, rounds) {
  const summary = {};
  for (const shape of shapeIds) {
    summary[shape] = {};
    const reference = (round) => runs.find((r) => r.shape === shape && r.server === 'c' && r.round === round);
    for (const server of serverIds) {
      const mine = runs.filter((r) => r.shape === shape && r.server === server);
      if (mine.length === 0) continue;
      const values = [];
      const ratios = [];
      for (let round = 1; round <= rounds; round++) {
        const run = mine.find((r) => r.round === round);
        const value = run?.ok ? run.value : null;
        values.push(value);
        const ref = reference(round);
        if (value !== null && ref?.ok && ref.value > 0) ratios.push(value / ref.value);
      }
      const okRuns = mine.filter((r) => r.ok);
      summary[shape][server] = {
        rounds: values,
        median: median(values),
        ratios,
        ratio: median(ratios),
        p50_us: median(okRuns.map((r) => r.p50_us)),
        p99_us: median(okRuns.map((r) => r.p99_us)),
        cpu_ns: median(okRuns.map((r) => r.server_cpu_ns_per_msg ?? r.server_cpu_ns_per_conn)),
        malloc_heap_bytes: median(okRuns.map((r) => r.malloc_heap_bytes_per_conn)),
        ok: okRuns.length,
        failures: mine.filter((r) => !r.ok).map((r) => `round ${r.round}: ${r.error}`),
      };
    }
  }
  return summary;
}

function fmtInt(v) {
  return v === null || v === undefined ? '-' : Math.round(v).toLocaleString('en-US');
}

function fmtNum(v, digits = 1) {
  return v === null || v === undefined ? '-' : v.toFixed(digits);
}

export function formatRatio(v) {
  return v === null || v === undefined ? '-' : `${v.toFixed(2)}x`;
}

function pad(text, width, right = false) {
  const s = String(text);
  if (s.length >= width) return s;
  return right ? s.padStart(width) : s.padEnd(width);
}

/** The results table, one block per shape, as plain text. */
export function formatTable(summary, shapes, servers) {
  const out = [];
  const rateCols = [
    ['server', 44, false],
    ['median', 11, true],
    ['unit', 7, false],
    ['x C', 6, true],
    ['p50 us', 9, true],
    ['p99 us', 9, true],
    ['srv CPU ns', 11, true],
    ['rounds', 0, false],
  ];
  const memoryCols = [
    ['server', 44, false],
    ['median', 11, true],
    ['unit', 7, false],
    ['x C', 6, true],
    ['malloc heap', 11, true],
    ['srv CPU ns', 11, true],
    ['rounds', 0, false],
  ];
  const line = (cols, cells) => cols.map(([, width, right], i) => pad(cells[i], width, right)).join('  ').trimEnd();
  for (const shape of shapes) {
    const rows = summary[shape.id];
    if (!rows) continue;
    const cols = shape.lowerIsBetter ? memoryCols : rateCols;
    out.push('');
    out.push(`${shape.label}  (${shape.what}${shape.lowerIsBetter ? '; lower is better' : ''})`);
    out.push(line(cols, cols.map(([name]) => name)));
    for (const server of servers) {
      const row = rows[server.id];
      if (!row) continue;
      const rounds = row.rounds.map((v) => (v === null ? 'FAIL' : fmtInt(v))).join(' / ');
      const cells = shape.lowerIsBetter
        ? [server.label, fmtInt(row.median), shape.unit, formatRatio(row.ratio), fmtInt(row.malloc_heap_bytes), fmtInt(row.cpu_ns), rounds]
        : [server.label, fmtInt(row.median), shape.unit, formatRatio(row.ratio), fmtNum(row.p50_us), fmtNum(row.p99_us), fmtInt(row.cpu_ns), rounds];
      out.push(line(cols, cells));
    }
  }
  out.push('');
  out.push('median of the rounds; x C = median of per-round ratios to the C reference of the same round;');
  out.push('srv CPU ns = server CPU time (user + system, all threads) per message; per connection for churn and idle;');
  out.push('malloc heap = growth of the brk heap ([heap] in smaps) per connection, a part of the RSS growth.');
  return out.join('\n');
}

const TCP_SHAPES = ['tcp-1x64', 'tcp-50x64', 'tcp-50x64x16', 'tcp-10x16k'];
const UDP_SHAPES = ['udp-1x64', 'udp-16x64x8'];
const RATE_SHAPES = [...TCP_SHAPES, ...UDP_SHAPES, 'churn'];

/**
 * Where each goal of the speed issue (#13) stands: [{ goal, met (true/false/null when not
 * measured), detail }]. Every comparison is of ratios to C taken within each round.
 */
export function evaluateGoals(summary) {
  const goals = [];
  const row = (shape, server) => summary[shape]?.[server] ?? null;
  const ratio = (shape, server) => row(shape, server)?.ratio ?? null;
  const value = (shape, server) => row(shape, server)?.median ?? null;

  {
    const parts = [];
    let met = null;
    for (const shape of [...TCP_SHAPES, ...UDP_SHAPES]) {
      const r = ratio(shape, 'native-builtin');
      if (r === null) continue;
      // Three decimals: 0.996 must not read as a met 1.00.
      parts.push(`${shape} ${r.toFixed(3)}${r < 1 ? ' (miss)' : ''}`);
      met = (met ?? true) && r >= 1;
    }
    goals.push({ goal: 'native built-in >= 1.00x C on every shape', met, detail: parts.join(', ') || 'not measured' });
  }

  {
    const parts = [];
    let met = null;
    for (const shape of RATE_SHAPES) {
      const mine = ratio(shape, 'native-js');
      const node = ratio(shape, 'node-js');
      const bun = ratio(shape, 'bun');
      if (mine === null || (node === null && bun === null)) continue;
      const ahead = (node === null || mine > node) && (bun === null || mine > bun);
      const others = [node === null ? null : `node ${node.toFixed(3)}`, bun === null ? null : `Bun ${bun.toFixed(3)}`].filter(Boolean);
      parts.push(`${shape} ${mine.toFixed(3)} vs ${others.join(', ')}${ahead ? '' : ' (miss)'}`);
      met = (met ?? true) && ahead;
    }
    goals.push({ goal: 'native + JS handler ahead of node backend and Bun on every shape', met, detail: parts.join('; ') || 'not measured' });
  }

  {
    // The bulk shape without its byte loop: what is left per message is the engine's.
    const mine = row('tcp-10x16k-echo', 'native-js');
    const bun = row('tcp-10x16k-echo', 'bun');
    const node = row('tcp-10x16k-echo', 'node-js');
    let met = null;
    let detail = 'not measured';
    if (mine?.cpu_ns != null && bun?.cpu_ns != null) {
      met = mine.cpu_ns < bun.cpu_ns;
      detail = `server CPU per 16 KiB message with an echo handler: native + JS ${fmtInt(mine.cpu_ns)} ns, Bun ${fmtInt(bun.cpu_ns)} ns${node?.cpu_ns != null ? `, node backend ${fmtInt(node.cpu_ns)} ns` : ''}`;
    }
    goals.push({ goal: "bulk through JavaScript: the engine's share (echo, no byte loop) below Bun's", met, detail });
  }

  const memoryGoal = (goal, server, limit) => {
    for (const [shape, how] of [
      ['idle-memory', 'silent connections'],
      ['idle-memory-served', 'after one echo'],
    ]) {
      const v = value(shape, server);
      if (v === null) continue;
      goals.push({ goal: `${goal}, ${how}`, met: v <= limit, detail: `${Math.round(v)} B per connection` });
    }
  };
  memoryGoal('idle memory <= 200 B per connection, native + JS handler', 'native-js', 200);
  memoryGoal('idle memory <= 64 B per connection, native built-in', 'native-builtin', 64);
  return goals;
}

export function formatGoals(goals) {
  return goals
    .map((g) => `${g.met === null ? '  n/a ' : g.met ? '  MET ' : '  MISS'}  ${g.goal}: ${g.detail}`)
    .join('\n');
}
