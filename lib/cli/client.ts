/**
 * `sockengine client tcp HOST PORT [MESSAGE...]`: sends each message and prints each reply;
 * with no message, an interactive loop like the classic C client. With `--framing`, each
 * message is one frame and each reply frame is one printed line.
 */
import { createInterface } from 'node:readline';
import { connect } from '../api.js';
import type { BackendChoice, Connection, DatagramSocket } from '../types.js';
import { parseArgs, parsePort, UsageError } from './args.js';
import { frameProblem, framingFlags, type FramingFlags } from './framing-flags.js';

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

function printReply(reply: Buffer | null, silence: () => string): boolean {
  if (reply === null) {
    process.stderr.write(`sockengine: ${silence()}\n`);
    return false;
  }
  process.stdout.write(`${reply.toString()}\n`);
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

async function tcpSession(host: string, port: number, backend: BackendChoice): Promise<Session> {
  const reader = new ReplyReader();
  const connection = await connect({ host, port, backend, handler: reader.handler });
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
          ? `${host}:${port} closed the connection`
          : `no reply from ${host}:${port} within ${REPLY_TIMEOUT_MS / 1000} s`,
      );
    },
    send: (text) => connection.write(text),
    close: () => connection.end(),
  };
}

async function framedSession(host: string, port: number, backend: BackendChoice, flags: FramingFlags): Promise<Session> {
  const reader = new FrameReader();
  const connection = await connect({
    host, port, backend, handler: reader.handler, framing: flags.framing, maxFrame: flags.maxFrame,
  });
  const silence = (replies: number, wanted: number) => () => {
    const counted = wanted > 1 ? ` after ${replies} of ${wanted} replies` : '';
    return reader.gone
      ? `${host}:${port} closed the connection${counted}`
      : `no reply from ${host}:${port} within ${REPLY_TIMEOUT_MS / 1000} s${counted}`;
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
  const { options, positionals } = parseArgs(argv, ['backend', 'framing', 'max-frame']);
  const [transport, host, portText, ...messages] = positionals;
  const missing = transport === undefined ? 'TRANSPORT' : host === undefined ? 'HOST' : portText === undefined ? 'PORT' : '';
  if (missing || transport === undefined || host === undefined || portText === undefined) {
    throw new UsageError(`client: missing ${missing} (usage: sockengine client tcp|udp HOST PORT [MESSAGE...])`);
  }
  if (transport !== 'tcp' && transport !== 'udp') {
    throw new UsageError(`client transport must be tcp or udp, got '${transport}'`);
  }
  const port = parsePort(portText, 'PORT', false);
  const backend = options.get('backend') ?? 'auto';
  if (!['auto', 'native', 'node'].includes(backend)) {
    throw new UsageError(`--backend must be auto, native or node, got '${backend}'`);
  }
  const framed = framingFlags(options, transport);
  if (framed !== null) {
    for (const message of messages) {
      const problem = frameProblem(framed, Buffer.from(message));
      if (problem !== null) throw new UsageError(`${problem} (MESSAGE ${JSON.stringify(message)})`);
    }
  }

  let session: Session;
  try {
    if (framed !== null) session = await framedSession(host, port, backend as BackendChoice, framed);
    else if (transport === 'udp') session = await udpSession(host, port, backend as BackendChoice);
    else session = await tcpSession(host, port, backend as BackendChoice);
  } catch (error) {
    const verb = transport === 'udp' ? 'reach' : 'connect to';
    process.stderr.write(`sockengine: cannot ${verb} ${host}:${port}: ${(error as Error).message}\n`);
    return 1;
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
