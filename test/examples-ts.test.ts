/**
 * The TypeScript teaching samples in examples/ts/: each server/client pair runs (on both
 * backends) with its printed lines checked exactly; the TypeScript versions of the C
 * programs work with the C programs in both directions; and Python clients that behave as
 * the seed write-ups' clients (test/python/seeds/) run against the examples and against the
 * sockengine command. Everything runs on 127.0.0.1, every wait is bounded, and every child
 * process is killed when its test ends.
 *
 * The examples run as `node --import tsx FILE` (what `npx tsx FILE` does, without npx's own
 * start-up), and import the package by its name, which resolves to dist/ (npm run build:ts).
 */
import { execFile, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openRunStore } from '../lib/index.js';
import { finished, freePort, killStarted, LinePeer, sleep, startProcess, waitFor, type Proc } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const examples = join(root, 'examples', 'ts');
const seeds = join(root, 'test', 'python', 'seeds');
const cli = join(root, 'bin', 'sockengine.js');
/** The C programs, built by this file into a directory of its own (examples-c.test.ts uses build/examples-c). */
const cBuildDir = join(root, 'build', 'examples-c-ts');
const HOST = '127.0.0.1';
const MAX_MSG = 1022;

type Backend = 'native' | 'node';
type Kind = 'tcp' | 'udp';
const backends: readonly Backend[] = ['native', 'node'];

const run = promisify(execFile);
afterEach(killStarted);

const start = (name: string, command: string, args: string[], input?: string, env: NodeJS.ProcessEnv = {}) =>
  startProcess(name, command, args, { input, env });

/** An example: `node --import tsx examples/ts/FILE ARGS`. Its stdin stays open unless `input` is given. */
const ts = (file: string, args: string[], input?: string) =>
  start(file, process.execPath, ['--import', 'tsx', join(examples, file), ...args], input);
/** A seed Python client from test/python/seeds/. */
const py = (file: string, args: string[], input = '') => start(file, 'python3', [join(seeds, file), ...args], input);
/** One of the C programs. */
let cBinDir = '';
const c = (program: string, args: string[], input?: string) => start(program, join(cBinDir, program), args, input);

/** Waits for a process to exit and checks it said nothing on stderr and exited 0. */
async function succeeded(proc: Proc, timeoutMs?: number): Promise<Proc> {
  await finished(proc, timeoutMs);
  expect(proc.stderr, `${proc.name} stderr`).toBe('');
  expect(proc.code, `${proc.name} exit status`).toBe(0);
  return proc;
}

/** True when some socket is bound to 127.0.0.1:`port` (listening, for TCP), from /proc/net. */
function boundOnLoopback(kind: Kind, port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const state = kind === 'tcp' ? '0A' : '07'; // TCP_LISTEN; TCP_CLOSE is how /proc/net/udp shows a bound socket
  return readFileSync(`/proc/net/${kind}`, 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && fields[3] === state;
    });
}

/**
 * Starts a server on a free port and waits until `ready` says so. Another process may take
 * the port between freePort() and the server's bind, so a server that exits before it is
 * ready is tried again on a new port.
 */
async function serve(kind: Kind, launch: (port: number) => Proc, ready: (proc: Proc, port: number) => boolean) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(kind);
    const proc = launch(port);
    await waitFor(() => proc.done || ready(proc, port), `${proc.name} to get ready`, 15_000);
    if (!proc.done) return { proc, port };
    if (attempt === 3) throw new Error(`${proc.name} would not start: ${proc.stderr}`);
  }
}
const printed = (text: string) => (proc: Proc) => proc.stdout.includes(text);
const bound = (kind: Kind) => (_proc: Proc, port: number) => boundOnLoopback(kind, port);

