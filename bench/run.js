#!/usr/bin/env node
// The benchmark suite: `npm run bench` (full) and `npm run bench -- --quick`.
//
// Every measurement starts a fresh server process (bench/servers.js), drives it with the
// load generator (build/Release/loadgen, from bench/loadgen.cc) and stops it by pid. A server
// that cannot serve a shape (node:net has no framing) is skipped for it, with the reason. Rounds
// are interleaved: round 1 runs every shape on every server, then round 2 does it all
// again, and so on, so a slow minute on this shared machine hits all servers alike; every
// other round takes the servers in reverse order, so a machine that speeds up or slows down
// during a round favours no server's place in the line-up. Each figure is quoted as the
// median of the rounds and as the median of its per-round ratios to the C reference. Progress goes to stderr, the table to stdout, the results to
// bench/results/ as JSON, and the full run redraws docs/benchmarks.svg.
//
// Options:
//   --quick               one round, three shapes, 1 s each: under a minute
//   --smoke               the smallest run of the same machinery (used by the test suite)
//   --rounds N            rounds (full: 5)
//   --duration S          measured seconds per measurement (full: 1)
//   --warmup S            unmeasured seconds before it (full: 0.5)
//   --shapes a,b          shape ids (bench/shapes.js)
//   --servers a,b         server ids (bench/servers.js)
//   --idle-connections N  connections of the idle-memory shape (10000)
//   --out PATH            write the results JSON here only (no latest.json, no chart)
//   --svg PATH | --no-svg where to draw the chart (full run: docs/benchmarks.svg)
//   --micro | --no-micro  run bench/micro.js (tinybench) after the rounds (full run: yes)
//   --pin | --no-pin      server on cpu 1, load generator on cpu 0 (default: pinned when
//                         there are 2+ cores and taskset works)
//   --workers | --no-workers  the workers dimension after the rounds (full run: yes): the
//                         built-in and a JavaScript module on 1 and 2 workers, never pinned
//   --workers-only        the workers dimension alone
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadgenAvailable, loadgenPath } from './lib/loadgen.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { benchDir, cReferencePath, root } from './lib/paths.js';
import { runTool, startServer, stopServer } from './lib/proc.js';
import { evaluateGoals, formatGoals, formatRatio, formatTable, median, summarize } from './lib/report.js';
import { renderChart } from './lib/svg.js';
import { bunVersion, findBun, serverById, servers as allServers, workersDimension } from './servers.js';
import { shapeById, shapes as allShapes } from './shapes.js';
import * as churn from './workloads/churn.js';
import * as idleMemory from './workloads/idle-memory.js';
import * as pingpong from './workloads/pingpong.js';

const workloads = { pingpong, churn, 'idle-memory': idleMemory };

const PRESETS = {
  full: { rounds: 5, duration: 1, warmup: 0.5, shapes: allShapes.map((s) => s.id), micro: true, svg: true, workers: true },
  quick: {
    rounds: 1, duration: 1, warmup: 0.3, shapes: ['tcp-50x64', 'tcp-50x64x16', 'udp-16x64x8'], micro: false, svg: false, workers: false,
  },
  smoke: {
    rounds: 1,
    duration: 0.3,
    warmup: 0.1,
    shapes: ['tcp-50x64', 'idle-memory-served'],
    servers: ['c', 'native-builtin'],
    idleConnections: 200,
    micro: false,
    svg: false,
    workers: false,
  },
};

class UsageError extends Error {}

