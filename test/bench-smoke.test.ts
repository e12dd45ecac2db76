/**
 * A smoke run of the benchmark suite's machinery (bench/run.js --smoke): one short round of
 * one ping-pong shape and a small idle-memory shape against the C reference and the native
 * built-in server, then a run against a server that answers with the wrong bytes, which the
 * load generator must catch. No figure is judged here: benchmarks are not timed tests.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const runner = join(root, 'bench', 'run.js');
const dir = mkdtempSync(join(tmpdir(), 'sockengine-bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBench(args: string[], timeoutMs = 20_000): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runner, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('benchmark suite, smoke run', () => {
  it('measures, prints a table and writes a well-formed results JSON', async () => {
    const out = join(dir, 'smoke.json');
    const ran = await runBench(['--smoke', '--out', out]);
    expect(ran.stderr).toMatch(/round 1\/1/); // progress while it runs
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/tcp 50 x 64 B ping-pong/);
    expect(ran.stdout).toMatch(/C reference/);

    const results = JSON.parse(readFileSync(out, 'utf8'));
    expect(results.schema).toBe(1);
    expect(results.mode).toBe('smoke');
    expect(results.machine.cores).toBeGreaterThan(0);
    expect(results.machine.kernel).toEqual(expect.any(String));
    expect(results.machine.node).toBe(process.version);
    expect(results.servers.map((s: { id: string }) => s.id)).toEqual(['c', 'native-builtin']);
    expect(results.shapes.map((s: { id: string }) => s.id)).toEqual(['tcp-50x64', 'idle-memory-served']);
    expect(results.runs).toHaveLength(4);

    for (const run of results.runs) {
      expect(run.ok, `${run.shape}/${run.server}: ${run.error}`).toBe(true);
      expect(run.errors).toBe(0);
      expect(run.lost).toBe(0);
      if (run.shape === 'tcp-50x64') {
        expect(run.msgs_per_s).toBeGreaterThan(0);
        expect(run.value).toBe(run.msgs_per_s);
        expect(run.p50_us).toBeGreaterThan(0);
        expect(run.p99_us).toBeGreaterThanOrEqual(run.p50_us);
        expect(run.server_cpu_ns_per_msg).toBeGreaterThan(0);
      } else {
        expect(run.connections).toBe(200);
        expect(run.rss_before).toBeGreaterThan(0);
        expect(run.rss_after).toBeGreaterThan(0);
        expect(Number.isFinite(run.bytes_per_conn)).toBe(true);
      }
    }
    const pingpong = results.summary['tcp-50x64'];
    expect(pingpong.c.ratio).toBe(1);
    expect(pingpong['native-builtin'].median).toBeGreaterThan(0);
    expect(pingpong['native-builtin'].ratio).toBeGreaterThan(0);
    expect(results.goals.length).toBeGreaterThan(0);
  }, 30_000);

  it('measures churn from 64 loopback sources, in a network namespace of its own when it can', async () => {
    const out = join(dir, 'churn.json');
    const ran = await runBench(['--smoke', '--shapes', 'churn', '--out', out]);
    expect(ran.code, ran.stderr).toBe(0);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    for (const run of results.runs) {
      expect(run.ok, `${run.shape}/${run.server}: ${run.error}`).toBe(true);
      expect(run.conns_per_s).toBeGreaterThan(0);
      expect(run.errors).toBe(0);
      expect(run.sources).toBe(64);
    }
    // Root with unshare, nsenter and ip (as CI runs): each measurement in a namespace of its
    // own; otherwise the run says churn shared the machine's namespace.
    const canUnshare = spawnSync('unshare', ['-n', '--', 'ip', 'link', 'set', 'lo', 'up']).status === 0;
    expect(results.config.churn_own_namespace).toBe(canUnshare);
    if (!canUnshare) expect(results.notes.join('\n')).toMatch(/churn: measured in the shared network namespace/);
  }, 30_000);

  it('the load generator refuses --sources where it means nothing', () => {
    const loadgen = join(root, 'build', 'Release', 'loadgen');
    const base = ['--transport', 'tcp', '--host', '127.0.0.1', '--port', '9', '--connections', '1', '--size', '64', '--inflight', '1', '--duration', '1'];
    const pingpong = spawnSync(loadgen, [...base, '--sources', '4'], { encoding: 'utf8' });
    expect(pingpong.status).toBe(2);
    expect(pingpong.stderr).toMatch(/--sources above 1 is for churn against a 127\.0\.0\.0\/8 address only/);
    const zero = spawnSync(loadgen, [...base, '--mode', 'churn', '--sources', '0'], { encoding: 'utf8' });
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/--sources/);
  });

  it('fails the run when a server answers with wrong bytes', async () => {
    const out = join(dir, 'wrong.json');
    // The built-in echo answers without uppercasing: the load generator must reject it.
    const ran = await runBench(['--smoke', '--shapes', 'tcp-50x64', '--servers', 'c,native-echo', '--out', out]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/WRONG REPLY BYTES/);
    expect(ran.stderr).toMatch(/VERIFICATION FAILED/);
    const results = JSON.parse(readFileSync(out, 'utf8'));
    const wrong = results.runs.find((r: { server: string }) => r.server === 'native-echo');
    expect(wrong.ok).toBe(false);
    expect(wrong.verificationFailed).toBe(true);
    expect(results.runs.find((r: { server: string }) => r.server === 'c').ok).toBe(true);
  }, 30_000);
});