/** Starts `sockengine serve ... --port 0` and waits for its `listening` line; gives the real port. */
async function serveCli(args: string[], tsHandler = false): Promise<{ proc: Proc; port: number }> {
  const node = tsHandler ? ['--import', 'tsx'] : [];
  const proc = start('sockengine serve', process.execPath, [...node, cli, 'serve', '--host', HOST, '--port', '0', ...args]);
  await waitFor(() => proc.done || /^listening .*\n/.test(proc.stdout), 'the sockengine command to listen', 15_000);
  const match = /^listening (tcp|udp) 127\.0\.0\.1:(\d+) /.exec(proc.stdout);
  if (!match) throw new Error(`sockengine serve did not start: ${proc.stdout} ${proc.stderr}`);
  return { proc, port: Number(match[2]) };
}

/** A temporary directory for this file's run stores. */
const storeDir = mkdtempSync(join(tmpdir(), 'sockengine-examples-trigger-'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

/** Starts `sockengine trigger ... --run examples/ts/trigger_workflow.ts --port 0`; gives the real port and the store. */
async function triggerCli(args: string[], storeName: string): Promise<{ proc: Proc; port: number; store: string }> {
  const store = join(storeDir, storeName);
  const proc = start('sockengine trigger', process.execPath, [
    '--import', 'tsx', cli, 'trigger', '--host', HOST, '--port', '0', '--run', join(examples, 'trigger_workflow.ts'), '--store', store, ...args,
  ]);
  await waitFor(() => proc.done || /^listening trigger .*\n/.test(proc.stdout), 'sockengine trigger to listen', 15_000);
  const match = /^listening trigger (tcp|udp) 127\.0\.0\.1:(\d+) /.exec(proc.stdout);
  if (!match) throw new Error(`sockengine trigger did not start: ${proc.stdout} ${proc.stderr}`);
  return { proc, port: Number(match[2]), store };
}

/** The client port a server printed in `pattern`'s first group. */
function portIn(output: string, pattern: RegExp): number {
  const match = pattern.exec(output);
  if (!match) throw new Error(`${pattern} not found in:\n${output}`);
  return Number(match[1]);
}

const TcpPeer = LinePeer;

/** A node:dgram peer on 127.0.0.1. */
class UdpPeer {
  received: string[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (message) => this.received.push(message.toString('utf8')));
  }

  static open(): Promise<UdpPeer> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, HOST, () => {
        socket.off('error', reject);
        resolve(new UdpPeer(socket));
      });
    });
  }

  send(text: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(text, port, HOST, (error) => (error ? reject(error) : resolve())));
  }

  async ask(text: string, port: number): Promise<string> {
    const before = this.received.length;
    await this.send(text, port);
    await waitFor(() => this.received.length > before, `an answer to a ${text.length}-byte datagram`, 5000);
    return this.received[before]!;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

beforeAll(async () => {
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (python.status !== 0) throw new Error(`python3 is needed for these tests: ${python.error ?? python.stderr}`);
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    throw new Error("the examples import 'sockengine', which is dist/: run `npm run build:ts` first");
  }
  // The C programs, for the TypeScript-against-C tests. Incremental: quick when already built.
  const options = { cwd: root, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 };
  await run('cmake', ['-S', join(root, 'examples', 'c'), '-B', cBuildDir], options);
  await run('cmake', ['--build', cBuildDir], options);
  // `node-gyp rebuild` deletes build/: run from a private copy so a rebuild elsewhere
  // cannot pull the programs away in the middle of these tests.
  cBinDir = mkdtempSync(join(tmpdir(), 'sockengine-examples-ts-'));
  for (const program of ['tcp_server', 'tcp_client', 'udp_server', 'udp_client']) {
    copyFileSync(join(cBuildDir, program), join(cBinDir, program));
  }
}, 180_000);

afterAll(async () => {
  await killStarted();
  if (cBinDir) rmSync(cBinDir, { recursive: true, force: true });
});

/**
 * What the C programs and their TypeScript versions print for a client that types `hello`,
 * a line too long to send, `grüße`, the longest line that may be sent, `abc XYZ` and `exit`.
 */
