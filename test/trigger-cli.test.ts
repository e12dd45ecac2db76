/**
 * `sockengine trigger` and `sockengine runs`, end to end as the write-up runs it: the
 * trigger command on both backends, seed 000's own Python clients (unchanged, see
 * test/python/seeds/writeup/), the records read back with `runs list/show`, Debug, the
 * signals, UDP drop warnings and bad command lines.
 */
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openRunStore } from '../lib/index.js';
import { backends, cli, finished, killStarted, root, startProcess, waitFor, type Proc } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sockengine-trigger-cli-'));
afterEach(killStarted);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const writeup = join(root, 'test', 'python', 'seeds', 'writeup');
const workflowModule = join(root, 'test', 'fixtures', 'trigger-workflow.mjs');
const READY = /^listening trigger (tcp|udp) 127\.0\.0\.1:(\d+) backend=(native|node) events=(\S+) store=(\S+)$/m;
/** The fields `runs list --json` promises, in the order the issue lists them. */
const FIELDS = ['id', 'event', 'source', 'remoteAddress', 'remotePort', 'session', 'payloadText', 'payloadBase64', 'status', 'output', 'error', 'receivedAt', 'startedAt', 'finishedAt'];

async function startTrigger(args: string[]): Promise<{ proc: Proc; port: number; line: string }> {
  const proc = startProcess('sockengine trigger', process.execPath, [cli, 'trigger', '--host', '127.0.0.1', '--port', '0', ...args]);
  await waitFor(() => proc.done || READY.test(proc.stdout), 'the trigger to listen', 15_000);
  const match = READY.exec(proc.stdout);
  if (!match) throw new Error(`sockengine trigger did not start: ${proc.stdout} ${proc.stderr}`);
  return { proc, port: Number(match[2]), line: match[0] };
}

