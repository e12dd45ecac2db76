/**
 * One server on several threads (listen({ workers })) and several servers on one port
 * (reusePort): real Python clients on loopback, counters per worker, failures reported,
 * nothing left behind by close(). The node backend can do neither on Node 20 (node:net and
 * node:dgram have no reusePort before 22.12), and must say so.
 */
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type Server, type UdpServer, type WorkerError } from '../lib/index.js';
import { nodeHasReusePort } from '../lib/node/reuse-port.js';
import { backends, openFds, root, startCli, waitFor } from './helpers.js';

const fixtures = join(root, 'test', 'fixtures');
const scripts = join(root, 'test', 'python');
const uppercaseModule = join(fixtures, 'workers-uppercase.mjs');
const udpModule = join(fixtures, 'workers-udp-uppercase.mjs');
const crashModule = join(fixtures, 'workers-crash.mjs');

const open: Array<Server | UdpServer> = [];
async function track<T extends Server | UdpServer>(server: Promise<T>): Promise<T> {
  const started = await server;
  open.push(started);
  return started;
}
afterEach(async () => {
  for (const server of open.splice(0)) await server.close();
});

/** Runs a Python client from test/python against the port; resolves with its output. */
function python(name: string, port: number, extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Without the sanitizer's LD_PRELOAD that scripts/sanitize.sh gives this process.
    const child = spawn('python3', [join(scripts, `${name}.py`), '127.0.0.1', String(port), ...extra], {
      cwd: scripts,
      env: { ...process.env, LD_PRELOAD: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Sends one line on a fresh connection and resolves with everything until the server closes. */
function ask(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
  });
}

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

describe('workers on the native backend', () => {
  it('a built-in on 2 loop threads serves 1,000 connections, and each thread gets some', async () => {
    const server = await track(listen({ port: 0, backend: 'native', handler: 'uppercase', workers: 2 }));
    const result = await python('concurrent_clients', server.address().port, ['1000']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('1000 clients ok');
    await server.close();
    const stats = server.stats();
    expect(stats.accepted).toBe(1000);
    expect(stats.connections).toBe(0);
    expect(stats.workers).toHaveLength(2);
    for (const worker of stats.workers!) expect(worker.accepted).toBeGreaterThan(0);
    expect(stats.workers!.reduce((sum, worker) => sum + worker.accepted, 0)).toBe(1000);
  });

  it('a handler module in 2 worker threads serves 1,000 connections, and each worker gets some', async () => {
    const server = await track(listen({ port: 0, backend: 'native', handler: uppercaseModule, workers: 2 }));
    expect(server.backend).toBe('native');
    const result = await python('concurrent_clients', server.address().port, ['1000']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('1000 clients ok');
    await server.close();
    const stats = server.stats();
    expect(stats.accepted).toBe(1000);
    expect(stats.workers).toHaveLength(2);
    for (const worker of stats.workers!) expect(worker.accepted).toBeGreaterThan(0);
  });

  it("takes the handler module as { module: path } too, and 'auto' is one worker per core", async () => {
    const server = await track(
      listen({ port: 0, backend: 'native', handler: { module: uppercaseModule }, workers: 'auto' }),
    );
    expect(await ask(server.address().port, 'auto workers')).toBe('AUTO WORKERS');
    expect(server.stats().workers).toHaveLength(availableParallelism());
  });

  for (const [kind, handler] of [
    ['loop threads', 'uppercase'],
    ['worker threads', uppercaseModule],
  ] as const) {
    it(`closing a server on ${kind} leaves no thread and no descriptor behind`, async () => {
      // A first round starts what a process starts once (libuv's thread pool, V8's threads).
      const warm = await listen({ port: 0, backend: 'native', handler, workers: 2 });
      await ask(warm.address().port, 'warm');
      await warm.close();
      const before = { threads: threads(), fds: openFds() };
      const server = await listen({ port: 0, backend: 'native', handler, workers: 2 });
      expect(threads()).toBeGreaterThanOrEqual(before.threads + 2);
      for (let i = 0; i < 20; i++) expect(await ask(server.address().port, `round ${i}`)).toBe(`ROUND ${i}`);
      await server.close();
      expect({ threads: threads(), fds: openFds() }).toEqual(before);
    });
  }

  it('loop threads frame as a single server does: one reply line per line, split or merged', async () => {
    const server = await track(listen({ port: 0, backend: 'native', handler: 'uppercase', workers: 2, framing: 'line' }));
    const socket = net.connect(server.address().port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (answer += chunk));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('first li');
    socket.write('ne\nsecond\r\nthi');
    socket.end('rd\n');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(answer).toBe('FIRST LINE\nSECOND\nTHIRD\n');
  });

  it('close({ timeout }) ends connections still open on the loop threads once it passes', async () => {
    const server = await track(listen({ port: 0, backend: 'native', handler: 'echo', workers: 2 }));
    const idle = net.connect(server.address().port, '127.0.0.1');
    let closed = false;
    idle.on('close', () => (closed = true));
    idle.on('error', () => {});
    await new Promise((resolve) => idle.once('connect', resolve));
    await waitFor(() => server.connections === 1, 'the loop thread to count the connection');
    await server.close({ timeout: 50 });
    await waitFor(() => closed, 'the idle connection to be closed');
    expect(server.stats().connections).toBe(0);
  });

  it('a worker thread that fails is reported with its index, and the others go on serving', async () => {
    const failures: WorkerError[] = [];
    const server = await track(
      listen({ port: 0, backend: 'native', handler: crashModule, workers: 2, onWorkerError: (error) => failures.push(error) }),
    );
    const { port } = server.address();
    // One connection, one worker: its handler throws with no error() member, which is
    // uncaught in that worker thread.
    expect(await ask(port, 'crash now').catch(() => '')).toBe('');
    await waitFor(() => failures.length > 0, 'the failure to be reported');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.code).toBe('ERR_SOCKENGINE_WORKER_FAILED');
    expect([0, 1]).toContain(failures[0]!.worker);
    expect((failures[0]!.cause as Error).message).toBe('the handler gave up on purpose');
    // The kernel sends new connections only to listeners still open.
    for (let i = 0; i < 20; i++) expect(await ask(port, `still here ${i}`)).toBe(`STILL HERE ${i}`);
    await server.close();
  });

  it('a handler module that does not load fails listen() with its name, and no worker is left', async () => {
    const before = threads();
    const missing = join(fixtures, 'no-such-handler.mjs');
    await expect(listen({ port: 0, backend: 'native', handler: missing, workers: 2 })).rejects.toThrow(
      /cannot load the module .*no-such-handler\.mjs/,
    );
    await waitFor(() => threads() === before, 'the worker threads to go');
  });

  it('a port in use fails listen() with EADDRINUSE on both kinds of workers', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      for (const handler of ['uppercase', uppercaseModule]) {
        await expect(listen({ port, backend: 'native', handler, workers: 2 })).rejects.toMatchObject({
          code: 'EADDRINUSE',
          syscall: 'bind',
        });
      }
    } finally {
      taken.close();
    }
  });

  it('UDP: a built-in on loop threads and a handler module in worker threads answer datagrams', async () => {
    for (const handler of ['uppercase', udpModule]) {
      const server = await track(listen({ transport: 'udp', port: 0, backend: 'native', handler, workers: 2 }));
      const result = await python('udp_spread', server.address().port, ['200']);
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('200 datagrams ok');
      await server.close();
      const stats = server.stats();
      expect(stats.datagramsIn).toBe(200);
      expect(stats.datagramsOut).toBe(200);
      expect(stats.workers).toHaveLength(2);
      for (const worker of stats.workers!) expect(worker.datagramsIn).toBeGreaterThan(0);
    }
  });

  it('rejects what workers cannot do, naming the option', async () => {
    const tcp = { port: 0, backend: 'native' as const };
    await expect(listen({ ...tcp, handler: { data() {} }, workers: 2 })).rejects.toThrow(
      /options\.workers needs a built-in handler or a handler module/,
    );
    await expect(listen({ ...tcp, handler: 'echo', workers: 0 })).rejects.toThrow(RangeError);
    await expect(listen({ ...tcp, handler: 'echo', workers: 1.5 })).rejects.toThrow(/options\.workers must be an integer/);
    await expect(listen({ ...tcp, handler: 'echo', workers: 'all' as unknown as 'auto' })).rejects.toThrow(TypeError);
    await expect(
      listen({ ...tcp, handler: 'echo', workers: 2, onWorkerError: 'log' as unknown as () => void }),
    ).rejects.toThrow(/options\.onWorkerError must be a function/);
    await expect(listen({ ...tcp, handler: { module: uppercaseModule, extra: 1 } as never, workers: 2 })).rejects.toThrow(
      /takes no other keys, got extra/,
    );
    await expect(listen({ ...tcp, handler: 'echo', onWorkerError: () => {} })).rejects.toThrow(
      'options.onWorkerError applies with options.workers',
    );
  });
});

describe('a handler module without workers', () => {
  for (const backend of backends) {
    it(`is imported and served in this thread (${backend})`, async () => {
      const server = await track(listen({ port: 0, backend, handler: uppercaseModule }));
      expect(await ask(server.address().port, 'one thread')).toBe('ONE THREAD');
    });
  }
});

/** Connects until both servers have accepted at least one connection (a bounded number of tries). */
async function spreadOver(port: number, servers: Server[]): Promise<void> {
  for (let i = 0; i < 200 && servers.some((server) => server.stats().accepted === 0); i++) {
    expect(await ask(port, `try ${i}`)).toBe(`TRY ${i}`);
  }
}

describe('reusePort', () => {
  for (const backend of backends) {
    if (backend === 'node' && !nodeHasReusePort()) {
      it(`node: says it needs Node 22.12 on Node ${process.versions.node}, for TCP, UDP and workers`, async () => {
        const unsupported = { code: 'ERR_SOCKENGINE_UNSUPPORTED', name: 'UnsupportedError' };
        await expect(listen({ port: 0, backend, handler: 'uppercase', reusePort: true })).rejects.toMatchObject(unsupported);
        await expect(
          listen({ transport: 'udp', port: 0, backend, handler: 'uppercase', reusePort: true }),
        ).rejects.toMatchObject(unsupported);
        await expect(listen({ port: 0, backend, handler: 'uppercase', workers: 2 })).rejects.toThrow(
          /options\.workers on the node backend needs Node\.js 22\.12 or later/,
        );
        await expect(listen({ port: 0, backend, handler: 'uppercase', reusePort: true })).rejects.toThrow(
          `Node.js ${process.versions.node} have no reusePort`,
        );
      });
      continue;
    }

    it(`${backend}: two servers on one port both accept; without reusePort the second gets EADDRINUSE`, async () => {
      const first = await track(listen({ port: 0, backend, handler: 'uppercase', reusePort: true }));
      const { port } = first.address();
      await expect(listen({ port, backend, handler: 'uppercase' })).rejects.toMatchObject({
        code: 'EADDRINUSE',
        syscall: 'bind',
      });
      const second = await track(listen({ port, backend, handler: 'uppercase', reusePort: true }));
      await spreadOver(port, [first, second]);
      expect(first.stats().accepted).toBeGreaterThan(0);
      expect(second.stats().accepted).toBeGreaterThan(0);
    });

    it(`${backend}: two UDP servers on one port both receive datagrams`, async () => {
      const first = await track(listen({ transport: 'udp', port: 0, backend, handler: 'uppercase', reusePort: true }));
      const { port } = first.address();
      await expect(listen({ transport: 'udp', port, backend, handler: 'uppercase' })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
      const second = await track(listen({ transport: 'udp', port, backend, handler: 'uppercase', reusePort: true }));
      // Each datagram from a socket of its own, so the kernel's hash spreads them.
      for (let i = 0; i < 200 && (first.stats().datagramsIn === 0 || second.stats().datagramsIn === 0); i++) {
        const peer = dgram.createSocket('udp4');
        const reply = await new Promise<string>((resolve) => {
          peer.once('message', (data) => resolve(data.toString()));
          peer.send(`datagram ${i}`, port, '127.0.0.1');
        });
        peer.close();
        expect(reply).toBe(`DATAGRAM ${i}`);
      }
      expect(first.stats().datagramsIn).toBeGreaterThan(0);
      expect(second.stats().datagramsIn).toBeGreaterThan(0);
    });
  }
});

describe('sockengine serve --workers', () => {
  it('prints its ready line once every worker listens, with workers=N, and serves', async () => {
    const { child, line, port } = await startCli(['serve', '--port', '0', '--backend', 'native', '--workers', '2']);
    try {
      expect(line).toMatch(/^listening tcp 127\.0\.0\.1:\d+ backend=native handler=uppercase workers=2$/);
      expect(await ask(port, 'from the cli')).toBe('FROM THE CLI');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('a handler member that throws costs its connection and one stderr line, not the worker', async () => {
    const { child, port } = await startCli(['serve', '--port', '0', '--backend', 'native', '--workers', '2', '--handler', crashModule]);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      // Ten connections reach both workers (the kernel spreads them by the peer's port).
      for (let i = 0; i < 10; i++) expect(await ask(port, `crash ${i}`)).toBe('');
      for (let i = 0; i < 10; i++) expect(await ask(port, `fine ${i}`)).toBe(`FINE ${i}`);
      // At most five lines a second per worker; the rest are counted, not printed.
      await waitFor(() => stderr.includes('\n'), 'a failure line');
      expect(stderr).toMatch(/^sockengine: handler failed on 127\.0\.0\.1:\d+, connection closed: Error: the handler gave up on purpose$/m);
      expect(stderr).not.toContain('worker');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('takes auto and a handler module, and refuses a count that is not one', async () => {
    const { child, line, port } = await startCli([
      'serve', '--port', '0', '--backend', 'native', '--workers', 'auto', '--handler', uppercaseModule,
    ]);
    try {
      expect(line).toContain(`workers=${availableParallelism()}`);
      expect(await ask(port, 'module')).toBe('MODULE');
    } finally {
      child.kill('SIGTERM');
    }
    const refused = spawn(process.execPath, [join(root, 'bin', 'sockengine.js'), 'serve', '--workers', 'two']);
    let stderr = '';
    refused.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => refused.on('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain("--workers must be a whole number from 1, or auto, got 'two'");
  });
});