const longest = 'm'.repeat(MAX_MSG);
const conversation = `hello\n${'y'.repeat(MAX_MSG + 1)}\ngrüße\n${longest}\nabc XYZ\nexit\n`;
/** What the clients say on stderr about the line that is too long. */
const tooLongNotice = `message too long (at most ${MAX_MSG} characters), not sent\n`;
function clientTranscript(kind: Kind, port: number): string {
  const answer = (text: string) => `Please input your message: get receive message from [${HOST}:${port}]: ${text}\n`;
  const head = kind === 'tcp' ? `Connect server [${HOST}:${port}] success\n` : '';
  // Only a-z change: the UTF-8 bytes of ü and ß pass through untouched, as in C.
  const refused = 'Please input your message: ';
  return `${head}${answer('HELLO')}${refused}${answer('GRüßE')}${answer(longest.toUpperCase())}${answer('ABC XYZ')}Please input your message: `;
}
function serverTranscript(kind: Kind, port: number, serverOut: string): string {
  const from = `[${HOST}:${portIn(serverOut, /get message from \[127\.0\.0\.1:(\d+)\]/)}]`;
  const head = kind === 'tcp' ? `server [${HOST}:${port}] --- ready\nAccept connect request from ${from}\n` : 'Server ready!\n';
  return (
    head +
    `get message from ${from}: hello -> HELLO\n` +
    `get message from ${from}: grüße -> GRüßE\n` +
    `get message from ${from}: ${longest} -> ${longest.toUpperCase()}\n` +
    `get message from ${from}: abc XYZ -> ABC XYZ\n` +
    'get exit order, closing the server...\n'
  );
}

type Side = 'ts' | 'c';
/** Starts the server of `kind` written in `side`, on `backend` for TypeScript. */
function startUppercaseServer(kind: Kind, side: Side, backend: Backend) {
  const ready = kind === 'tcp' ? '--- ready\n' : 'Server ready!\n';
  return serve(
    kind,
    (port) => (side === 'ts' ? ts(`${kind}_server.ts`, ['--backend', backend, String(port), HOST]) : c(`${kind}_server`, [String(port), HOST])),
    printed(ready),
  );
}

