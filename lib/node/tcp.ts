/** The node backend: the same interface over node:net, for comparison and as the fallback. */
import * as net from 'node:net';
import { builtinHandler } from '../builtin.js';
import { BaseConnection, type ConnectionContext } from '../connection.js';
import { BufferFullError, FrameLengthError, FrameTooLongError, fromNodeError, IdleTimeoutError } from '../errors.js';
import { FrameSplitter } from '../framing.js';
import type { ConnectionSettings } from '../native/tcp.js';
import type { BoundAddress, BuiltinHandlerName, CloseOptions, Server, ServerStats, TcpHandler } from '../types.js';
import { checkCloseOptions, toBytes } from '../validate.js';
import { requireNodeReusePort } from './reuse-port.js';

export class NodeConnection<State = unknown> extends BaseConnection<State> {
  private readonly socket: net.Socket;
  /** The error the connection failed with, for its close(). */
  private error: Error | undefined;
  // node:net keeps reading while paused and reports the peer's end and the close at once;
  // the native engine stops reading and hears them after resume(). These hold them back so
  // both backends tell the same story. Failures are never held (see pause() in types.ts).
  private paused = false;
  /** Closed by the idle timeout, or by a frame over maxFrame (for the server's counters). */
  timedOut = false;
  frameTooLong = false;
  private heldEnd = false;
  private heldClose = false;

  constructor(socket: net.Socket, context: ConnectionContext<State>) {
    super(context);
    this.socket = socket;
    const framing = context.framing;
    if (framing === null) {
      socket.on('data', (chunk: Buffer) => this.deliverData(chunk));
    } else {
      // The same rules, and the same fail-fast points, as the native framer.
      const splitter = new FrameSplitter(framing);
      const deliver = (frame: Buffer) => {
        this.deliverData(frame);
        return !this.closed;
      };
      socket.on('data', (chunk: Buffer) => {
        const failure = splitter.push(chunk, deliver);
        if (failure === 'too-long') {
          this.frameTooLong = true;
          this.fail(new FrameTooLongError(framing.maxFrame));
        } else if (failure === 'bad-length') {
          this.fail(new FrameLengthError());
        }
      });
    }
    socket.on('drain', () => this.deliverDrain());
    socket.on('end', () => {
      if (this.paused) this.heldEnd = true;
      else this.endedByPeer();
    });
    socket.on('error', (error) => {
      this.error = fromNodeError(error);
      this.deliverError(this.error);
    });
    socket.on('close', () => {
      if (this.paused && !this.destroyRequested && this.error === undefined) this.heldClose = true;
      else this.deliverClose(this.error);
    });
    if (context.idleTimeout > 0) {
      // node:net's timer counts reads and writes, as the engine's sweep does.
      socket.setTimeout(context.idleTimeout, () => {
        if (this.closed) return;
        this.timedOut = true;
        this.fail(new IdleTimeoutError(context.idleTimeout));
      });
    }
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }


  // node:net reads these from the socket when first asked; once closed, only a value read
  // before remains (the native backend behaves the same).
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  write(data: Uint8Array | string): boolean {
    const bytes = toBytes(data);
    if (this.closed || this.ending) return false;
    return this.wrote(this.socket.write(bytes));
  }

  protected writeFrame(header: Buffer | null, payload: Uint8Array, trailer: Buffer | null): boolean {
    // One writev of the parts, as node:net does for corked writes.
    this.socket.cork();
    if (header !== null) this.socket.write(header);
    let belowMark = this.socket.write(payload);
    if (trailer !== null) belowMark = this.socket.write(trailer);
    this.socket.uncork();
    return this.wrote(belowMark);
  }

  /** write()'s answer, after the queue limit. */
  private wrote(belowMark: boolean): boolean {
    const limit = this.context.maxBufferedBytes;
    if (limit > 0 && this.socket.writableLength > limit) {
      this.fail(new BufferFullError(limit));
      return false;
    }
    if (belowMark) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.socket.end();
  }

  protected abort(error?: Error): void {
    if (this.closed) return;
    this.destroyRequested = true;
    this.error = error;
    this.heldEnd = false;
    // The socket may be gone already (its close held while paused): say close now.
    if (this.heldClose) process.nextTick(() => this.deliverClose(error));
    this.socket.destroy();
  }

  /** The engine-side failures (idle timeout, a full queue): error(), then close(). */
  private fail(error: Error): void {
    if (this.closed) return;
    this.error = error;
    // Writes from error() are refused: the connection is failing (and a write over the
    // limit must not fail it again from inside its own error()).
    this.ending = true;
    this.deliverError(error);
    this.abort(error);
  }

  pause(): void {
    if (this.closed) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.closed) this.socket.resume();
    if (!this.heldEnd && !this.heldClose) return;
    process.nextTick(() => {
      if (this.heldEnd) this.endedByPeer();
      if (this.heldClose) this.deliverClose(this.error);
      this.heldEnd = this.heldClose = false;
    });
  }
}

