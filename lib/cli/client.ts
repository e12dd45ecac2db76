/**
 * `sockengine client tcp HOST PORT [MESSAGE...]`: sends each message and prints each reply.
 * With no message: on a terminal (or with --interactive), a prompt loop like the classic C
 * client; otherwise it streams like nc, stdin to the socket and the socket to stdout, byte
 * for byte. With `--framing`, each message (each stdin line when streaming) is one frame and
 * each reply frame is one printed line.
 */
import { createInterface } from 'node:readline';
import { connect } from '../index.js';
import type { BackendChoice, ConnectOptions, Connection, DatagramSocket } from '../index.js';
import { parseCommand, parsePort, UsageError, type OptionSpec } from './args.js';
import { frameProblem, framingFlags, type FramingFlags } from './framing-flags.js';

/** `sockengine client --help`. */
export const CLIENT_USAGE = `usage: sockengine client tcp|udp HOST PORT [MESSAGE...] [options]
       sockengine client unix PATH [MESSAGE...] [options]   (a Unix stream socket; @NAME: abstract)
  With MESSAGEs: sends each one and prints each reply, one per line.
  Without: on a terminal, a prompt loop (\`exit\` ends it); with stdin a pipe or a file, streams
  like nc: stdin to the socket, the socket to stdout, byte for byte; at the end of stdin it
  half-closes (tcp) and exits once the server has closed (udp: once no reply came for 1 s).
      --backend auto|native|node   (default auto)
      --framing line|delim:HEX|length:N[:le]|fixed:N   tcp: each message (or stdin line) is one
                             frame; each reply frame is printed as one line
      --max-frame BYTES      with --framing: the largest reply frame (default 65536)
  -i, --interactive          the prompt loop even when stdin is not a terminal
  -h, --help                 this help`;

const options: OptionSpec = {
  backend: { type: 'string' },
  framing: { type: 'string' },
  'max-frame': { type: 'string' },
  interactive: { type: 'boolean', short: 'i' },
};
/** Streaming UDP: after stdin ends, replies are awaited until none came for this long. */
const UDP_LINGER_MS = 1000;
const NEWLINE = Buffer.from('\n');

export const PROMPT = 'Please input your message: ';
/** A reply is complete once as many bytes as were sent have arrived, or the line is quiet
 * this long after its first byte (a reply:TEXT server answers with a different length). */
const REPLY_QUIET_MS = 100;
/** How long to wait for the first byte of a reply. */
const REPLY_TIMEOUT_MS = 5000;

/** What both TCP readers share: the server's end or close, and waiting for the next event. */
abstract class ConnectionReader {
  protected ended = false;
  protected failure: Error | undefined;
  private wake: (() => void) | undefined;

  handler = {
    data: (_connection: Connection, chunk: Buffer) => {
      this.receive(chunk);
      this.wake?.();
    },
    end: () => {
      this.ended = true;
      this.wake?.();
    },
    close: (_connection: Connection, error?: Error) => {
      this.ended = true;
      this.failure ??= error;
      this.wake?.();
    },
  };

  /** True once the server closed its side. */
  get gone(): boolean {
    return this.ended;
  }

  /** Keeps what arrived (a chunk, or a whole frame with framing; either is ours to keep). */
  protected abstract receive(bytes: Buffer): void;

  /** Resolves at the next event or after `ms`. */
  protected async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = undefined;
  }
}

/** Collects a connection's bytes and hands them out one reply at a time. */
class ReplyReader extends ConnectionReader {
  private chunks: Buffer[] = [];
  private received = 0;

  protected receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
  }

  /** The next reply to a message of `expected` bytes; null when the server has gone or is silent. */
  async next(expected: number): Promise<Buffer | null> {
    const started = Date.now();
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.received >= expected && this.received > 0) return this.take();
      if (this.ended) return this.received > 0 ? this.take() : null;
      const quietFor = this.received > 0 ? REPLY_QUIET_MS : REPLY_TIMEOUT_MS - (Date.now() - started);
      if (quietFor <= 0) return this.received > 0 ? this.take() : null;
      const before = this.received;
      await this.pause(quietFor);
      if (this.received === before && !this.ended && this.received > 0) return this.take();
    }
  }

  private take(): Buffer {
    const reply = Buffer.concat(this.chunks);
    this.chunks = [];
    this.received = 0;
    return reply;
  }
}

