// Memory per idle connection: the server's resident set (VmRSS) grows by how much when it
// holds N idle TCP connections? RSS is the server process's user-space memory only: the
// kernel's socket structures and buffers are not in it.
//
// Two shapes use it: `idle-memory` (connections that have not sent anything yet) and
// `idle-memory-served` (each connection first echoes one 64 B message, then sits idle, like a
// keep-alive client between requests). An engine that builds per-connection objects lazily
// shows the difference.
//
// 1. Warm-up: 200 connections do the same and close, so the code paths, the allocator's
//    arenas and JIT output that any connection needs exist before the baseline.
// 2. Baseline: full GCs (SIGUSR2, for servers that take it) until RSS stops falling; see
//    settledRss().
// 3. N connections open (and echo, when served) and sit idle. The server's descriptor count
//    (/proc/PID/fd) must have grown by N, so it has accepted every one; then the same
//    reading; then the load generator is released and closes them.
// Also recorded: the growth of the brk heap ([heap] in smaps, glibc's main arena), where a C
// or C++ server's own per-connection memory lands, apart from the JavaScript heap's pages.
// (after - baseline) / N is the figure. Tables sized for N (hash buckets, Maps) count:
// the warm-up is far smaller than N on purpose.
import { runLoadgen } from '../lib/loadgen.js';
import { readFileSync, readdirSync } from 'node:fs';
import { readRss, sleep } from '../lib/proc.js';

const WARMUP_CONNECTIONS = 200;
const STEP_MS = 100;
const GC_STEP_MS = 200;
const MAX_STEPS = 10;
const TOLERANCE = 16 * 1024;

/** Resident bytes of the process's brk heap ([heap] in /proc/PID/smaps: glibc's main arena). */
function mallocHeap(pid) {
  try {
    const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
    const at = smaps.search(/ \[heap\]\n/);
    if (at < 0) return 0;
    const match = /^Rss:\s+(\d+) kB/m.exec(smaps.slice(at));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return null;
  }
}

/**
 * A reading of live memory. Servers with a garbage collector get full GCs (SIGUSR2, see
 * servers/gc-on-signal.js) every 200 ms until RSS has not fallen for three steps: V8 gives
 * pages back only after several collections, and a drift of 1-2 MB is as large as the whole
 * figure of a lean engine at 10,000 connections. The lowest reading counts. Servers without
 * a collector are read every 100 ms until three readings agree within 16 KiB. At most 10
 * steps.
 */
async function settledRss(pid, gcSignal) {
  let lowest = null;
  let previous = null;
  let calm = 0;
  for (let step = 0; step < MAX_STEPS && calm < 3; step++) {
    if (gcSignal) {
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        return null;
      }
    }
    await sleep(gcSignal ? GC_STEP_MS : STEP_MS);
    const rss = readRss(pid);
    if (rss === null) return null;
    calm = previous !== null && (gcSignal ? rss >= previous - TOLERANCE : Math.abs(rss - previous) <= TOLERANCE) ? calm + 1 : 0;
    previous = rss;
    lowest = lowest === null ? rss : Math.min(lowest, rss);
  }
  return { rss: gcSignal ? lowest : previous, heap: mallocHeap(pid) };
}

function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Waits (5 s at most) until the server holds `count` descriptors. */
async function acceptedAll(pid, count) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const now = fdCount(pid);
    if (now === null) return false;
    if (now >= count) return true;
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
}

export async function measure({ shape, server, config, serverInfo }) {
  const connections = config.idleConnections ?? shape.connections;
  // size 0: connect only (loadgen --mode idle --size 0).
  const size = shape.served ? shape.size : 0;
  const common = { transport: 'tcp', port: server.port, size, warmup: 0, mode: 'idle', cpu: config.loadgenCpu };
  const warm = await runLoadgen({ ...common, connections: Math.min(WARMUP_CONNECTIONS, connections), duration: 0.01 });
  if (!warm.ok) return { ok: false, error: `warm-up: ${warm.error}`, verificationFailed: warm.verificationFailed };
  await sleep(100);
  const before = await settledRss(server.pid, serverInfo.gcSignal);
  const fdsBefore = fdCount(server.pid);
  if (before === null || fdsBefore === null) return { ok: false, error: 'cannot read the server RSS (did it exit?)' };

  let reading;
  let accepted = true;
  const run = await runLoadgen({
    ...common,
    connections,
    duration: 12,
    pid: server.pid,
    stdinRelease: true,
    onLine(line, child) {
      if (!line.startsWith('{"idle_ready"')) return;
      reading = acceptedAll(server.pid, fdsBefore + connections)
        .then((all) => {
          accepted = all;
          return all ? settledRss(server.pid, serverInfo.gcSignal) : null;
        })
        .finally(() => child.stdin.end());
    },
  });
  const after = reading ? await reading : null;
  if (!run.ok) return { ok: false, error: run.error, verificationFailed: run.verificationFailed };
  if (!accepted) return { ok: false, error: `the server did not accept all ${connections} connections within 5 s` };
  if (after === null) return { ok: false, error: 'no RSS reading while the connections were held' };
  const ready = run.result.ready;
  if (ready !== connections) return { ok: false, error: `only ${ready} of ${connections} connections were ready` };
  const perConnection = (after.rss - before.rss) / ready;
  return {
    ok: true,
    value: perConnection,
    bytes_per_conn: perConnection,
    malloc_heap_bytes_per_conn: before.heap === null || after.heap === null ? null : (after.heap - before.heap) / ready,
    rss_before: before.rss,
    rss_after: after.rss,
    connections: ready,
    open_s: run.result.duration_s,
    server_cpu_ns_per_conn: run.result.server_cpu_ns_per_msg,
    p50_us: null,
    p99_us: null,
    errors: run.result.errors,
    lost: run.result.lost,
  };
}
