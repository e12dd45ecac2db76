/**
 * The C teaching programs in examples/c/: built with CMake, then run against each
 * other, against node:net / node:dgram peers, and against Python's socket module, on
 * 127.0.0.1 only. Every child process is killed after each test and every wait is
 * bounded.
 */
import { execFile, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { finished, freePort, killStarted, LinePeer, sleep, startProcess, waitFor, type Proc } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sourceDir = join(root, 'examples', 'c');
const buildDir = join(root, 'build', 'examples-c');
const HOST = '127.0.0.1';
/** The servers' and clients' message limit (BUF_SIZE - 2 in the C sources). */
const MAX_MSG = 1022;

type Kind = 'tcp' | 'udp';
const kinds: readonly Kind[] = ['tcp', 'udp'];

const run = promisify(execFile);
afterEach(killStarted);

/** Starts a program; its stdin stays open for the test to write to. */
const start = (command: string, args: string[]) => startProcess(command, command, args);

const programs = ['udp_server', 'udp_client', 'tcp_server', 'tcp_client'];
/** Where the tests run the programs from: a private copy of the build, see beforeAll. */
let binDir = '';
const binary = (name: string) => join(binDir, name);

/**
 * Starts `KIND_server PORT 127.0.0.1` on a free port and waits for its ready line.
 * Another process may take the port between freePort() and the server's bind(), so a
 * server that exits before it is ready is tried again on a new port.
 */
async function startServer(kind: Kind): Promise<{ proc: Proc; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(kind);
    const proc = start(binary(`${kind}_server`), [String(port), HOST]);
    await waitFor(() => proc.stdout.includes('\n') || proc.done, 'the server to get ready');
    if (!proc.done) {
      const ready = kind === 'tcp' ? `server [${HOST}:${port}] --- ready\n` : 'Server ready!\n';
      expect(proc.stdout).toBe(ready);
      return { proc, port };
    }
    if (attempt === 3) throw new Error(`the ${kind} server would not start: ${proc.stderr}`);
  }
}

/** Runs the C client with `input` piped to its stdin and waits for it to exit. */
async function runClient(kind: Kind, port: number, input: string): Promise<Proc> {
  const proc = start(binary(`${kind}_client`), [HOST, String(port)]);
  proc.child.stdin!.end(input);
  return finished(proc, 10_000);
}

/** The client port the server logged on its first message line. */
function clientPort(serverOut: string): number {
  const match = /get message from \[127\.0\.0\.1:(\d+)\]/.exec(serverOut);
  if (!match) throw new Error(`no message line in server output:\n${serverOut}`);
  return Number(match[1]);
}

/** TCP peers read and write latin1, so any byte the C programs send shows up as one char. */
const TcpPeer = { connect: (port: number) => LinePeer.connect(port, 'latin1') };

