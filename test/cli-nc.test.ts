/**
 * The sockengine command beside nc and socat: --version, help and --help on every command,
 * short flags, `serve -p 0`, handler names versus paths, `serve --stats`, SOCKENGINE_DEBUG,
 * and `client` streaming a pipe byte for byte, half-closing at the end of stdin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backends, cli, exited, root, startCli, waitFor } from './helpers.js';

const children = new Set<ChildProcess>();
const servers = new Set<net.Server>();

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited(child, 5000).catch(() => undefined);
  }
  children.clear();
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
  servers.clear();
});

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SOCKENGINE_BACKEND;
  delete env.SOCKENGINE_DEBUG;
  return { ...env, ...extra };
}

interface Result {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the command with `input` piped to its stdin (a pipe, not a terminal). */
function run(args: string[], input: Buffer | string = '', env: NodeJS.ProcessEnv = cleanEnv()): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sockengine ${args.join(' ')} did not exit; stderr=${stderr}`));
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      child.stdout.once('end', () => resolve({ code, stdout: Buffer.concat(out), stderr }));
      if (child.stdout.readableEnded) resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

async function serveCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()) {
  const started = await startCli(args, env);
  children.add(started.child);
  return started;
}

describe('sockengine: help and version', () => {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

  it.each([['--version'], ['-V'], ['version']])('%s prints the package version and exits 0', async (flag) => {
    const result = await run([flag]);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(`${version}\n`);
  });

  it.each([
    [['help'], /sockengine serve[\s\S]*sockengine client[\s\S]*sockengine build/],
    [['--help'], /sockengine serve[\s\S]*sockengine client/],
    [['serve', '--help'], /^usage: sockengine serve[\s\S]*-p, --port[\s\S]*--stats SECONDS/],
    [['serve', '-h'], /^usage: sockengine serve/],
    [['client', '--help'], /^usage: sockengine client tcp\|udp HOST PORT[\s\S]*--interactive/],
    [['build', '--help'], /^usage: sockengine build/],
  ])('%j prints usage on stdout and exits 0', async (args, usage) => {
    const result = await run(args);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toMatch(usage);
    expect(result.stderr).toBe('');
  });
});

describe('sockengine serve: flags', () => {
  it('-p 0 -H 127.0.0.1 listens on a free port and prints it', async () => {
    const { line, port } = await serveCli(['serve', '-p', '0', '-H', '127.0.0.1']);
    expect(line).toMatch(/^listening tcp 127\.0\.0\.1:\d+ backend=native handler=uppercase$/);
    expect(port).toBeGreaterThan(0);
  });

  it('a mistyped built-in is an error naming the built-ins, not a missing file', async () => {
    const result = await run(['serve', '-p', '0', '--handler', 'uppercsae']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sockengine: --handler 'uppercsae' is not a built-in \(uppercase, echo, reply:TEXT\)/);
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a value that looks like a path is loaded as a module (and a missing one says so)', async () => {
    const result = await run(['serve', '-p', '0', '--handler', './no-such-handler.mjs']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--handler \.\/no-such-handler\.mjs: cannot load the module/);
  });

  it('an option given twice is an error', async () => {
    const result = await run(['serve', '-p', '0', '--port', '1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/option --port given twice/);
  });

  it.each(backends)('--stats 0.2 prints one summary line at that interval, counting real traffic (%s)', async (backend) => {
    const { child, port } = await serveCli(['serve', '-p', '0', '--handler', 'echo', '--backend', backend, '--stats', '0.2']);
    let out = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    const peer = net.connect(port, '127.0.0.1');
    peer.write('hello');
    await new Promise((resolve) => peer.once('data', resolve));
    peer.destroy();
    const pattern = new RegExp(
      `^stats tcp 127\\.0\\.0\\.1:${port} connections=0 accepted=1 rejected=0 timedOut=0 framesTooLong=0 proxyRejected=0 closedWithError=\\d+ bytesIn=5 bytesOut=5$`,
      'm',
    );
    await waitFor(() => pattern.test(out), `a stats line with the exchange (got ${JSON.stringify(out)})`);
  });

  it('--stats 0 is refused', async () => {
    const result = await run(['serve', '-p', '0', '--stats', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--stats must be a number of seconds/);
  });

  it.each(backends)('SOCKENGINE_DEBUG=1 logs accept, back pressure and close to stderr (%s)', async (backend) => {
    const fixture = join(root, 'test', 'fixtures', 'flood-handler.mjs');
    const { child, port } = await serveCli(
      ['serve', '-p', '0', '--backend', backend, '--handler', fixture],
      cleanEnv({ SOCKENGINE_DEBUG: '1' }),
    );
    let err = '';
    child.stderr!.on('data', (chunk) => (err += chunk));
    const peer = net.connect(port, '127.0.0.1');
    peer.pause(); // Not reading: the server's writes fill the kernel's buffers and queue.
    peer.write('go');
    await waitFor(() => /back pressure on/.test(err), `a back pressure line (got ${JSON.stringify(err)})`, 10_000);
    let received = 0;
    peer.on('data', (chunk) => (received += chunk.length));
    peer.resume();
    await waitFor(() => received >= 512 * 64 * 1024, 'the flood', 10_000);
    peer.destroy();
    await waitFor(() => / closed/.test(err), `a close line (got ${JSON.stringify(err)})`);
    expect(err).toMatch(/^sockengine\[debug\] \w+: accepted connection/m);
    expect(err).toMatch(/^sockengine\[debug\] \w+: connection .* back pressure on: \d+ bytes queued, highWaterMark 16384$/m);
    expect(err).toMatch(/^sockengine\[debug\] \w+: connection .* write queue drained, back pressure off$/m);
  });
});

describe.each(backends)('sockengine client streams a pipe like nc (%s)', (backend) => {
  const env = () => cleanEnv(backend === 'node' ? { SOCKENGINE_BACKEND: 'node' } : {});

  it('lines piped in come back uppercased with no prompt', async () => {
    const { port } = await serveCli(['serve', '-p', '0']);
    const result = await run(['client', 'tcp', '127.0.0.1', String(port)], 'a\nb\n', env());
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('A\nB\n');
    expect(result.stderr).toBe('');
  });

  it('256 random bytes through an echo server come back exactly', async () => {
    const { port } = await serveCli(['serve', '-p', '0', '--handler', 'echo']);
    const bytes = randomBytes(256);
    const result = await run(['client', 'tcp', '127.0.0.1', String(port)], bytes, env());
    expect(result.code).toBe(0);
    expect(result.stdout.equals(bytes)).toBe(true);
  });

  it('at the end of stdin it half-closes, still prints what the server sends after, and exits when it closes', async () => {
    // A server that answers only once the client has ended its side, then closes.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      let got = '';
      socket.on('data', (chunk) => (got += chunk));
      socket.on('end', () => setTimeout(() => socket.end(`after end: ${got.length} bytes\n`), 100));
    });
    servers.add(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const result = await run(['client', 'tcp', '127.0.0.1', String(port)], 'twelve bytes', env());
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('after end: 12 bytes\n');
  });

  it('udp: each read is one datagram, replies are written as they are', async () => {
    const { port } = await serveCli(['serve', '-p', '0', '--transport', 'udp', '--handler', 'echo']);
    const bytes = randomBytes(200);
    const result = await run(['client', 'udp', '127.0.0.1', String(port)], bytes, env());
    expect(result.code).toBe(0);
    expect(result.stdout.equals(bytes)).toBe(true);
  });

  it('--framing line: each stdin line is one frame, each reply frame one line', async () => {
    const { port } = await serveCli(['serve', '-p', '0', '--framing', 'line']);
    const result = await run(['client', 'tcp', '127.0.0.1', String(port), '--framing', 'line'], 'one\ntwo\n', env());
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('ONE\nTWO\n');
  });
});

describe('sockengine client on a terminal', () => {
  it('keeps the prompt loop of the classic C client (a real pty, from Python\'s pty module)', async () => {
    const { port } = await serveCli(['serve', '-p', '0']);
    // pty.spawn gives the client a terminal and copies this pipe into it.
    const script = 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)';
    const child = spawn('python3', ['-c', script, process.execPath, cli, 'client', 'tcp', '127.0.0.1', String(port)], {
      env: cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    await waitFor(() => out.includes('Please input your message: '), 'the first prompt', 10_000);
    child.stdin.write('hello\n');
    await waitFor(() => /HELLO\r?\nPlease input your message: /.test(out), `the reply and the next prompt (got ${JSON.stringify(out)})`);
    child.stdin.write('exit\n');
    const { code } = await exited(child);
    expect(code).toBe(0);
  });
});

describe('sockengine: the native backend asked for and missing', () => {
  it('one line with one sockengine: prefix, exit 1', async () => {
    const result = await run(['serve', '-p', '0', '--backend', 'native'], '', cleanEnv({ SOCKENGINE_ADDON: '/nonexistent/sockengine.node' }));
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.match(/sockengine:/g)).toHaveLength(1);
    expect(lines[0]).toMatch(/native engine is unavailable/);
  });
});
