/**
 * The command's Unix-socket and PROXY-protocol flags: `serve --unix PATH`, `client unix
 * PATH`, `serve --proxy-protocol`, on both backends, against real peers.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { backends, cli, exited, finished, freePort, killStarted, root, startCli, startProcess } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sockengine-cli-scale-'));
let serial = 0;
afterEach(killStarted);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `sockengine serve ARGS` and resolves with the child and its ready line. */
function serve(args: string[]) {
  return new Promise<{ child: ReturnType<typeof spawn>; line: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve({ child, line: out.split('\n')[0]! });
    });
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

describe.each(backends)('sockengine on Unix sockets and behind balancers, --backend %s', (backend) => {
  it('serve --unix: the ready line names the path; Python and `client unix` are answered; SIGTERM removes the file', async () => {
    const path = join(dir, `s${++serial}.sock`);
    const { child, line } = await serve(['--unix', path, '--permissions', '660', '--handler', 'uppercase', '--backend', backend]);
    expect(line).toBe(`listening unix ${path} backend=${backend} handler=uppercase`);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    const python = await finished(startProcess('unix_client.py', 'python3', [join(root, 'test', 'python', 'unix_client.py'), path, 'from python']));
    expect(python.stdout.trim()).toBe('FROM PYTHON');
    const client = spawnSync(process.execPath, [cli, 'client', 'unix', path, 'hello', 'unix', '--backend', backend], { encoding: 'utf8', timeout: 10_000 });
    expect(client.status, client.stderr).toBe(0);
    expect(client.stdout).toBe('HELLO\nUNIX\n');
    child.kill('SIGTERM');
    expect((await exited(child)).code).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('serve --unix over a stale file: exit 1 naming it; with --replace it serves', async () => {
    const path = join(dir, `s${++serial}.sock`);
    expect((await finished(startProcess('stale', 'python3', [join(root, 'test', 'python', 'stale_unix_socket.py'), path]))).code).toBe(0);
    const refused = spawnSync(process.execPath, [cli, 'serve', '--unix', path, '--backend', backend], { encoding: 'utf8', timeout: 10_000 });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/EADDRINUSE.*stale socket file/);
    const { child } = await serve(['--unix', path, '--replace', '--handler', 'echo', '--backend', backend]);
    const client = spawnSync(process.execPath, [cli, 'client', 'unix', path, 'again'], { encoding: 'utf8', timeout: 10_000 });
    expect(client.stdout).toBe('again\n');
    child.kill('SIGTERM');
    await exited(child);
  });

  it('serve --proxy-protocol: the header is read before the built-in answers; a connection without one is closed', async () => {
    const { child, line, port } = await startCli(['serve', '--port', '0', '--proxy-protocol', '--proxy-timeout', '500', '--handler', 'uppercase', '--backend', backend]);
    expect(line).toMatch(/ proxy-protocol$/);
    const talk = (bytes: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect({ port, host: '127.0.0.1' });
        let got = '';
        socket.on('data', (chunk) => (got += chunk));
        socket.on('error', () => {});
        socket.on('close', () => resolve(got));
        socket.end(bytes);
      });
    expect(await talk('PROXY TCP4 192.0.2.1 127.0.0.1 1234 80\r\nhello')).toBe('HELLO');
    expect(await talk('hello')).toBe('');
    child.kill('SIGTERM');
    expect((await exited(child)).code).toBe(0);
  });
});

describe('N processes on one port with --reuse-port (docs/deploy.md)', () => {
  it('two serve processes share one port and the kernel gives each some of 24 connections', async () => {
    const port = await freePort('tcp');
    const one = await startCli(['serve', '-p', String(port), '--reuse-port', '--handler', 'reply:one', '--backend', 'native']);
    const two = await startCli(['serve', '-p', String(port), '--reuse-port', '--handler', 'reply:two', '--backend', 'native']);
    const answers = await Promise.all(
      Array.from({ length: 24 }, () =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect({ port, host: '127.0.0.1' });
          let got = '';
          socket.on('data', (chunk) => {
            got += chunk;
            socket.destroy();
            resolve(got);
          });
          socket.on('error', reject);
          socket.write('x');
        }),
      ),
    );
    expect(new Set(answers)).toEqual(new Set(['one', 'two']));
    one.child.kill('SIGTERM');
    two.child.kill('SIGTERM');
    await Promise.all([exited(one.child), exited(two.child)]);
  });

  it('the node backend on Node 20 refuses --reuse-port, naming the Node version that has it', () => {
    const result = spawnSync(process.execPath, [cli, 'serve', '-p', '0', '--reuse-port', '--backend', 'node'], { encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/needs Node\.js 22\.12/);
  });
});

describe('the flags are checked', () => {
  it.each([
    [['serve', '--permissions', '600'], /--permissions applies with --unix/],
    [['serve', '--unix', '/tmp/x.sock', '--port', '1'], /--unix and --port cannot be combined/],
    [['serve', '--transport', 'udp', '--proxy-protocol'], /--proxy-protocol applies to tcp only/],
    [['serve', '--proxy-timeout', '10'], /--proxy-timeout applies with --proxy-protocol/],
    [['serve', '--unix', '/tmp/x.sock', '--permissions', '9'], /--permissions must be an octal mode/],
    [['client', 'unix'], /missing PATH/],
  ])('%j: exit 2, one line naming it', (args, message) => {
    const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});

