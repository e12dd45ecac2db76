/**
 * Clients nobody here wrote: Python's socket module (standard library only) against the
 * sockengine CLI server, on both backends. The programs live in test/python/; each takes
 * HOST PORT, prints what it got and exits non-zero on any mismatch.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, exited, RawClient, root, startCli } from './helpers.js';

const scripts = join(root, 'test', 'python');

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
if (python.status !== 0) throw new Error(`python3 is needed for these tests: ${python.error ?? python.stderr}`);

/** Runs test/python/NAME.py with HOST PORT and `extra`; gives its exit status and output. */
function runPython(name: string, port: number, extra: string[] = [], timeoutMs = 25_000) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }>(
    (resolve, reject) => {
      const child = spawn('python3', [join(scripts, `${name}.py`), '127.0.0.1', String(port), ...extra], {
        cwd: scripts,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout: Buffer.concat(out), stderr });
      });
    },
  );
}

async function stopServer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  try {
    await exited(child, 5000);
  } catch {
    child.kill('SIGKILL');
  }
}

describe.each(backends)('Python clients against `sockengine serve --backend %s`', (backend) => {
  let server: ChildProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    const started = await startCli(['serve', '--port', '0', '--backend', backend, '--handler', 'uppercase']);
    server = started.child;
    port = started.port;
    expect(started.line).toBe(`listening tcp 127.0.0.1:${port} backend=${backend} handler=uppercase`);
  });

  afterAll(async () => {
    await stopServer(server);
  });

  it('a plain socket client sending `hello world` gets `HELLO WORLD`', async () => {
    const result = await runPython('hello_client', port);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('HELLO WORLD\n');
    expect(result.code).toBe(0);
  });

  it('the socket-trigger client sending `Hello TCP Server\\0` gets `HELLO TCP SERVER\\0`, NUL kept', async () => {
    const result = await runPython('trigger_client', port);
    expect(result.stderr).toBe('');
    expect(result.stdout).toEqual(Buffer.from('HELLO TCP SERVER\0\n', 'latin1'));
    expect(result.code).toBe(0);
  });

  it('create_connection with 200 sequential messages gets every reply in full', async () => {
    const result = await runPython('sequential_client', port, ['200']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('200 replies ok\n');
    expect(result.code).toBe(0);
  });

  it('50 sockets open at once each get their own message back uppercased', async () => {
    const result = await runPython('concurrent_clients', port, ['50']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('50 clients ok\n');
    expect(result.code).toBe(0);
  });

  it('1 MiB sent with one sendall comes back uppercased, complete and in order', async () => {
    const result = await runPython('bulk_client', port, [String(1 << 20)]);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('1048576 bytes ok\n');
    expect(result.code).toBe(0);
  });

  it('100 connect-and-close clients leave the server up for a final client', async () => {
    const result = await runPython('connect_close', port, ['100', 'close']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('100 closes ok\nSTILL ALIVE\n');
    expect(result.code).toBe(0);
    expect(server!.exitCode).toBeNull();
    expect(server!.signalCode).toBeNull();
  });

  it('100 connect-and-reset (RST) clients leave the server up for a final client', async () => {
    const result = await runPython('connect_close', port, ['100', 'reset']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('100 resets ok\nSTILL ALIVE\n');
    expect(result.code).toBe(0);
    expect(server!.exitCode).toBeNull();
    const client = await RawClient.connect(port);
    try {
      client.socket.write('after python');
      expect((await client.read(12)).toString()).toBe('AFTER PYTHON');
    } finally {
      client.socket.destroy();
    }
  });
});

describe.each(backends)('a Python framed client against `sockengine serve --framing ... --backend %s`', (backend) => {
  const servers: ChildProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await stopServer(server);
  });

  /** `serve --framing FRAMING --max-frame 60000` with the uppercase handler; its port. */
  async function framedServer(framing: string): Promise<number> {
    const started = await startCli(['serve', '--port', '0', '--backend', backend, '--framing', framing, '--max-frame', '60000']);
    servers.push(started.child);
    expect(started.line).toBe(`listening tcp 127.0.0.1:${started.port} backend=${backend} handler=uppercase`);
    return started.port;
  }

  it('--framing line: lines in one sendall and a line byte by byte come back uppercased; a too-long line closes', async () => {
    const port = await framedServer('line');
    const result = await runPython('framed_client', port, ['line', '60000']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe(
      'line: 5 frames in one sendall ok (an empty one, one of 60000 bytes)\n' +
        'line: one frame sent byte by byte ok (14 sends)\n' +
        'line: a frame of 60001 bytes (over --max-frame 60000) closed the connection\n',
    );
    expect(result.code).toBe(0);
  });

  it('--framing length:4: struct.pack frames (empty, 60,000 bytes) come back uppercased; one over --max-frame closes', async () => {
    const port = await framedServer('length:4');
    const result = await runPython('framed_client', port, ['length4', '60000']);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe(
      'length:4: 5 frames in one sendall ok (an empty one, one of 60000 bytes)\n' +
        'length:4: one frame sent byte by byte ok (16 sends)\n' +
        'length:4: a frame of 60001 bytes (over --max-frame 60000) closed the connection\n',
    );
    expect(result.code).toBe(0);
  });
});

describe('the Python framed client reports wrong servers', () => {
  // Each server gets one thing wrong; the script must fail on it, with the reason.
  const servers: ChildProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await stopServer(server);
  });

  it.each([
    ['an echo server (no uppercase)', ['--framing', 'line', '--max-frame', '60000', '--handler', 'echo'], 'line', /differs/],
    ['a server with a larger --max-frame', ['--framing', 'line', '--max-frame', '70000'], 'line', /expected the connection closed/],
    ['an unframed server', [], 'length4', /a reply came before the frame's last byte/],
  ])('against %s it exits 1 with the reason on stderr', async (_name, flags, mode, reason) => {
    const started = await startCli(['serve', '--port', '0', '--backend', 'native', ...flags]);
    servers.push(started.child);
    const result = await runPython('framed_client', started.port, [mode, '60000']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(reason);
  });
});

describe('the Python clients report wrong replies', () => {
  // An echo server answers with the bytes unchanged, so every uppercase check must fail:
  // this shows the scripts' own checks can fail, not just print.
  let server: ChildProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    const started = await startCli(['serve', '--port', '0', '--backend', 'node', '--handler', 'echo']);
    server = started.child;
    port = started.port;
  });

  afterAll(async () => {
    await stopServer(server);
  });

  it.each([
    ['hello_client', []],
    ['trigger_client', []],
    ['sequential_client', ['20']],
    ['concurrent_clients', ['5']],
    ['bulk_client', ['65536']],
  ] as const)('%s exits 1 with a message on stderr against an echo server', async (name, extra) => {
    const result = await runPython(name, port, [...extra]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/expected|differs|message 0/);
  });
});