function sockengine(args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: 'utf8', timeout: 15_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function runsJson(store: string, extra: string[] = []): Array<Record<string, unknown>> {
  const result = sockengine(['runs', '--store', store, 'list', '--json', ...extra]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Array<Record<string, unknown>>;
}

/** Records in `store` now, read in this process (cheaper than a `runs` command per poll). */
function recordCount(store: string): number {
  const reader = openRunStore(store, { readonly: true });
  try {
    return reader.count();
  } finally {
    reader.close();
  }
}

/** Runs one of the write-up's clients against `port` (see redirect.py). */
async function writeupClient(script: string, port: number): Promise<void> {
  const proc = startProcess(script, 'python3', [join(writeup, 'redirect.py'), String(port), join(writeup, script)], { input: '' });
  await finished(proc);
  expect(proc.stderr).toBe('');
  expect(proc.code).toBe(0);
}

async function stop(proc: Proc): Promise<void> {
  proc.child.kill('SIGTERM');
  await finished(proc);
  expect(proc.code).toBe(0);
}

describe.each(backends)('sockengine trigger on the %s backend', (backend) => {
  it("the write-up's TCP client makes Connect, Data and Close records; --debug runs first; runs list --json shows them oldest first", async () => {
    const store = join(dir, `tcp-${backend}.db`);
    const { proc, port, line } = await startTrigger(['--backend', backend, '--run', workflowModule, '--store', store, '--debug', 'simulated']);
    expect(line).toBe(`listening trigger tcp 127.0.0.1:${port} backend=${backend} events=connect,data,close store=${store}`);
    expect(proc.stdout).toBe(`${line}\ndebug run 1 ok output=${JSON.stringify('data from debug: "simulated"')}\n`);
    await writeupClient('tcp_client.py', port);
    await waitFor(() => recordCount(store) === 4, 'four records');
    const runs = runsJson(store);
    for (const run of runs) expect(Object.keys(run)).toEqual(expect.arrayContaining(FIELDS));
    expect(runs.map((r) => [r.id, r.event, r.source, r.payloadText, r.payloadBase64, r.status, r.output, r.error])).toEqual([
      [1, 'data', 'debug', 'simulated', Buffer.from('simulated').toString('base64'), 'ok', 'data from debug: "simulated"', null],
      [2, 'connect', 'client', '', '', 'ok', 'connect from client: ""', null],
      [3, 'data', 'client', 'Hello TCP Server\0', Buffer.from('Hello TCP Server\0').toString('base64'), 'ok', 'data from client: "Hello TCP Server\\u0000"', null],
      [4, 'close', 'client', '', '', 'ok', 'close from client: ""', null],
    ]);
    const clientRuns = runs.slice(1);
    expect(new Set(clientRuns.map((r) => r.session)).size).toBe(1);
    expect(clientRuns.every((r) => r.remoteAddress === '127.0.0.1' && typeof r.remotePort === 'number' && r.remotePort > 0)).toBe(true);
    expect(runs[0]).toMatchObject({ remoteAddress: null, remotePort: null, session: null });
    for (const run of runs) {
      for (const time of ['receivedAt', 'startedAt', 'finishedAt']) expect(new Date(run[time] as string).toISOString()).toBe(run[time]);
    }
    expect(runsJson(store, ['--limit', '2']).map((r) => r.id)).toEqual([3, 4]);

    const shown = sockengine(['runs', '--store', store, 'show', '3']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('event:     data');
    expect(shown.stdout).toContain('payload:   17 bytes, as text "Hello TCP Server\\u0000"');
    expect(shown.stdout).toContain('  000000  48 65 6c 6c 6f 20 54 43 50 20 53 65 72 76 65 72\n  000010  00\n');
    expect(JSON.parse(sockengine(['runs', '--store', store, 'show', '3', '--json']).stdout)).toEqual(runs[2]);
    const table = sockengine(['runs', '--store', store, 'list']).stdout.split('\n');
    expect(table[0]).toMatch(/^ID\s+RECEIVED\s+EVENT\s+SOURCE\s+CLIENT\s+STATUS\s+PAYLOAD$/);
    expect(table[3]).toMatch(/^3\s+\S+Z\s+data\s+client\s+127\.0\.0\.1:\d+\s+ok\s+"Hello TCP Server\\u0000"$/);
    await stop(proc);
    expect(proc.stderr).toBe('');
  });

  it('--reply --framing line sends each line run\'s output back to its client; --events data records only data', async () => {
    const store = join(dir, `reply-${backend}.db`);
    const { proc, port, line } = await startTrigger(['--backend', backend, '--run', workflowModule, '--store', store, '--reply', '--framing', 'line', '--events', 'data']);
    expect(line).toContain(' events=data ');
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    socket.write('first\nsecond\n');
    await waitFor(() => received.split('\n').length === 3, 'two replies');
    expect(received).toBe('data from client: "first"\ndata from client: "second"\n');
    socket.end();
    await new Promise((resolve) => socket.once('close', resolve));
    await stop(proc);
    expect(runsJson(store).map((r) => [r.event, r.payloadText])).toEqual([['data', 'first'], ['data', 'second']]);
  });

  it("the write-up's UDP client makes one datagram record; --exec runs a command per run", async () => {
    const store = join(dir, `udp-${backend}.db`);
    const { proc, port, line } = await startTrigger(['--backend', backend, '--transport', 'udp', '--exec', 'cat', '--store', store]);
    expect(line).toContain(' events=datagram ');
    await writeupClient('udp_client.py', port);
    await waitFor(() => recordCount(store) === 1, 'the datagram record');
    const [run] = runsJson(store);
    expect(run).toMatchObject({ event: 'datagram', source: 'client', payloadText: 'Hello UDP Server', status: 'ok', session: null, remoteAddress: '127.0.0.1' });
    // `cat` echoes its stdin: the run as JSON.
    expect(JSON.parse(run!.output as string)).toMatchObject({ event: 'datagram', payloadText: 'Hello UDP Server', payloadBase64: 'SGVsbG8gVURQIFNlcnZlcg==' });
    await stop(proc);
  });
});

describe('sockengine trigger: overload, signals and bad command lines', () => {
  it('warns on stderr when datagrams are dropped, and records the runs it stopped at SIGINT', async () => {
    const store = join(dir, 'drops.db');
    const { proc, port } = await startTrigger(['--transport', 'udp', '--exec', 'sleep 5', '--concurrency', '1', '--queue', '1', '--store', store, '--shutdown-timeout', '100']);
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < 20; i++) socket.send(`d${i}`, port, '127.0.0.1');
    await waitFor(() => proc.stderr.includes('(18 in all)'), 'the drop warning', 5000);
    socket.close();
    // One line a second at most: normally one line for the burst, two if a tick fell inside it.
    const lines = proc.stderr.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(2);
    for (const line of lines) expect(line).toMatch(/^sockengine: dropped \d+ datagrams \(\d+ in all\): the run queue was full \(--queue 1, --concurrency 1\)$/);
    expect(lines.at(-1)).toContain('(18 in all)');
    proc.child.kill('SIGINT');
    await finished(proc);
    expect(proc.code).toBe(0);
    expect(runsJson(store).map((r) => [r.payloadText, r.status, r.error])).toEqual([
      ['d0', 'error', 'not finished: the trigger closed 100 ms after it was asked to'],
      ['d1', 'error', 'not run: the trigger closed before the run started'],
    ]);
  });

  it('bad command lines exit 2 naming the flag; a missing store exits 1', () => {
    const cases: Array<[string[], RegExp]> = [
      [['trigger', '--port', '0'], /give the workflow: --run PATH, --exec CMD or --webhook URL/],
      [['trigger', '--exec', 'cat', '--run', workflowModule], /give one workflow, not --run and --exec/],
      [['trigger', '--exec', 'cat', '--transport', 'udp', '--events', 'data'], /--events applies to tcp only/],
      [['trigger', '--exec', 'cat', '--events', 'connect,open'], /--events takes connect, data and close, got 'open'/],
      [['trigger', '--exec', 'cat', '--queue', '0'], /--queue must be a whole number >= 1, got '0'/],
      [['trigger', '--webhook', 'not a url'], /--webhook must be an http:\/\/ or https:\/\/ URL/],
      [['trigger', '--run', join(root, 'package.json')], /--run .*package.json/],
      [['trigger', '--exec', 'cat', '--colour', 'red'], /unknown option '--colour'/],
      [['runs', 'delete'], /runs takes list or show, got 'delete'/],
      [['runs', 'show'], /runs show needs one run ID/],
    ];
    for (const [args, message] of cases) {
      const result = sockengine(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
    }
    const missing = sockengine(['runs', '--store', join(dir, 'nothing-here.db'), 'list']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no run store at .*nothing-here.db/);
  });
});