/** Hands out a connected UDP socket's datagrams one at a time. */
class DatagramReader {
  private queue: Buffer[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  handler = {
    message: (_socket: DatagramSocket, data: Buffer) => {
      this.queue.push(Buffer.from(data));
      this.wake?.();
    },
    error: (_socket: DatagramSocket, error: Error) => {
      this.failure ??= error;
      this.wake?.();
    },
  };

  /** The next datagram, or null when none comes within REPLY_TIMEOUT_MS. */
  async next(): Promise<Buffer | null> {
    if (this.queue.length === 0 && !this.failure) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, REPLY_TIMEOUT_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    if (this.failure) {
      const failure = this.failure;
      this.failure = undefined;
      throw failure;
    }
    return this.queue.shift() ?? null;
  }
}

/** Hands out a framed connection's reply frames one at a time, in order. */
class FrameReader extends ConnectionReader {
  private frames: Buffer[] = [];

  protected receive(frame: Buffer): void {
    this.frames.push(frame);
  }

  /**
   * The next reply frame; null when the server has gone or sends none within
   * REPLY_TIMEOUT_MS. Frames that arrived before a failure (a frame over --max-frame, a
   * reset) are handed out first, then the failure is thrown.
   */
  async next(): Promise<Buffer | null> {
    if (this.frames.length === 0 && !this.ended) await this.pause(REPLY_TIMEOUT_MS);
    const frame = this.frames.shift();
    if (frame !== undefined) return frame;
    if (this.failure) throw this.failure;
    return null;
  }
}

/** One client conversation; TCP and UDP differ only in how a message and its reply travel. */
interface Session {
  /** Sends a message and prints its reply; false (after printing why) when none came. */
  exchange(message: string): Promise<boolean>;
  /**
   * Sends every message at once and prints as many replies, when the protocol keeps them
   * apart (framing); without it, messages are exchanged one by one.
   */
  exchangeAll?(messages: readonly string[]): Promise<boolean>;
  /** Sends without waiting for a reply (the final `exit`). */
  send(text: string): void;
  close(): void;
}

/** Prints one reply: its bytes as they came (never decoded), then a newline. */
function printReply(reply: Buffer | null, silence: () => string): boolean {
  if (reply === null) {
    process.stderr.write(`sockengine: ${silence()}\n`);
    return false;
  }
  process.stdout.write(Buffer.concat([reply, NEWLINE]));
  return true;
}

/** Prints one reply frame as one line: its bytes as they are, then a newline. */
function printFrame(frame: Buffer | null, silence: () => string): boolean {
  if (frame === null) {
    process.stderr.write(`sockengine: ${silence()}\n`);
    return false;
  }
  process.stdout.write(Buffer.concat([frame, Buffer.from('\n')]));
  return true;
}

async function udpSession(host: string, port: number, backend: BackendChoice): Promise<Session> {
  const reader = new DatagramReader();
  const socket = await connect({ transport: 'udp', host, port, backend, handler: reader.handler });
  return {
    async exchange(message) {
      socket.send(message);
      return printReply(await reader.next(), () => `no reply from ${host}:${port} within ${REPLY_TIMEOUT_MS / 1000} s`);
    },
    send: (text) => socket.send(text),
    close: () => socket.close(),
  };
}

/** Where a stream client connects: a host and port, or a Unix socket's path. */
type StreamTarget = { host: string; port: number } | { path: string };

/** The target as messages name it: HOST:PORT, or the socket's path (`@name` for an abstract one). */
function shown(target: StreamTarget): string {
  if ('path' in target) return target.path.startsWith('\0') ? `@${target.path.slice(1)}` : target.path;
  return `${target.host}:${target.port}`;
}

/** A stream connection to the target, by address or by path. */
function connectTo(target: StreamTarget, options: Omit<ConnectOptions, 'host' | 'port'>): Promise<Connection> {
  return 'path' in target
    ? connect({ ...options, path: target.path })
    : connect({ ...options, host: target.host, port: target.port });
}

async function tcpSession(target: StreamTarget, backend: BackendChoice): Promise<Session> {
  const reader = new ReplyReader();
  const connection = await connectTo(target, { backend, handler: reader.handler });
  return {
    async exchange(message) {
      const bytes = Buffer.from(message);
      if (bytes.length === 0) {
        // TCP cannot carry an empty message: nothing is sent, so no reply can come.
        process.stdout.write('\n');
        return true;
      }
      connection.write(bytes);
      return printReply(await reader.next(bytes.length), () =>
        reader.gone
          ? `${shown(target)} closed the connection`
          : `no reply from ${shown(target)} within ${REPLY_TIMEOUT_MS / 1000} s`,
      );
    },
    send: (text) => connection.write(text),
    close: () => connection.end(),
  };
}

async function framedSession(target: StreamTarget, backend: BackendChoice, flags: FramingFlags): Promise<Session> {
  const reader = new FrameReader();
  const connection = await connectTo(target, {
    backend, handler: reader.handler, framing: flags.framing, maxFrame: flags.maxFrame,
  });
  const silence = (replies: number, wanted: number) => () => {
    const counted = wanted > 1 ? ` after ${replies} of ${wanted} replies` : '';
    return reader.gone
      ? `${shown(target)} closed the connection${counted}`
      : `no reply from ${shown(target)} within ${REPLY_TIMEOUT_MS / 1000} s${counted}`;
  };
  return {
    async exchange(message) {
      const payload = Buffer.from(message);
      const problem = frameProblem(flags, payload);
      if (problem !== null) {
        // Typed by hand: say why and let the user try again.
        process.stderr.write(`sockengine: ${problem}; not sent\n`);
        return true;
      }
      connection.send(payload);
      return printFrame(await reader.next(), silence(0, 1));
    },
    async exchangeAll(messages) {
      // Frames keep their boundaries, so the messages can all be in flight at once.
      for (const message of messages) connection.send(Buffer.from(message));
      for (let replies = 0; replies < messages.length; replies++) {
        if (!printFrame(await reader.next(), silence(replies, messages.length))) return false;
      }
      return true;
    },
    send(text) {
      const payload = Buffer.from(text);
      if (frameProblem(flags, payload) === null) connection.send(payload);
    },
    close: () => connection.end(),
  };
}

export async function client(argv: string[]): Promise<number> {
  const { options: given, positionals, help } = parseCommand(argv, options);
  if (help) {
    process.stdout.write(`${CLIENT_USAGE}\n`);
    return 0;
  }
  const transportText = positionals[0];
  if (transportText === 'unix') {
    const [, path, ...rest] = positionals;
    if (path === undefined || path === '') throw new UsageError('client: missing PATH (usage: sockengine client unix PATH [MESSAGE...])');
    // A Unix socket is a stream like TCP: everything below treats it as one.
    return run('tcp', { path: path.startsWith('@') ? `\0${path.slice(1)}` : path }, rest, given);
  }
  const [transport, host, portText, ...messages] = positionals;
  const missing = transport === undefined ? 'TRANSPORT' : host === undefined ? 'HOST' : portText === undefined ? 'PORT' : '';
  if (missing || transport === undefined || host === undefined || portText === undefined) {
    throw new UsageError(`client: missing ${missing} (usage: sockengine client tcp|udp HOST PORT [MESSAGE...] or client unix PATH [MESSAGE...])`);
  }
  if (transport !== 'tcp' && transport !== 'udp') {
    throw new UsageError(`client transport must be tcp, udp or unix, got '${transport}'`);
  }
  const port = parsePort(portText, 'PORT', false);
  return run(transport, { host, port }, messages, given);
}

async function run(
  transport: 'tcp' | 'udp',
  target: StreamTarget,
  messages: string[],
  given: Map<string, string>,
): Promise<number> {
  const backendText = given.get('backend') ?? 'auto';
  if (!['auto', 'native', 'node'].includes(backendText)) {
    throw new UsageError(`--backend must be auto, native or node, got '${backendText}'`);
  }
  const backend = backendText as BackendChoice;
  const framed = framingFlags(given, transport);
  if (framed !== null) {
    for (const message of messages) {
      const problem = frameProblem(framed, Buffer.from(message));
      if (problem !== null) throw new UsageError(`${problem} (MESSAGE ${JSON.stringify(message)})`);
    }
  }
  const interactiveLoop = given.has('interactive') || process.stdin.isTTY === true;
  if (given.has('interactive') && messages.length > 0) {
    throw new UsageError('--interactive reads messages from stdin; give no MESSAGE with it');
  }
  const cannotReach = (error: unknown) => {
    const verb = transport === 'udp' ? 'reach' : 'connect to';
    process.stderr.write(`sockengine: cannot ${verb} ${shown(target)}: ${(error as Error).message}\n`);
    return 1;
  };
  if (messages.length === 0 && !interactiveLoop) {
    try {
      if (transport === 'udp' && 'host' in target) return await streamUdp(target.host, target.port, backend);
      return await streamTcp(target, backend, framed);
    } catch (error) {
      return cannotReach(error);
    }
  }

  let session: Session;
  try {
    if (framed !== null) session = await framedSession(target, backend, framed);
    else if (transport === 'udp' && 'host' in target) session = await udpSession(target.host, target.port, backend);
    else session = await tcpSession(target, backend);
  } catch (error) {
    return cannotReach(error);
  }
  try {
    if (messages.length > 0) {
      if (session.exchangeAll) return (await session.exchangeAll(messages)) ? 0 : 1;
      for (const message of messages) if (!(await session.exchange(message))) return 1;
      return 0;
    }
    return await interactive(session);
  } catch (error) {
    process.stderr.write(`sockengine: ${(error as Error).message}\n`);
    return 1;
  } finally {
    session.close();
  }
}

/** Waits until stdout has taken everything written to it (a pipe may hold it back). */
function stdoutFlushed(): Promise<void> {
  return new Promise((resolve) => process.stdout.write('', () => resolve()));
}

/**
 * nc-style TCP: stdin's bytes go to the server as they come, the server's bytes to stdout as
 * they come, each side paused while the other cannot keep up. At the end of stdin our side
 * half-closes; the command exits once the server has closed: 0, or 1 after a failure. With
 * framing, each stdin line is one frame and each reply frame is printed as a line.
 */
async function streamTcp(target: StreamTarget, backend: BackendChoice, framed: FramingFlags | null): Promise<number> {
  const stdin = process.stdin;
  let closed!: (error?: Error) => void;
  const finished = new Promise<Error | undefined>((resolve) => (closed = resolve));
  const connection = await connectTo(target, {
    backend,
    ...(framed === null ? {} : { framing: framed.framing, maxFrame: framed.maxFrame }),
    handler: {
      data(conn, chunk) {
        const bytes = framed === null ? chunk : Buffer.concat([chunk, NEWLINE]);
        if (!process.stdout.write(bytes)) {
          conn.pause();
          process.stdout.once('drain', () => conn.resume());
        }
      },
      drain: () => stdin.resume(),
      close: (_conn, error) => closed(error),
    },
  });
  if (framed === null) {
    stdin.on('data', (chunk: Buffer) => {
      if (!connection.write(chunk)) stdin.pause();
    });
    stdin.on('end', () => connection.end());
  } else {
    const lines = createInterface({ input: stdin, terminal: false, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const payload = Buffer.from(line);
      const problem = frameProblem(framed, payload);
      if (problem !== null) process.stderr.write(`sockengine: ${problem}; not sent\n`);
      else connection.send(payload);
    });
    lines.on('close', () => connection.end());
  }
  const error = await finished;
  // The server is gone: whatever stdin still holds has nowhere to go.
  stdin.destroy();
  await stdoutFlushed();
  if (error) {
    process.stderr.write(`sockengine: ${shown(target)}: ${error.message}\n`);
    return 1;
  }
  return 0;
}

/**
 * nc-style UDP: each read from stdin goes out as one datagram, each datagram that arrives is
 * written to stdout as it is. After stdin ends, it waits for replies until none has come for
 * UDP_LINGER_MS (UDP has no close to wait for).
 */
async function streamUdp(host: string, port: number, backend: BackendChoice): Promise<number> {
  let lastHeard = Date.now();
  let failure: Error | undefined;
  const socket = await connect({
    transport: 'udp',
    host,
    port,
    backend,
    handler: {
      message(_socket, data) {
        lastHeard = Date.now();
        process.stdout.write(Buffer.from(data));
      },
      error(_socket, error) {
        failure ??= error;
      },
    },
  });
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) socket.send(chunk);
  lastHeard = Date.now();
  while (failure === undefined && Date.now() - lastHeard < UDP_LINGER_MS) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  socket.close();
  await stdoutFlushed();
  if (failure) {
    process.stderr.write(`sockengine: ${host}:${port}: ${failure.message}\n`);
    return 1;
  }
  return 0;
}

async function interactive(session: Session): Promise<number> {
  const lines = createInterface({ input: process.stdin, terminal: false });
  const iterator = lines[Symbol.asyncIterator]();
  try {
    for (;;) {
      process.stdout.write(PROMPT);
      const next = await iterator.next();
      if (next.done) {
        process.stdout.write('\n');
        return 0;
      }
      if (next.value === 'exit') {
        // Like the C client: the server hears `exit` too, so it can close its side.
        session.send('exit');
        return 0;
      }
      if (!(await session.exchange(next.value))) return 1;
    }
  } finally {
    lines.close();
  }
}