function parseArgs(argv) {
  const flags = new Set([
    '--quick', '--smoke', '--micro', '--no-micro', '--no-svg', '--pin', '--no-pin', '--help', '--workers', '--no-workers', '--workers-only',
  ]);
  const given = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (flags.has(arg)) {
      given.set(arg, true);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!['--rounds', '--duration', '--warmup', '--shapes', '--servers', '--idle-connections', '--out', '--svg'].includes(name)) {
      throw new UsageError(`unknown option '${arg}'`);
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    given.set(name, value);
  }
  if (given.has('--help')) return { help: true };
  const mode = given.has('--smoke') ? 'smoke' : given.has('--quick') ? 'quick' : 'full';
  const preset = PRESETS[mode];
  const number = (name, fallback, min, max, integer) => {
    if (!given.has(name)) return fallback;
    const v = Number(given.get(name));
    if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new UsageError(`${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
    }
    return v;
  };
  const list = (name, fallback, table, kind) => {
    if (!given.has(name)) return fallback;
    const ids = String(given.get(name)).split(',').map((s) => s.trim()).filter(Boolean);
    for (const id of ids) if (!table.has(id)) throw new UsageError(`unknown ${kind} '${id}' (known: ${[...table.keys()].join(', ')})`);
    return ids;
  };
  const config = {
    mode,
    rounds: number('--rounds', preset.rounds, 1, 20, true),
    duration: number('--duration', preset.duration, 0.1, 60, false),
    warmup: number('--warmup', preset.warmup, 0, 30, false),
    shapes: list('--shapes', preset.shapes, shapeById, 'shape'),
    servers: list('--servers', preset.servers ?? allServers.filter((s) => !s.hidden).map((s) => s.id), serverById, 'server'),
    idleConnections: number('--idle-connections', preset.idleConnections ?? 10000, 1, 15000, true),
    out: given.get('--out') ?? null,
    micro: given.has('--micro') ? true : given.has('--no-micro') ? false : preset.micro,
    pin: given.has('--pin') ? true : given.has('--no-pin') ? false : null,
    svg: given.has('--no-svg') ? null : given.get('--svg') ?? (preset.svg && !given.has('--out') ? join(root, 'docs', 'benchmarks.svg') : null),
    workers: given.has('--workers') || given.has('--workers-only') ? true : given.has('--no-workers') ? false : preset.workers,
  };
  // Only the workers dimension: no other shape, no chart, no micro-benchmarks.
  if (given.has('--workers-only')) Object.assign(config, { shapes: [], svg: null, micro: false, workersOnly: true });
  // The C reference anchors every ratio: always run it, first in each shape.
  if (!config.servers.includes('c')) config.servers.unshift('c');
  else config.servers = ['c', ...config.servers.filter((s) => s !== 'c')];
  return config;
}

const started = performance.now();
function progress(text) {
  const s = Math.round((performance.now() - started) / 1000);
  process.stderr.write(`[${String(Math.floor(s / 60)).padStart(2)}:${String(s % 60).padStart(2, '0')}] ${text}\n`);
}

function fmtValue(shape, v) {
  if (v === null || v === undefined) return '-';
  return `${Math.round(v).toLocaleString('en-US')} ${shape.unit}`;
}

function taskset() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Which engine was measured: the commit, whether native/ or lib/ had local changes, the addon file. */
function buildInfo() {
  const info = { commit: null, uncommitted_native_or_lib: null, addon: null };
  try {
    info.commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5000 }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'native', 'lib'], { cwd: root, encoding: 'utf8', timeout: 5000 });
    info.uncommitted_native_or_lib = changed.trim().length > 0;
  } catch {
    // not a git checkout
  }
  const addon = process.env.SOCKENGINE_ADDON || join(root, 'build', 'Release', 'sockengine.node');
  try {
    const st = statSync(addon);
    info.addon = { path: addon.startsWith(root) ? relative(root, addon) : addon, bytes: st.size, built: st.mtime.toISOString() };
  } catch {
    // no addon: the native servers are skipped
  }
  return info;
}

function stamp(date) {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

/** A warning when a binary is older than its source: a stale build lacks newer options (--framing). */
function staleBuild(binary, source) {
  try {
    if (statSync(binary).mtimeMs >= statSync(source).mtimeMs) return null;
  } catch {
    return null; // a missing binary is reported where it is needed
  }
  const show = (path) => (path.startsWith(root) ? relative(root, path) : path);
  return `${show(binary)} is older than ${show(source)}; rebuild it (npm run build:native) if the source changed since`;
}

/**
 * Whether this process can give a measurement a network namespace of its own (root, with
 * unshare, nsenter and ip): `unshare -n` of a command that brings loopback up.
 */
function freshNetworkNamespaces() {
  try {
    execFileSync('unshare', ['-n', '--', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore', timeout: 5000 });
    execFileSync('nsenter', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function measureOne(shape, server, config) {
  let command = server.command(shape.transport, shape.framing ?? null, shape.echo === true);
  // Pinned: the server (all its threads) on one core, the load generator on the other.
  if (config.serverCpu != null) command = { cmd: 'taskset', args: ['-c', String(config.serverCpu), command.cmd, ...command.args] };
  // Churn leaves a TIME_WAIT socket per connection in the kernel's table for 60 s, and a
  // connection costs less once that table is full (its limit, tcp_max_tw_buckets, drops the
  // rest): run after run, later servers found a fuller table and measured up to half again
  // faster. In a namespace of its own each churn measurement starts from an empty table;
  // the load generator joins it (nsenter), and the same pids keep the pinning and /proc.
  const ownNamespace = shape.workload === 'churn' && config.freshNetns;
  if (ownNamespace) {
    command = { cmd: 'unshare', args: ['-n', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', command.cmd, ...command.args] };
  }
  let running;
  try {
    running = await startServer({ ...command, cwd: root });
  } catch (error) {
    return { ok: false, error: `server did not start: ${error.message}` };
  }
  try {
    const workload = workloads[shape.workload];
    const netns = ownNamespace ? `/proc/${running.pid}/ns/net` : null;
    return await workload.measure({ shape, server: running, serverInfo: server, config: { ...config, netns } });
  } catch (error) {
    return { ok: false, error: `workload failed: ${error.stack ?? error}` };
  } finally {
    await stopServer(running);
  }
}

async function runMicro() {
  progress('micro-benchmarks (tinybench): bench/micro.js');
  const run = await runTool(process.execPath, [join(benchDir, 'micro.js'), '--json'], {
    timeoutMs: 180_000,
    onLine: (line) => {
      if (!line.startsWith('{')) process.stderr.write(`         ${line}\n`);
    },
  });
  const json = run.stdout.split('\n').filter((l) => l.startsWith('{')).pop();
  if (run.code !== 0 || !json) {
    progress(`micro-benchmarks failed (exit ${run.signal ?? run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return { ok: false, error: run.stderr.trim().slice(-2000) };
  }
  return { ok: true, ...JSON.parse(json) };
}

/**
 * Every shape on each of its servers, round after round (interleaved, so a slow minute hits
 * every server alike); `total` is for the progress count.
 */
async function measureRounds(shapes, serversFor, config, total) {
  const runs = [];
  let done = 0;
  for (let round = 1; round <= config.rounds; round++) {
    for (const shape of shapes) {
      progress(`round ${round}/${config.rounds}: ${shape.label}`);
      // Even rounds run the line-up backwards (C last): see the top of this file.
      const lineUp = round % 2 === 0 ? [...serversFor.get(shape.id)].reverse() : serversFor.get(shape.id);
      let reference = null;
      for (const server of lineUp) {
        const result = await measureOne(shape, server, config);
        done++;
        const run = { round, shape: shape.id, server: server.id, ...result };
        runs.push(run);
        if (server.id === 'c' && result.ok) reference = result.value;
        // Until C has run in this round (even rounds), there is nothing to divide by yet.
        const ratio = result.ok && reference ? formatRatio(result.value / reference) : '';
        const extra = result.ok && result.p50_us != null ? `  p50 ${result.p50_us} us` : '';
        const cpu = result.ok && result.server_cpu_util != null ? `  srv cpu ${result.server_cpu_util.toFixed(2)}` : '';
        progress(
          `  ${`(${done}/${total})`.padEnd(9)} ${server.id.padEnd(17)} ` +
            (result.ok ? `${fmtValue(shape, result.value).padStart(18)}  ${ratio ? `${ratio.padStart(6)} C` : ' '.repeat(8)}${extra}${cpu}` : `FAILED: ${result.error}`),
        );
      }
    }
  }
  return runs;
}

/**
 * The workers dimension (issue #12): the built-in and a JavaScript module on 1 and 2 workers
 * (bench/servers.js, workersDimension), unpinned: the server's threads and the load
 * generator share both cores. Returns its runs, summary and the 2-over-1 scaling per shape.
 */
async function runWorkersDimension(config, available, machine) {
  const servers = workersDimension.servers.map((id) => serverById.get(id)).filter((server) => {
    const why = server.unavailable();
    if (why) progress(`note: workers dimension: skipping ${server.id}: ${why}`);
    return !why;
  });
  const shapes = workersDimension.shapes.map((id) => shapeById.get(id));
  const serversFor = new Map(shapes.map((shape) => [shape.id, servers]));
  const unpinned = { ...config, serverCpu: null, loadgenCpu: null };
  progress(
    `workers dimension: ${config.rounds} round(s) x ${shapes.length} shape(s) x ${servers.length} server(s), ` +
      `not pinned (server threads and load generator share ${machine.cores} cores)`,
  );
  const runs = await measureRounds(shapes, serversFor, unpinned, config.rounds * shapes.length * servers.length);
  const summary = summarize(runs, workersDimension.shapes, servers.map((s) => s.id), config.rounds);
  const scaling = [];
  for (const shape of shapes) {
    for (const [label, one, two] of workersDimension.pairs) {
      const ratios = [];
      for (let round = 1; round <= config.rounds; round++) {
        const a = runs.find((r) => r.shape === shape.id && r.server === one && r.round === round);
        const b = runs.find((r) => r.shape === shape.id && r.server === two && r.round === round);
        if (a?.ok && b?.ok && a.value > 0) ratios.push(b.value / a.value);
      }
      const cpu = (id) => median(runs.filter((r) => r.shape === shape.id && r.server === id && r.ok).map((r) => r.server_cpu_util));
      scaling.push({
        shape: shape.id,
        handler: label,
        one_worker: summary[shape.id][one]?.median ?? null,
        two_workers: summary[shape.id][two]?.median ?? null,
        ratio: median(ratios),
        ratios,
        server_cpu_util_one: cpu(one),
        server_cpu_util_two: cpu(two),
      });
    }
  }
  return { shapes: workersDimension.shapes, servers: servers.map(({ id, label, short }) => ({ id, label, short })), runs, summary, scaling, pinned: false };
}

/** The workers dimension as text: its table, then how 2 workers compare with 1. */
function formatWorkers(workers, machine) {
  const shapes = workers.shapes.map((id) => shapeById.get(id));
  const servers = workers.servers.map(({ id }) => serverById.get(id));
  const lines = [
    `\nworkers (not pinned: server threads and the load generator share the machine's ${machine.cores} cores)`,
    formatTable(workers.summary, shapes, servers),
    '\nscaling, 2 workers over 1 (median of per-round ratios; srv cpu = server CPU in cores):',
  ];
  for (const row of workers.scaling) {
    const util = (v) => (v == null ? '-' : v.toFixed(2));
    lines.push(
      `  ${row.shape.padEnd(14)} ${row.handler.padEnd(20)} ${formatRatio(row.ratio).padStart(6)}` +
        `  (srv cpu ${util(row.server_cpu_util_one)} -> ${util(row.server_cpu_util_two)})`,
    );
  }
  return lines.join('\n');
}

async function main() {
  let config;
  try {
    config = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\nusage: npm run bench [-- --quick | --smoke] [--rounds N] [--shapes ids] [--servers ids] [--out PATH]\n`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(
      'usage: node bench/run.js [--quick | --smoke] [--rounds N] [--duration S] [--warmup S]\n' +
        '       [--shapes ids] [--servers ids] [--idle-connections N] [--out PATH] [--svg PATH | --no-svg]\n' +
        '       [--micro | --no-micro] [--pin | --no-pin] [--workers | --no-workers | --workers-only]\n' +
        `shapes: ${allShapes.map((s) => s.id).join(', ')}\n` +
        `servers: ${allServers.map((s) => s.id).join(', ')}\n`,
    );
    return 0;
  }
  if (!loadgenAvailable()) {
    process.stderr.write(`bench: the load generator ${loadgenPath()} is missing; build it with npm run build:native\n`);
    return 1;
  }
  for (const [binary, source] of [
    [loadgenPath(), join(benchDir, 'loadgen.cc')],
    [cReferencePath(), join(benchDir, 'reference', 'uppercase_server.c')],
  ]) {
    const stale = staleBuild(binary, source);
    if (stale) progress(`note: ${stale}`);
  }

  const bunPath = findBun();
  const bun = bunPath ? bunVersion(bunPath) : null;
  const machine = machineInfo({ bun });
  const notes = [];
  const servers = [];
  for (const id of config.servers) {
    const server = serverById.get(id);
    const why = server.unavailable();
    if (why) {
      notes.push(`${server.label}: skipped, ${why}`);
      progress(`note: skipping ${id}: ${why}`);
      continue;
    }
    servers.push(server);
  }
  if (!servers.some((s) => s.id === 'c')) {
    process.stderr.write('bench: the C reference server is needed for every ratio and is missing (npm run build:native)\n');
    return 1;
  }
  if (config.pin === null) config.pin = machine.cores >= 2 && taskset();
  if (config.pin) {
    config.loadgenCpu = 0;
    config.serverCpu = 1;
  }
  const shapes = config.shapes.map((id) => {
    const shape = shapeById.get(id);
    if (shape.workload !== 'idle-memory') return shape;
    const n = config.idleConnections.toLocaleString('en-US');
    const fix = (text) => text.replace(/10,000/g, n);
    return { ...shape, connections: config.idleConnections, label: fix(shape.label), what: fix(shape.what) };
  });
  if (shapes.some((shape) => shape.workload === 'churn')) {
    config.freshNetns = freshNetworkNamespaces();
    if (!config.freshNetns) {
      const note = 'churn: measured in the shared network namespace (a namespace per measurement needs root, unshare, nsenter and ip), so TIME_WAIT sockets left by one server\'s run change the next one\'s figure';
      notes.push(note);
      progress(`note: ${note}`);
    }
  }
  // Servers that cannot serve a shape (no framing) sit it out, said once per pair.
  const serversFor = new Map();
  for (const shape of shapes) {
    serversFor.set(shape.id, servers.filter((server) => {
      const why = server.unsupported?.(shape);
      if (!why) return true;
      notes.push(`${server.label}: skipped for ${shape.label}, ${why}`);
      progress(`note: skipping ${server.id} for ${shape.id}: ${why}`);
      return false;
    }));
  }
  const total = config.rounds * shapes.reduce((sum, shape) => sum + serversFor.get(shape.id).length, 0);
  progress(`${config.mode} run: ${config.rounds} round(s) x ${shapes.length} shape(s) x ${servers.length} server(s) (${total} measurements), ` +
    `${config.warmup} s warm-up + ${config.duration} s each, ` +
    `${config.pin ? `server pinned to cpu ${config.serverCpu}, loadgen to cpu ${config.loadgenCpu}` : 'not pinned'}; ${describeMachine(machine)}`);

  const buildAtStart = buildInfo();
  const runs = await measureRounds(shapes, serversFor, config, total);
  const workers = config.workers ? await runWorkersDimension(config, servers, machine) : null;

  const buildAtEnd = buildInfo();
  if (JSON.stringify(buildAtStart) !== JSON.stringify(buildAtEnd)) {
    const note = `the engine changed during the run (commit ${buildAtStart.commit} -> ${buildAtEnd.commit}, addon built ${buildAtStart.addon?.built} -> ${buildAtEnd.addon?.built})`;
    notes.push(note);
    progress(`note: ${note}`);
  }
  const summary = summarize(runs, shapes.map((s) => s.id), servers.map((s) => s.id), config.rounds);
  const goals = evaluateGoals(summary);
  const micro = config.micro ? await runMicro() : null;

  const date = new Date();
  const results = {
    schema: 1,
    date: date.toISOString(),
    mode: config.mode,
    machine,
    build: buildAtStart,
    config: {
      rounds: config.rounds,
      duration_s: config.duration,
      warmup_s: config.warmup,
      idle_connections: config.idleConnections,
      pinned: config.pin ? { server_cpu: config.serverCpu, loadgen_cpu: config.loadgenCpu } : false,
      loadgen: relative(root, loadgenPath()),
      // Churn measured in a network namespace of its own per measurement (null: no churn shape).
      churn_own_namespace: config.freshNetns ?? null,
    },
    notes,
    servers: servers.map(({ id, label, short }) => ({ id, label, short })),
    shapes: shapes.map(({ id, label, what, workload, transport, framing, echo, connections, size, inflight, served, metric, unit, lowerIsBetter }) => ({
      id, label, what, workload, transport, framing, echo, connections, size, inflight, served, metric, unit,
      lowerIsBetter: Boolean(lowerIsBetter),
    })),
    runs,
    summary,
    goals,
    workers,
    micro,
    elapsed_s: Math.round((performance.now() - started) / 100) / 10,
  };

  process.stdout.write(`\nsockengine benchmarks (${config.mode}), ${describeMachine(machine)}\n`);
  process.stdout.write(`${formatTable(summary, shapes, servers)}\n`);
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
  process.stdout.write(`\ngoals (issue #13):\n${formatGoals(goals)}\n`);
  if (workers) process.stdout.write(`${formatWorkers(workers, machine)}\n`);

  const written = [];
  const save = (path, text) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    written.push(path);
  };
  const json = `${JSON.stringify(results, null, 1)}\n`;
  if (config.out) {
    save(config.out, json);
  } else if (config.mode === 'smoke') {
    save(join(tmpdir(), `sockengine-bench-smoke-${process.pid}.json`), json);
  } else {
    const dir = join(benchDir, 'results');
    const suffix = config.workersOnly ? '-workers' : config.mode === 'full' ? '' : `-${config.mode}`;
    save(join(dir, `${stamp(date)}${suffix}.json`), json);
    if (config.mode === 'full' && !config.workersOnly) save(join(dir, 'latest.json'), json);
  }
  if (config.svg) save(config.svg, renderChart(results));
  for (const path of written) progress(`wrote ${path.startsWith(root) ? relative(root, path) : path}`);

  const failed = [...runs, ...(workers?.runs ?? [])].filter((r) => !r.ok);
  if (micro && !micro.ok) failed.push({ shape: 'micro', server: '-', error: 'micro-benchmarks failed' });
  if (failed.length > 0) {
    process.stderr.write(`bench: ${failed.length} measurement(s) failed:\n`);
    for (const f of failed) {
      process.stderr.write(`  ${f.shape} / ${f.server}${f.round ? ` (round ${f.round})` : ''}: ${f.verificationFailed ? 'WRONG REPLY BYTES: ' : ''}${f.error}\n`);
    }
    return 1;
  }
  progress(`done in ${results.elapsed_s} s`);
  return 0;
}

process.exitCode = await main();