class NodeServer implements Server {
  readonly backend = 'node' as const;
  readonly transport = 'tcp' as const;
  private readonly server: net.Server;
  private bound: BoundAddress | undefined;
  private readonly open = new Set<NodeConnection>();
  private accepted = 0;
  private rejected = 0;
  private timedOut = 0;
  private framesTooLong = 0;
  private listenerClosed = false;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(server: net.Server) {
    this.server = server;
    server.on('drop', () => this.rejected++);
  }

  get connections(): number {
    return this.open.size;
  }

  /** Read once when listening, so it still answers after close() (as the native backend does). */
  listening(): void {
    const bound = this.server.address() as net.AddressInfo;
    this.bound = { address: bound.address, port: bound.port, family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4' };
  }

  address(): BoundAddress {
    return { ...this.bound! };
  }

  stats(): ServerStats {
    return {
      connections: this.open.size,
      accepted: this.accepted,
      rejected: this.rejected,
      timedOut: this.timedOut,
      framesTooLong: this.framesTooLong,
    };
  }

  connectionOpened(connection: NodeConnection): void {
    this.accepted++;
    this.open.add(connection);
  }

  connectionClosed(connection: NodeConnection): void {
    if (connection.timedOut) this.timedOut++;
    if (connection.frameTooLong) this.framesTooLong++;
    this.open.delete(connection);
    this.resolveIfDone();
  }

  close(options?: CloseOptions): Promise<void> {
    const { timeout } = checkCloseOptions(options);
    // net.Server's close callback can run before the last socket's 'close' event: resolve
    // only when both have happened, so `connections` is 0 once close() resolves.
    this.closing ??= new Promise((resolve) => {
      this.onClosed = resolve;
      this.server.close(() => {
        this.listenerClosed = true;
        this.resolveIfDone();
      });
      if (timeout !== undefined && this.open.size > 0) {
        this.deadline = setTimeout(() => {
          for (const connection of this.open) connection.destroy();
        }, timeout);
      }
    });
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private resolveIfDone(): void {
    if (!this.listenerClosed || this.open.size !== 0) return;
    clearTimeout(this.deadline);
    this.onClosed?.();
  }
}

/** What the node backend's listen() takes, validated. */
export interface NodeListenOptions extends ConnectionSettings {
  host: string;
  port: number;
  backlog: number;
  ipv6Only: boolean;
  reusePort: boolean;
  maxConnections: number;
  handler: BuiltinHandlerName | TcpHandler;
}

function contextOf(handler: TcpHandler, options: ConnectionSettings): ConnectionContext {
  return {
    handler,
    highWaterMark: options.highWaterMark,
    allowHalfOpen: options.allowHalfOpen,
    idleTimeout: options.idleTimeout,
    maxBufferedBytes: options.maxBufferedBytes,
    framing: options.framing,
  };
}

/** node:net's own socket options for our settings; our side's end is always ours to make. */
function socketOptions(options: ConnectionSettings) {
  return {
    allowHalfOpen: true,
    noDelay: options.noDelay,
    keepAlive: options.keepAlive,
    keepAliveInitialDelay: options.keepAliveInitialDelay,
    highWaterMark: options.highWaterMark,
  };
}

export function listenNode(options: NodeListenOptions): Promise<Server> {
  if (options.reusePort) requireNodeReusePort('options.reusePort');
  const handler = typeof options.handler === 'string' ? builtinHandler(options.handler, options.framing) : options.handler;
  const context = contextOf(handler, options);
  const netServer = net.createServer(socketOptions(options));
  if (options.maxConnections > 0) netServer.maxConnections = options.maxConnections;
  const server = new NodeServer(netServer);
  netServer.on('connection', (socket) => {
    const connection = new NodeConnection(socket, context);
    server.connectionOpened(connection);
    socket.on('close', () => server.connectionClosed(connection));
    connection.deliverOpen();
  });
  return new Promise((resolve, reject) => {
    netServer.once('error', (error) => reject(fromNodeError(error)));
    // reusePort: Node 22.12+ (checked above); @types/node 20 does not list it.
    const listenOptions = { host: options.host, port: options.port, backlog: options.backlog, ipv6Only: options.ipv6Only };
    netServer.listen(options.reusePort ? { ...listenOptions, reusePort: true } : listenOptions, () => {
      server.listening();
      resolve(server);
    });
  });
}

/** What the node backend's connect() takes, validated. */
export interface NodeConnectOptions extends ConnectionSettings {
  host: string;
  port: number;
  handler: TcpHandler;
}

export function connectNode(options: NodeConnectOptions): Promise<NodeConnection> {
  return new Promise((resolve, reject) => {
    // net.Socket passes highWaterMark on to its stream; @types/node does not list it.
    const connectOptions = { host: options.host, port: options.port, ...socketOptions(options) };
    const socket = net.connect(connectOptions as net.NetConnectOpts);
    const onConnectError = (error: Error) => reject(fromNodeError(error));
    socket.once('error', onConnectError);
    socket.once('connect', () => {
      socket.off('error', onConnectError);
      const connection = new NodeConnection(socket, contextOf(options.handler, options));
      resolve(connection);
      connection.deliverOpen();
    });
  });
}