describe.each(backends)('examples/ts on the %s backend', (backend) => {
  describe.each(['tcp', 'udp'] as const)('%s_server and %s_client (the C programs of seed 004)', (kind) => {
    const pairs: [Side, Side][] = [
      ['ts', 'ts'],
      ['ts', 'c'],
      ['c', 'ts'],
    ];
    it.each(pairs)('%s server, %s client: the same prompts, answers, refusals and lines as C; `exit` ends both with status 0', async (serverSide, clientSide) => {
      const { proc: server, port } = await startUppercaseServer(kind, serverSide, backend);
      const client =
        clientSide === 'ts'
          ? ts(`${kind}_client.ts`, ['--backend', backend, HOST, String(port)], conversation)
          : c(`${kind}_client`, [HOST, String(port)], conversation);
      await finished(client);
      expect(client.stderr).toBe(tooLongNotice);
      expect(client.code).toBe(0);
      expect(client.stdout).toBe(clientTranscript(kind, port));
      await succeeded(server);
      expect(server.stdout).toBe(serverTranscript(kind, port, server.stdout));
    });
  });

  it('tcp_server.ts: lines split and joined by TCP, too-long lines, two clients side by side, `exit` closes all', async () => {
    const { proc: server, port } = await startUppercaseServer('tcp', 'ts', backend);
    const first = await TcpPeer.connect(port);
    const firstPort = first.socket.localPort;
    // A line in two pieces with a pause between: one answer, once the '\n' is there.
    await first.write('abc X');
    await sleep(150);
    expect(first.received).toBe('');
    await first.write('YZ\n');
    expect(await first.lines(1)).toEqual(['ABC XYZ']);
    // Two lines and the start of a third in one write.
    await first.write('one\ntwo\r\nthr');
    expect(await first.lines(2)).toEqual(['ONE', 'TWO']);
    await first.write('ee\n');
    expect(await first.lines(1)).toEqual(['THREE']);

    // A second client is served while the first is still connected (the C server would make it wait).
    const second = await TcpPeer.connect(port);
    const long = 'abcdefghij'.repeat(100);
    for (let i = 0; i < long.length; i += 100) await second.write(long.slice(i, i + 100));
    await second.write('\n');
    expect(await second.lines(1)).toEqual([long.toUpperCase()]);
    await second.write(`${'x'.repeat(2000)}\nstill here\n${'m'.repeat(MAX_MSG)}\n`);
    expect(await second.lines(3)).toEqual(['error: message too long', 'STILL HERE', 'M'.repeat(MAX_MSG)]);
    await second.write(`${'z'.repeat(MAX_MSG + 1)}\n`);
    expect(await second.lines(1)).toEqual(['error: message too long']);

    // The first client leaves with an unterminated line: it is answered as a last line.
    await first.write('last');
    first.socket.end();
    await waitFor(() => first.closed, 'the first connection to close');
    expect(server.stdout).toContain('last -> LAST\n');
    expect(first.received).toBe('LAST\n');

    // `exit` from the second client stops the whole server.
    await second.write('exit\n');
    await waitFor(() => second.closed, 'the server to close the second connection');
    await succeeded(server);
    const lines = server.stdout.trimEnd().split('\n');
    expect(lines.filter((line) => line.startsWith('reject message from'))).toEqual(
      Array(2).fill(expect.stringMatching(new RegExp(String.raw`^reject message from \[127\.0\.0\.1:\d+\]: longer than ${MAX_MSG} bytes$`))),
    );
    expect(lines.filter((line) => line.startsWith('Accept connect request from'))).toHaveLength(2);
    expect(lines).toContain(`get message from [${HOST}:${firstPort}]: abc XYZ -> ABC XYZ`);
    expect(lines.at(-1)).toBe('get exit order, closing the server...');
  });

  it('udp_server.ts: one datagram is one message; over 1022 bytes is refused; `exit` stops it', async () => {
    const { proc: server, port } = await startUppercaseServer('udp', 'ts', backend);
    const peer = await UdpPeer.open();
    const long = 'abcdefghij'.repeat(100);
    expect(await peer.ask(long, port)).toBe(long.toUpperCase());
    expect(await peer.ask('m'.repeat(MAX_MSG), port)).toBe('M'.repeat(MAX_MSG));
    expect(await peer.ask('m'.repeat(MAX_MSG + 1), port)).toBe('error: message too long');
    expect(await peer.ask('x'.repeat(2000), port)).toBe('error: message too long');
    expect(await peer.ask('', port)).toBe('');
    await peer.send('exit', port);
    await peer.close();
    await succeeded(server);
    const lines = server.stdout.trimEnd().split('\n');
    expect(lines.filter((line) => line.startsWith('reject message from'))).toHaveLength(2);
    expect(lines.at(-1)).toBe('get exit order, closing the server...');
  });

  it('py_tcp_server.ts (seed 004, threaded): py_tcp_client.ts, the seed Python client and the C client, each on its own connection', async () => {
    const { proc: server, port } = await serve('tcp', (p) => ts('py_tcp_server.ts', ['--backend', backend, String(p), HOST]), printed('wait for connection...\n'));
    expect(server.stdout).toBe(`server start at: ${HOST}:${port}\nwait for connection...\n`);

    // Three clients connected at once; "exit" ends only the connection that sent it.
    const idle = await TcpPeer.connect(port);
    const tsClient = ts('py_tcp_client.ts', ['--backend', backend, HOST, String(port)], 'abc\nHello World\nexit\n');
    await succeeded(tsClient);
    expect(tsClient.stdout).toBe(
      'Please input yout messae: abc\nWrite Back Message content is ABC\n' +
        'Please input yout messae: Hello World\nWrite Back Message content is HELLO WORLD\n' +
        'Please input yout messae: exit\nclient is over\n',
    );
    const pyClient = py('seed004_tcp_client.py', [HOST, String(port)], 'grüße\nexit\n');
    await succeeded(pyClient);
    // Python's str.upper(), as the seed's server used: ß becomes SS.
    expect(pyClient.stdout).toBe('Please input yout messae: grüße\nWrite Back Message content is GRÜSSE\nPlease input yout messae: exit\nclient is over\n');
    // The C client sends lines ending in '\n': each is answered with a line.
    const cClient = c('tcp_client', [HOST, String(port)], 'line one\nexit\n');
    await succeeded(cClient);
    expect(cClient.stdout).toBe(`Connect server [${HOST}:${port}] success\nPlease input your message: get receive message from [${HOST}:${port}]: LINE ONE\nPlease input your message: `);

    // The first connection was never disturbed, and the server still runs.
    await idle.write('still ');
    await waitFor(() => idle.received === 'STILL ', 'the answer on the first connection');
    expect(server.done).toBe(false);
    expect(server.stdout).toBe(
      `server start at: ${HOST}:${port}\nwait for connection...\n` +
        'Server Message is ABC\nServer Message is HELLO WORLD\nServer Message is GRÜSSE\nServer Message is LINE ONE\nServer Message is STILL \n',
    );
    idle.socket.destroy();
  });

  it('py_udp_server.ts (seed 004): py_udp_client.ts, then the seed Python client, whose `exit` stops it', async () => {
    const { proc: server, port } = await serve('udp', (p) => ts('py_udp_server.ts', ['--backend', backend, String(p), HOST]), printed('wait for connection...\n'));
    const tsClient = ts('py_udp_client.ts', ['--backend', backend, HOST, String(port)], 'abc\nHello World\n');
    await succeeded(tsClient);
    // End of input without `exit`: the client ends, the server keeps running.
    expect(tsClient.stdout).toBe(
      'Please input yout messae: abc\nWrite Back Message content is ABC\n' +
        'Please input yout messae: Hello World\nWrite Back Message content is HELLO WORLD\n' +
        'Please input yout messae: \nclient is over\n',
    );
    const pyClient = py('seed004_udp_client.py', [HOST, String(port)], 'xyz\nexit\n');
    await succeeded(pyClient);
    expect(pyClient.stdout).toBe('Please input yout messae: xyz\nWrite Back Message content is XYZ\nPlease input yout messae: exit\nclient is over\n');
    await succeeded(server);
    expect(server.stdout).toBe(
      `server start at: ${HOST}:${port}\nwait for connection...\nServer Message is ABC\nServer Message is HELLO WORLD\nServer Message is XYZ\n`,
    );
  });

  it('echo_server.ts + echo_client.ts (seed 003, port 65432 by default), and the seed Python client: "Hello, world" comes back', async () => {
    // Two servers side by side: as in the seed, each serves one client and ends.
    const launch = (port: number) => ts('echo_server.ts', ['--backend', backend, String(port), HOST]);
    const [forTs, forPython] = await Promise.all([serve('tcp', launch, bound('tcp')), serve('tcp', launch, bound('tcp'))]);
    const clients = [ts('echo_client.ts', ['--backend', backend, HOST, String(forTs.port)]), py('seed003_echo_client.py', [HOST, String(forPython.port)])];
    for (const client of clients) {
      await succeeded(client);
      expect(client.stdout).toBe("Received b'Hello, world'\n");
    }
    for (const { proc } of [forTs, forPython]) {
      await succeeded(proc);
      expect(proc.stdout).toMatch(/^Connected by \('127\.0\.0\.1', \d+\)\n$/);
    }
  });

  it('message_server.ts + message_client.ts (seed 003 UDP), and the seed Python client: host names resolved, "Message received." comes back', async () => {
    const launch = (port: number) => ts('message_server.ts', ['--backend', backend, String(port), HOST]);
    const [forTs, forPython] = await Promise.all([serve('udp', launch, bound('udp')), serve('udp', launch, bound('udp'))]);
    const clients = [
      ts('message_client.ts', ['--backend', backend, 'localhost', String(forTs.port), 'Hello UDP']),
      py('seed003_udp_client.py', ['localhost', String(forPython.port), 'hi from python']),
    ];
    for (const client of clients) {
      await succeeded(client);
      expect(client.stdout).toBe('Message from server: Message received.\n');
    }
    for (const [{ proc }, text] of [[forTs, 'Hello UDP'], [forPython, 'hi from python']] as const) {
      await succeeded(proc);
      const from = portIn(proc.stdout, /Message from \('127\.0\.0\.1', (\d+)\)/);
      expect(proc.stdout).toBe(`${hostname()}\nServer received: ${text}\nMessage from ('127.0.0.1', ${from})\n`);
    }
  });

  it('json_message_server.ts + json_message_client.ts (seed 002): a Telegram in the background, then Status waits for its answer', async () => {
    const { proc: server, port } = await serve('tcp', (p) => ts('json_message_server.ts', ['--backend', backend, String(p), HOST]), printed('listening on'));
    expect(server.stdout).toBe(`listening on ${HOST}:${port} backend=${backend} actions=Telegram,Status\n`);
    // The client finds the server by name in a config of the write-up's layout.
    const dir = mkdtempSync(join(tmpdir(), 'json-message-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, `Socket_connection:\n  Client:\n    Telegram:\n      IP: ${HOST}\n      Port: ${port}\n`);
    try {
      for (const count of [1, 2]) {
        const client = await succeeded(ts('json_message_client.ts', ['--backend', backend, '--config', config, '--to', 'Telegram']));
        expect(client.stdout).toBe(`sent Telegram in the background\nanswer to Status: {"telegrams":${count}}\n`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    server.child.kill('SIGINT');
    await succeeded(server);
    expect(server.stdout.split('\n').slice(1)).toEqual([
      'Telegram from 127.0.0.1: "Measurement started"',
      'Telegram from 127.0.0.1: "Measurement started"',
      'closed',
      '',
    ]);
  });

  it('json_message_client.ts: nobody listening is a NOT_CONNECTED error and exit 1', async () => {
    const port = await freePort('tcp');
    const client = ts('json_message_client.ts', ['--backend', backend, HOST, String(port)]);
    await finished(client, 15_000);
    expect(client.code).toBe(1);
    expect(client.stderr).toMatch(/^ERR_SOCKENGINE_NOT_CONNECTED: /);
  });

  it("message_client.ts: the seed's messages for wrong arguments and an unknown host name", async () => {
    const wrong = ts('message_client.ts', ['--backend', backend, 'localhost', '9']);
    const unknown = ts('message_client.ts', ['--backend', backend, 'no-such-host.invalid', '9', 'x']);
    await finished(wrong);
    expect(wrong.stdout).toBe('Wrong input arguments, please enter 3 arguments.\n');
    expect(wrong.code).toBe(2);
    await finished(unknown);
    expect(unknown.stdout).toBe('Unknown hostname: no-such-host.invalid\n');
    expect(unknown.code).toBe(1);
  });

  it('micropython_server.ts + micropython_client.ts (seed 001): greeting, echo ping-pong, Ctrl-C on the server ends both', async () => {
    const { proc: server, port } = await serve('tcp', (p) => ts('micropython_server.ts', ['--backend', backend, String(p), HOST]), printed('accepting.....\n'));
    const client = ts('micropython_client.ts', ['--backend', backend, HOST, String(port)]);
    const greeting = "b'hello MicroPython, I am TCP Client'";
    // Both sides echo what they get, so the greeting goes back and forth until one stops.
    await waitFor(() => client.stdout.split('\n').length > 3, 'a few rounds of ping-pong');
    server.child.kill('SIGINT');
    await succeeded(client);
    await succeeded(server);

    const clientLines = client.stdout.trimEnd().split('\n');
    expect(clientLines.at(-1)).toBe('close socket');
    expect(new Set(clientLines.slice(0, -1))).toEqual(new Set([greeting]));
    const serverLines = server.stdout.trimEnd().split('\n');
    const clientPort = portIn(server.stdout, /^\('127\.0\.0\.1', (\d+)\) connected$/m);
    expect(serverLines.slice(0, 3)).toEqual(['tcp waiting...', 'accepting.....', `('127.0.0.1', ${clientPort}) connected`]);
    expect(serverLines.at(-1)).toBe('close socket');
    expect(new Set(serverLines.slice(3, -1))).toEqual(new Set(['hello MicroPython, I am TCP Client']));
  });

  it('socket_trigger.ts (seed 000): trigger_client.ts and the seed Python clients start one recorded run per event', async () => {
    const check = async (kind: Kind) => {
      const { proc: trigger, port } = await serve(
        kind,
        (p) => ts('socket_trigger.ts', ['--backend', backend, '--transport', kind, '--debug', 'debug run', String(p), HOST]),
        printed('run #1 '),
      );
      const what = kind === 'tcp' ? 'connect,data,close' : 'datagram';
      const event = kind === 'tcp' ? 'data' : 'datagram';
      expect(trigger.stdout).toBe(
        `socket trigger on ${kind} ${HOST}:${port} (${what})\nrun #1 ${event} debug - ok: ${event[0]!.toUpperCase()}${event.slice(1)} from debug: "debug run"\n`,
      );
      const runsPerClient = kind === 'tcp' ? 3 : 1;
      const tsClient = ts('trigger_client.ts', ['--backend', backend, '--transport', kind, HOST, String(port)]);
      await succeeded(tsClient);
      expect(tsClient.stdout).toBe('');
      await waitFor(() => trigger.stdout.includes(`run #${1 + runsPerClient} `), "the TypeScript client's runs");
      const pyClient = py(`seed000_${kind}_client.py`, [HOST, String(port)]);
      await succeeded(pyClient);
      expect(pyClient.stdout).toBe(''); // the seed's clients print nothing
      await waitFor(() => trigger.stdout.includes(`run #${1 + 2 * runsPerClient} `), "the Python client's runs");
      trigger.child.kill('SIGINT');
      await succeeded(trigger);
      expect(byRun(trigger.stdout.split('\n').slice(2, -1))).toEqual(triggerRecords(kind, trigger.stdout, 2));
    };
    await Promise.all([check('tcp'), check('udp')]);
  }, 60_000);

  it("stats.ts: the servers' own counters, server.connections and server.stats(), follow the traffic", async () => {
    const { proc: stats, port } = await serve(
      'tcp',
      (p) => ts('stats.ts', ['--backend', backend, '--interval', '50', String(p), HOST]),
      printed('connections=0'),
    );
    expect(stats.stdout.split('\n')[0]).toBe(`serving ${HOST}:${port} (tcp and udp) on the ${backend} backend`);
    const peers = await Promise.all([TcpPeer.connect(port), TcpPeer.connect(port)]);
    const udp = await UdpPeer.open();
    expect(await udp.ask('abc', port)).toBe('ABC'); // the built-in handler, no JavaScript per datagram
    const busy = `tcp ${HOST}:${port} connections=2 | udp ${HOST}:${port} datagramsIn=1 bytesIn=3 datagramsOut=1 bytesOut=3 truncated=0 sendErrors=0\n`;
    await waitFor(() => stats.stdout.includes(busy), 'the counters to show two connections and one datagram');
    for (const peer of peers) peer.socket.destroy();
    await udp.close();
    await waitFor(() => stats.stdout.endsWith(busy.replace('connections=2', 'connections=0')), 'the connections to be counted out');
    stats.child.kill('SIGINT');
    await succeeded(stats);
  });

  it("the sockengine command serves the seeds' Python clients: 003 echo and UDP, 004 TCP and UDP, 000 with sockengine trigger and the example workflow", async () => {
    const [echo, reply, upperTcp, upperUdp, triggerTcp, triggerUdp] = await Promise.all([
      serveCli(['--backend', backend, '--handler', 'echo']),
      serveCli(['--backend', backend, '--transport', 'udp', '--handler', 'reply:Message received.']),
      serveCli(['--backend', backend, '--transport', 'tcp']),
      serveCli(['--backend', backend, '--transport', 'udp']),
      triggerCli(['--backend', backend, '--transport', 'tcp'], `trigger-tcp-${backend}.db`),
      triggerCli(['--backend', backend, '--transport', 'udp'], `trigger-udp-${backend}.db`),
    ]);
    const upperInput = 'abc\nHello World\nexit\n';
    const clients: [Proc, string][] = [
      [py('seed003_echo_client.py', [HOST, String(echo.port)]), "Received b'Hello, world'\n"],
      [py('seed003_udp_client.py', ['localhost', String(reply.port), 'hello']), 'Message from server: Message received.\n'],
      ...[upperTcp, upperUdp].map((server, i): [Proc, string] => [
        py(`seed004_${i === 0 ? 'tcp' : 'udp'}_client.py`, [HOST, String(server.port)], upperInput),
        'Please input yout messae: abc\nWrite Back Message content is ABC\n' +
          'Please input yout messae: Hello World\nWrite Back Message content is HELLO WORLD\n' +
          'Please input yout messae: exit\nclient is over\n',
      ]),
      [py('seed000_tcp_client.py', [HOST, String(triggerTcp.port)]), ''],
      [py('seed000_udp_client.py', [HOST, String(triggerUdp.port)]), ''],
    ];
    for (const [client, output] of clients) {
      await succeeded(client);
      expect(client.stdout, client.name).toBe(output);
    }
    /** The store's records, oldest first, read in this process. */
    const records = (store: string) => {
      const reader = openRunStore(store, { readonly: true });
      try {
        return reader.list().reverse().map((r) => ({ ...r, payloadText: r.payload.toString('utf8') }));
      } finally {
        reader.close();
      }
    };
    await waitFor(() => records(triggerTcp.store).length === 3 && records(triggerUdp.store).length === 1, 'the trigger records', 15_000);
    const servers = [echo, reply, upperTcp, upperUdp, triggerTcp, triggerUdp];
    for (const { proc } of servers) proc.child.kill('SIGINT');
    for (const { proc } of servers) await succeeded(proc);
    const tcp = records(triggerTcp.store);
    const who = `127.0.0.1:${tcp[0]!.remotePort}`;
    expect(tcp.map((r) => [r.event, r.payloadText, r.output])).toEqual([
      ['connect', '', `Connect from ${who}`],
      ['data', 'Hello TCP Server\0', `Data from ${who}: "Hello TCP Server\\u0000"`],
      ['close', '', `Close from ${who}`],
    ]);
    const [udp] = records(triggerUdp.store);
    expect([udp!.event, udp!.payloadText, udp!.output]).toEqual(['datagram', 'Hello UDP Server', `Datagram from 127.0.0.1:${udp!.remotePort}: "Hello UDP Server"`]);
   }, 60_000);
});

/** Lines `run #N ...` in run order (runs may finish, and print, out of order). */
function byRun(lines: string[]): string[] {
  const id = (line: string) => Number(/^run #(\d+) /.exec(line)?.[1] ?? NaN);
  return [...lines].sort((a, b) => id(a) - id(b));
}

/**
 * The lines socket_trigger.ts prints for `clients` clients (TCP: connect, data, close each;
 * UDP: one datagram each), numbered from `first`, with the client ports taken from the output.
 */
function triggerRecords(kind: Kind, output: string, clients: number, first = 2): string[] {
  const ports = [...output.matchAll(/^run #\d+ (?:data|datagram) client 127\.0\.0\.1:(\d+) /gm)].map((match) => Number(match[1]));
  expect(ports).toHaveLength(clients);
  const records: string[] = [];
  let run = first;
  for (const port of ports) {
    const who = `127.0.0.1:${port}`;
    const data = JSON.stringify(kind === 'tcp' ? 'Hello TCP Server\0' : 'Hello UDP Server');
    if (kind === 'tcp') records.push(`run #${run++} connect client ${who} ok: Connect from ${who}`);
    records.push(`run #${run++} ${kind === 'tcp' ? 'data' : 'datagram'} client ${who} ok: ${kind === 'tcp' ? 'Data' : 'Datagram'} from ${who}: ${data}`);
    if (kind === 'tcp') records.push(`run #${run++} close client ${who} ok: Close from ${who}`);
  }
  return records;
}