/** A node:dgram peer on 127.0.0.1 that collects the datagrams it receives. */
class UdpPeer {
  received: { text: string; port: number }[] = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (message, rinfo) => this.received.push({ text: message.toString('latin1'), port: rinfo.port }));
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
    return new Promise((resolve, reject) =>
      this.socket.send(Buffer.from(text, 'latin1'), port, HOST, (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Sends `text` and waits for the next datagram back. */
  async ask(text: string, port: number, timeoutMs = 5000): Promise<string> {
    const before = this.received.length;
    await this.send(text, port);
    await waitFor(() => this.received.length > before, `an answer to a ${text.length}-byte datagram`, timeoutMs);
    return this.received[before].text;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Asks the server to stop (a line for TCP, a datagram for UDP) and waits for it. */
async function stopServer(kind: Kind, port: number, server: Proc): Promise<void> {
  if (kind === 'tcp') {
    const peer = await TcpPeer.connect(port);
    await peer.write('exit\n');
    await waitFor(() => peer.closed, 'the server to close the connection');
  } else {
    const peer = await UdpPeer.open();
    await peer.send('exit', port);
    await peer.close();
  }
  await finished(server);
  expect(server.stderr).toBe('');
  expect(server.code).toBe(0);
}

/** Runs `python3 -c SCRIPT PORT`; the scripts use only the standard library. */
async function runPython(script: string, port: number): Promise<Proc> {
  const proc = start('python3', ['-c', script, HOST, String(port)]);
  proc.child.stdin!.end();
  return finished(proc, 10_000);
}

const pythonTcpClient = String.raw`
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
with socket.create_connection((host, port), timeout=5) as s:
    s.sendall(b"hello\n")
    answer = b""
    while not answer.endswith(b"\n"):
        chunk = s.recv(1024)
        if not chunk:
            sys.exit("the server closed before answering")
        answer += chunk
    print(answer.decode().rstrip("\n"))
    s.sendall(b"exit\n")
`;

const pythonUdpClient = String.raw`
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(5)
    s.sendto(b"hello", (host, port))
    data, addr = s.recvfrom(2048)
    if addr != (host, port):
        sys.exit("answer from unexpected address %r" % (addr,))
    print(data.decode())
    s.sendto(b"exit", (host, port))
`;

beforeAll(async () => {
  const python = spawnSync('python3', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (python.status !== 0) throw new Error(`python3 is needed for these tests: ${python.error ?? python.stderr}`);

  const options = { cwd: root, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 };
  await run('cmake', ['-S', sourceDir, '-B', buildDir], options);
  // The build is incremental: on an already built tree it only checks timestamps.
  const build = await run('cmake', ['--build', buildDir], options);
  // Compiled with -Wall -Wextra (see CMakeLists.txt); there should be nothing to say.
  expect(`${build.stdout}${build.stderr}`).not.toMatch(/warning:/);

  // `node-gyp rebuild` (npm run build:native) deletes all of build/, build/examples-c
  // included; run from a copy so that a rebuild elsewhere cannot pull the programs
  // away in the middle of these tests.
  binDir = mkdtempSync(join(tmpdir(), 'sockengine-examples-c-'));
  for (const program of programs) copyFileSync(join(buildDir, program), join(binDir, program));
}, 180_000);

afterAll(() => {
  if (binDir) rmSync(binDir, { recursive: true, force: true });
});

describe.each(kinds)('examples/c %s programs', (kind) => {
  it('the C client and server talk: prompts, answers, `exit` ends both with status 0', async () => {
    const { proc: server, port } = await startServer(kind);
    const client = await runClient(kind, port, 'hello\nabc XYZ\nexit\n');

    const connectLine = kind === 'tcp' ? `Connect server [${HOST}:${port}] success\n` : '';
    expect(client.stderr).toBe('');
    expect(client.stdout).toBe(
      connectLine +
        `Please input your message: get receive message from [${HOST}:${port}]: HELLO\n` +
        `Please input your message: get receive message from [${HOST}:${port}]: ABC XYZ\n` +
        'Please input your message: ',
    );
    expect(client.code).toBe(0);

    await finished(server);
    const from = `[${HOST}:${clientPort(server.stdout)}]`;
    const head = kind === 'tcp' ? `server [${HOST}:${port}] --- ready\nAccept connect request from ${from}\n` : 'Server ready!\n';
    expect(server.stdout).toBe(
      head +
        `get message from ${from}: hello -> HELLO\n` +
        `get message from ${from}: abc XYZ -> ABC XYZ\n` +
        'get exit order, closing the server...\n',
    );
    expect(server.stderr).toBe('');
    expect(server.code).toBe(0);
  });

  it(`a 1000-byte message is answered in full; one over ${MAX_MSG} bytes is refused, and the server goes on`, async () => {
    const { proc: server, port } = await startServer(kind);
    const long = 'abcdefghij'.repeat(100); // 1000 bytes, more than any 8-byte sizeof(pointer)
    const tooLong = 'x'.repeat(2000);

    if (kind === 'tcp') {
      const peer = await TcpPeer.connect(port);
      // The long line in ten pieces, so the server must put it back together.
      for (let i = 0; i < long.length; i += 100) {
        await peer.write(long.slice(i, i + 100));
        await sleep(5);
      }
      await peer.write('\n');
      expect(await peer.lines(1)).toEqual([long.toUpperCase()]);
      await peer.write(`${tooLong}\n`);
      expect(await peer.lines(1)).toEqual(['error: message too long']);
      await peer.write('still here\n');
      expect(await peer.lines(1)).toEqual(['STILL HERE']);
      // The longest line that fits is still answered.
      const longest = 'm'.repeat(MAX_MSG);
      await peer.write(`${longest}\n`);
      expect(await peer.lines(1)).toEqual([longest.toUpperCase()]);
      peer.socket.end();
    } else {
      const peer = await UdpPeer.open();
      expect(await peer.ask(long, port)).toBe(long.toUpperCase());
      expect(await peer.ask(tooLong, port)).toBe('error: message too long');
      expect(await peer.ask('still here', port)).toBe('STILL HERE');
      const longest = 'm'.repeat(MAX_MSG);
      expect(await peer.ask(longest, port)).toBe(longest.toUpperCase());
      expect(await peer.ask('m'.repeat(MAX_MSG + 1), port)).toBe('error: message too long');
      await peer.close();
    }

    await stopServer(kind, port, server);
    const lines = server.stdout.trimEnd().split('\n');
    expect(lines.filter((line) => line.startsWith('reject message from'))).toEqual(
      Array(kind === 'tcp' ? 1 : 2).fill(expect.stringMatching(
        new RegExp(String.raw`^reject message from \[127\.0\.0\.1:\d+\]: longer than ${MAX_MSG} bytes$`),
      )),
    );
    expect(lines).toContain(`get message from [${HOST}:${clientPort(server.stdout)}]: ${long} -> ${long.toUpperCase()}`);
    expect(lines.at(-1)).toBe('get exit order, closing the server...');
  });

  it('the C client refuses a line longer than the limit and goes on with the next one', async () => {
    const { proc: server, port } = await startServer(kind);
    const client = await runClient(kind, port, `${'y'.repeat(2000)}\nhello\nexit\n`);

    expect(client.stderr).toBe(`message too long (at most ${MAX_MSG} characters), not sent\n`);
    expect(client.stdout).toMatch(
      new RegExp(
        String.raw`Please input your message: Please input your message: get receive message from \[127\.0\.0\.1:${port}\]: HELLO\nPlease input your message: $`,
      ),
    );
    expect(client.code).toBe(0);
    await finished(server);
    expect(server.stdout).toMatch(/hello -> HELLO\nget exit order, closing the server\.\.\.\n$/);
    expect(server.code).toBe(0);
  });

  it('a Python socket-module client sends `hello` and gets `HELLO`', async () => {
    const { proc: server, port } = await startServer(kind);
    const python = await runPython(kind === 'tcp' ? pythonTcpClient : pythonUdpClient, port);

    expect(python.stderr).toBe('');
    expect(python.stdout).toBe('HELLO\n');
    expect(python.code).toBe(0);

    await finished(server);
    const from = `[${HOST}:${clientPort(server.stdout)}]`;
    const head = kind === 'tcp' ? `server [${HOST}:${port}] --- ready\nAccept connect request from ${from}\n` : 'Server ready!\n';
    expect(server.stdout).toBe(`${head}get message from ${from}: hello -> HELLO\nget exit order, closing the server...\n`);
    expect(server.stderr).toBe('');
    expect(server.code).toBe(0);
  });
});

describe('examples/c tcp_server and TCP message boundaries', () => {
  it('a message split across two writes, with a pause between, gets one whole answer', async () => {
    const { proc: server, port } = await startServer('tcp');
    const peer = await TcpPeer.connect(port);
    await peer.write('abc X');
    await sleep(150);
    expect(peer.received).toBe(''); // no '\n' yet: the server waits for the rest
    await peer.write('YZ\n');
    expect(await peer.lines(1)).toEqual(['ABC XYZ']);
    expect(peer.received).toBe('');
    peer.socket.end();
    await waitFor(() => peer.closed, 'the server to close the connection');

    await stopServer('tcp', port, server);
    expect(server.stdout).toContain(`get message from [${HOST}:${clientPort(server.stdout)}]: abc XYZ -> ABC XYZ\n`);
    expect(server.stdout.match(/get message from/g)).toHaveLength(1);
  });

  it('two messages in one write get two answers, in order', async () => {
    const { proc: server, port } = await startServer('tcp');
    const peer = await TcpPeer.connect(port);
    await peer.write('one\ntwo\r\nthree');
    expect(await peer.lines(2)).toEqual(['ONE', 'TWO']);
    // The unfinished `three` is answered once the client closes its sending side.
    peer.socket.end();
    expect(await peer.lines(1)).toEqual(['THREE']);
    await waitFor(() => peer.closed, 'the server to close the connection');
    await stopServer('tcp', port, server);
  });

  it('a client leaving without `exit` ends only its connection; the next client is served', async () => {
    const { proc: server, port } = await startServer('tcp');
    const first = await TcpPeer.connect(port);
    await first.write('first\n');
    expect(await first.lines(1)).toEqual(['FIRST']);
    first.socket.destroy();

    const client = await runClient('tcp', port, 'second\nexit\n');
    expect(client.stdout).toContain(`get receive message from [${HOST}:${port}]: SECOND\n`);
    expect(client.code).toBe(0);

    await finished(server);
    expect(server.stdout.match(/^Accept connect request from/gm)).toHaveLength(2);
    expect(server.stdout).toMatch(/second -> SECOND\nget exit order, closing the server\.\.\.\n$/);
    expect(server.stderr).toBe('');
    expect(server.code).toBe(0);
  });
});