describe.each(backends)('Python UDP clients against `sockengine serve --transport udp --backend %s`', (backend) => {
  const servers: ChildProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await stopServer(server);
  });

  async function udpServer(handler: string): Promise<number> {
    const started = await startCli(['serve', '--transport', 'udp', '--port', '0', '--backend', backend, '--handler', handler]);
    servers.push(started.child);
    expect(started.line).toBe(`listening udp 127.0.0.1:${started.port} backend=${backend} handler=${handler}`);
    return started.port;
  }

  it('the write-up UDP client (host name resolved) gets `Message received.`', async () => {
    const port = await udpServer('reply:Message received.');
    const child = spawn('python3', [join(scripts, 'udp_client.py'), 'localhost', String(port), 'Hello UDP Server']);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const { code } = await exited(child, 20_000);
    expect(out).toBe('Message from server: Message received.\n');
    expect(code).toBe(0);
  });

  it('empty and 65,507-byte datagrams and 16 sockets x 8 in flight are all answered in uppercase', async () => {
    const port = await udpServer('uppercase');
    const result = await runPython('udp_edges', port);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe('empty ok\n65507 ok\n16x8 ok\n');
    expect(result.code).toBe(0);
  });

  it('the UDP edge checks fail against a server that does not uppercase', async () => {
    const port = await udpServer('echo');
    const result = await runPython('udp_edges', port);
    expect(result.code).toBe(1);
  });
});
