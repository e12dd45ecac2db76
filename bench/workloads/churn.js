// Connection churn: each of N clients connects, sends one message, verifies the uppercase
// reply, closes, and starts over. Quoted in connections per second (one cycle = one).
import { runLoadgen } from '../lib/loadgen.js';

export async function measure({ shape, server, config }) {
  const run = await runLoadgen({
    transport: 'tcp',
    port: server.port,
    connections: shape.connections,
    size: shape.size,
    inflight: 1,
    duration: config.duration,
    warmup: config.warmup,
    pid: server.pid,
    cpu: config.loadgenCpu,
    mode: 'churn',
  });
  if (!run.ok) return { ok: false, error: run.error, verificationFailed: run.verificationFailed };
  const r = run.result;
  return {
    ok: true,
    value: r.conns_per_s,
    conns_per_s: r.conns_per_s,
    p50_us: r.p50_us,
    p99_us: r.p99_us,
    server_cpu_ns_per_msg: r.server_cpu_ns_per_msg,
    server_cpu_util: r.server_cpu_util,
    errors: r.errors,
    lost: r.lost,
  };
}
