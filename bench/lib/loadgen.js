// Runs bench/loadgen.cc's binary and reads its JSON. The binary verifies every reply byte;
// its exit status says how a run ended (0 ok, 1 connection trouble or no message, 2 bad
// arguments, 3 wrong reply bytes), and a wrong byte fails the measurement.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runTool } from './proc.js';
import { root } from './paths.js';

/** The load generator: SOCKENGINE_LOADGEN, else node-gyp's build/Release/loadgen. */
export function loadgenPath() {
  return process.env.SOCKENGINE_LOADGEN || join(root, 'build', 'Release', 'loadgen');
}

export function loadgenAvailable() {
  return existsSync(loadgenPath());
}

/** The last line of stdout that parses as a JSON object, or null. */
function lastJson(stdout) {
  const found = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('{'));
  for (let i = found.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(found[i]);
    } catch {
      // not JSON after all; keep looking
    }
  }
  return null;
}

/**
 * One loadgen run. `options`: transport, port, connections, size, inflight, duration,
 * warmup, pid, mode, framing ('line' or 'length:4', tcp ping-pong only), payload ('upper':
 * send what an uppercase server answers, so an echo is right too), cpu (pin to this
 * core), netns (a /proc/PID/ns/net to run in), plus stdinRelease and onLine for idle mode. Resolves
 * { ok, code, result, error, verificationFailed }.
 */
export async function runLoadgen(options) {
  const args = [
    '--transport', options.transport,
    '--host', options.host ?? '127.0.0.1',
    '--port', String(options.port),
    '--connections', String(options.connections),
    '--size', String(options.size),
    '--inflight', String(options.inflight ?? 1),
    '--duration', String(options.duration),
    '--warmup', String(options.warmup ?? 0),
    '--mode', options.mode ?? 'pingpong',
    '--json',
  ];
  if (options.framing) args.push('--framing', options.framing);
  if (options.payload) args.push('--payload', options.payload);
  if (options.pid) args.push('--pid', String(options.pid));
  if (options.stdinRelease) args.push('--stdin-release');
  // loadgen's own watchdog ends it by warmup + duration + 4.5 s (+ 2 s + 1 ms per idle
  // connection); this limit only catches a loadgen that cannot even start.
  const budget = (options.warmup ?? 0) + options.duration + 8 + (options.mode === 'idle' ? 2 + options.connections / 1000 : 0);
  // Pinned runs put the load generator on its own core (taskset execs it: same pid).
  let [cmd, argv] = options.cpu == null ? [loadgenPath(), args] : ['taskset', ['-c', String(options.cpu), loadgenPath(), ...args]];
  // In the server's network namespace (bench/run.js gives churn one of its own).
  if (options.netns) [cmd, argv] = ['nsenter', [`--net=${options.netns}`, '--', cmd, ...argv]];
  const run = await runTool(cmd, argv, {
    timeoutMs: budget * 1000,
    onLine: options.onLine,
    stdin: options.stdinRelease ? 'pipe' : 'ignore',
  });
  const result = lastJson(run.stdout);
  const verificationFailed = run.code === 3 || /VERIFICATION FAILED/.test(run.stderr);
  const ok = run.code === 0 && result !== null;
  let error;
  if (!ok) {
    const said = run.stderr.trim().split('\n').filter(Boolean).slice(0, 3).join(' | ');
    error = run.timedOut
      ? `loadgen timed out after ${budget} s`
      : `loadgen exit ${run.signal ?? run.code}${said ? `: ${said}` : ''}`;
  }
  return { ok, code: run.code, result, error, verificationFailed, stderr: run.stderr };
}
