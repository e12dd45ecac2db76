// Closed-loop ping-pong over TCP or UDP: N connections x message size x messages in flight.
// The load generator keeps every connection's window full, verifies each reply byte, and
// reads the server's CPU time from /proc/PID/stat at the start and end of the measurement.
// A framed shape's messages are frames (shape.framing), and a message counts when its whole
// reply frame is in.
import { runLoadgen } from '../lib/loadgen.js';

export function measure(context) {
  return measureLoadgen(context, 'pingpong', 'msgs_per_s');
}

/** One load-generator run in `mode`; `metric` names the JSON field quoted as the value. */
export async function measureLoadgen({ shape, server, config }, mode, metric) {
  const run = await runLoadgen({
    transport: shape.transport,
    port: server.port,
    connections: shape.connections,
    size: shape.size,
    inflight: mode === 'churn' ? 1 : shape.inflight,
    framing: shape.framing ?? null,
    payload: shape.echo ? 'upper' : undefined,
    duration: config.duration,
    warmup: config.warmup,
    pid: server.pid,
    cpu: config.loadgenCpu,
    netns: config.netns,
    mode,
  });
  if (!run.ok) return { ok: false, error: run.error, verificationFailed: run.verificationFailed };
  const r = run.result;
  return {
    ok: true,
    value: r[metric],
    [metric]: r[metric],
    p50_us: r.p50_us,
    p99_us: r.p99_us,
    server_cpu_ns_per_msg: r.server_cpu_ns_per_msg,
    server_cpu_util: r.server_cpu_util,
    errors: r.errors,
    lost: r.lost,
    ...(mode === 'churn' ? { sources: r.sources } : {}),
  };
}
