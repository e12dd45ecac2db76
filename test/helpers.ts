/** Shared test tools: real loopback peers, waiting, and descriptor counting. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../lib/index.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cli = join(root, 'bin', 'sockengine.js');
export const backends: readonly Backend[] = ['native', 'node'];

/** Resolves when `check` returns true, polling; rejects with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A plain node:net client: an independent peer for either backend. */
export class RawClient {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  ended = false;
  closed = false;
  error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('end', () => (this.ended = true));
    socket.on('error', (error) => (this.error = error));
    socket.on('close', () => (this.closed = true));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Waits for at least `length` received bytes and returns them all (then forgets them). */
  async read(length: number, timeoutMs = 5000): Promise<Buffer> {
    await waitFor(() => this.received.length >= length || this.closed, `${length} bytes`, timeoutMs);
    const all = this.received;
    this.received = Buffer.alloc(0);
    return all;
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.closed, 'the connection to close', timeoutMs);
  }
}

/** Open file descriptors of this process (Linux). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Starts the sockengine CLI and resolves with the ready line once it prints `listening`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; line: string; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not print a ready line; stdout=${out} stderr=${err}`));
    }, 10_000);
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.includes('listening'));
      if (line && out.includes('\n')) {
        clearTimeout(timer);
        const port = Number(/:(\d+)\s/.exec(line)![1]);
        resolve({ child, line, port });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`CLI exited with ${code} before listening; stdout=${out} stderr=${err}`));
    });
  });
}

/** Waits for a child process to exit and gives its status and output. */
export function exited(child: ChildProcess, timeoutMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child did not exit in time'));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** A child process started by startProcess(), with its output so far. */
export interface Proc {
  name: string;
  child: ChildProcess;
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  done: boolean;
}

const startedProcs = new Set<Proc>();

/**
 * Starts `command`, collecting its output. Its stdin stays open unless `input` is given.
 * killStarted() (in an afterEach) ends whatever is still running.
 */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Proc {
  const child = spawn(command, args, {
    cwd: options.cwd ?? root,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const proc: Proc = { name, child, stdout: '', stderr: '', code: null, signal: null, done: false };
  startedProcs.add(proc);
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (proc.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (proc.stderr += chunk));
  // A child that exits early makes writes to its stdin fail with EPIPE: the test's
  // assertions report that better than an unhandled error would.
  child.stdin!.on('error', () => {});
  if (options.input !== undefined) child.stdin!.end(options.input);
  child.on('error', (error) => {
    proc.stderr += `spawn error: ${error.message}\n`;
    proc.done = true;
  });
  child.on('close', (code, signal) => {
    proc.code = code;
    proc.signal = signal;
    proc.done = true;
  });
  return proc;
}

/** Waits for the process to end (its output streams closed too). */
export async function finished(proc: Proc, timeoutMs = 15_000): Promise<Proc> {
  await waitFor(() => proc.done, `${proc.name} to exit (stdout so far: ${JSON.stringify(proc.stdout.slice(-300))})`, timeoutMs);
  return proc;
}

/** Kills every process startProcess() started that is still running. */
export async function killStarted(): Promise<void> {
  for (const proc of startedProcs) {
    if (!proc.done) {
      proc.child.kill('SIGKILL');
      await waitFor(() => proc.done, 'a killed child to go', 5000).catch(() => {});
    }
    startedProcs.delete(proc);
  }
}

const portsHandedOut = new Set<number>();

/**
 * A port that was free a moment ago on 127.0.0.1 (bind port 0, read it, close), never the
 * same one twice in a file, so servers started side by side cannot collide.
 */
export async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  for (;;) {
    const port = await ephemeralPort(kind);
    if (!portsHandedOut.has(port)) {
      portsHandedOut.add(port);
      return port;
    }
  }
}

function ephemeralPort(kind: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'tcp') {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    } else {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        const { port } = socket.address();
        socket.close(() => resolve(port));
      });
    }
  });
}

/** A node:net peer that collects text and hands it out line by line. */
export class LinePeer {
  received = '';
  closed = false;
  private constructor(
    readonly socket: net.Socket,
    private readonly encoding: BufferEncoding,
  ) {
    socket.setEncoding(encoding);
    socket.on('data', (chunk: string) => (this.received += chunk));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static connect(port: number, encoding: BufferEncoding = 'utf8'): Promise<LinePeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new LinePeer(socket, encoding));
      });
    });
  }

  write(data: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(data, this.encoding, (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Waits until `count` whole lines have arrived and returns them (then forgets them). */
  async lines(count: number, timeoutMs = 5000): Promise<string[]> {
    await waitFor(() => this.received.split('\n').length - 1 >= count || this.closed, `${count} lines`, timeoutMs);
    const parts = this.received.split('\n');
    this.received = parts.slice(count).join('\n');
    return parts.slice(0, count);
  }
}

/** Whether strace runs here (the tests that count a server's system calls need it). */
export const hasStrace = spawnSync('strace', ['-V']).status === 0;

/**
 * Runs the server `fixture` (a script that prints `ready PORT PID`; `args` follow it) under strace, tracing
 * `calls` (strace's `trace=` list) in all its threads, and hands its port to `use`. The
 * server itself is then stopped with SIGTERM, so strace ends with it and writes the trace
 * out; resolves the trace's lines (`PID call(args) = result`).
 */
export async function traceServer(
  fixture: string,
  calls: string,
  use: (port: number) => Promise<void>,
  args: string[] = [],
): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sockengine-strace-'));
  const trace = join(dir, 'trace');
  const child = spawn('strace', ['-f', '-qq', '-e', `trace=${calls}`, '-o', trace, process.execPath, join(root, fixture), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  const ended = new Promise((resolve) => child.once('exit', resolve));
  try {
    try {
      await waitFor(() => /ready \d+/.test(out), 'the server to print its port', 20_000);
      await use(Number(/ready (\d+)/.exec(out)![1]));
    } finally {
      const pid = /ready \d+ (\d+)/.exec(out)?.[1];
      if (pid !== undefined) process.kill(Number(pid), 'SIGTERM');
      else child.kill('SIGKILL');
      await ended;
    }
    return readFileSync(trace, 'utf8').split('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
