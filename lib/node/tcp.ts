/** The node backend: the same interface over node:net, for comparison and as the fallback. */
import { chmodSync } from 'node:fs';
import * as net from 'node:net';
import { builtinHandler } from '../builtin.js';
import { BaseConnection, type ConnectionContext } from '../connection.js';
import { BufferFullError, FrameLengthError, FrameTooLongError, fromNodeError, IdleTimeoutError } from '../errors.js';
import { FrameSplitter } from '../framing.js';
import type { ConnectionSettings } from '../native/tcp.js';
import type { BoundAddress, BuiltinHandlerName, CloseOptions, Server, ServerStats, TcpHandler } from '../types.js';
import { parseProxyHeader } from '../proxy.js';
import type { UnixListenSettings } from '../unix.js';
import { checkCloseOptions, toBytes } from '../validate.js';
import { debugEnabled, debugLog } from '../debug.js';
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

  /** The client a PROXY protocol header named, when there was one. */
  private readonly proxied: { address: string; port: number } | undefined;

  constructor(socket: net.Socket, context: ConnectionContext<State>, proxied?: { address: string; port: number }) {
    super(context);
    this.socket = socket;
    this.proxied = proxied;
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
    socket.on('drain', () => {
      if (debugEnabled) debugLog(`node: connection ${this.remoteAddress}:${this.remotePort} write queue drained, back pressure off`);
      this.deliverDrain();
    });
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
    return this.proxied?.address ?? this.socket.remoteAddress ?? '';
  }

  get remotePort(): number {
    return this.proxied?.port ?? this.socket.remotePort ?? 0;
  }

  get localAddress(): string {
    return this.socket.localAddress ?? '';
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  /** Bytes read from and written to the socket so far (node:net counts them). */
  get bytesIn(): number {
    return this.socket.bytesRead;
  }

  get bytesOut(): number {
    // bytesWritten counts what write() accepted; what is still queued has not left.
    return this.socket.bytesWritten - this.socket.writableLength;
  }

  /** The connection ended with an error (for the server's closedWithError). */
  get failed(): boolean {
    return this.error !== undefined;
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
    if (debugEnabled && !this.needDrain) {
      debugLog(`node: connection ${this.remoteAddress}:${this.remotePort} back pressure on: ${this.socket.writableLength} bytes queued, highWaterMark ${this.context.highWaterMark}`);
    }
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
  proxyRejected = 0;
  /** Accepted sockets still sending their PROXY header (not yet connections to the handler). */
  readonly handshaking = new Set<net.Socket>();
  private closedWithError = 0;
  /** Bytes of connections already closed; open ones are summed when stats() is asked. */
  private bytesInClosed = 0;
  private bytesOutClosed = 0;
  private listenerClosed = false;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(server: net.Server) {
    this.server = server;
    server.on('drop', (peer) => {
      this.rejected++;
      if (debugEnabled) debugLog(`node: rejected ${peer?.remoteAddress}:${peer?.remotePort}: maxConnections open`);
    });
    // Out of descriptors: libuv accepts and closes the waiting connections itself and
    // normally says nothing; when it cannot (no spare descriptor) node:net reports EMFILE
    // here. The server goes on either way.
    server.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EMFILE' || error.code === 'ENFILE') this.rejected++;
      if (debugEnabled) debugLog(`node: accept failed: ${error.code ?? error.message}`);
    });
  }

  get connections(): number {
    return this.open.size + this.handshaking.size;
  }

  /** Read once when listening, so it still answers after close() (as the native backend does). */
  listening(): void {
    const bound = this.server.address();
    // node:net answers a Unix-domain server's address() with its path alone.
    this.bound =
      typeof bound === 'string' || bound === null
        ? { address: bound ?? '', port: 0, family: 'unix' }
        : { address: bound.address, port: bound.port, family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4' };
  }

  address(): BoundAddress {
    return { ...this.bound! };
  }

  stats(): ServerStats {
    let bytesIn = this.bytesInClosed;
    let bytesOut = this.bytesOutClosed;
    for (const connection of this.open) {
      bytesIn += connection.bytesIn;
      bytesOut += connection.bytesOut;
    }
    return {
      connections: this.connections,
      accepted: this.accepted,
      rejected: this.rejected,
      timedOut: this.timedOut,
      framesTooLong: this.framesTooLong,
      proxyRejected: this.proxyRejected,
      closedWithError: this.closedWithError,
      bytesIn,
      bytesOut,
    };
  }

  /** Counted at the accept, as the engine counts it, PROXY header or not. */
  socketAccepted(): void {
    this.accepted++;
  }

  connectionOpened(connection: NodeConnection): void {
    this.open.add(connection);
  }

  connectionClosed(connection: NodeConnection): void {
    if (connection.timedOut) this.timedOut++;
    if (connection.frameTooLong) this.framesTooLong++;
    if (connection.failed) this.closedWithError++;
    this.bytesInClosed += connection.bytesIn;
    this.bytesOutClosed += connection.bytesOut;
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

  handshakeEnded(socket: net.Socket): void {
    this.handshaking.delete(socket);
    this.resolveIfDone();
  }

  private resolveIfDone(): void {
    if (!this.listenerClosed || this.connections !== 0) return;
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
  /** A Unix-domain server instead of host and port. */
  unix: UnixListenSettings | null;
  /** PROXY protocol: ms a connection has to send its header; 0: no header expected. */
  proxyTimeout: number;
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
  const serve = (socket: net.Socket, proxied?: { address: string; port: number }) => {
    const connection = new NodeConnection(socket, context, proxied);
    server.connectionOpened(connection);
    // A socket paused for its PROXY header reads again now that the handler listens.
    if (proxied !== undefined || socket.isPaused()) socket.resume();
    if (debugEnabled) debugLog(`node: accepted connection ${connection.remoteAddress}:${connection.remotePort}`);
    socket.on('close', () => {
      if (debugEnabled) debugLog(`node: connection ${connection.remoteAddress}:${connection.remotePort} closed${connection.failed ? ' with an error' : ''}`);
      server.connectionClosed(connection);
    });
    connection.deliverOpen();
  };
  netServer.on('connection', (socket) => {
    server.socketAccepted();
    if (options.proxyTimeout > 0) awaitProxyHeader(socket, options.proxyTimeout, server, serve);
    else serve(socket);
  });
  return new Promise((resolve, reject) => {
    netServer.once('error', (error) => reject(fromNodeError(error)));
    const unix = options.unix;
    // reusePort: Node 22.12+ (checked above); @types/node 20 does not list it.
    const listenOptions = unix
      ? { path: unix.path, backlog: options.backlog }
      : { host: options.host, port: options.port, backlog: options.backlog, ipv6Only: options.ipv6Only };
    netServer.listen(options.reusePort ? { ...listenOptions, reusePort: true } : listenOptions, () => {
      if (unix?.permissions !== undefined) {
        // node:net offers only readableAll/writableAll, set after listen() as here: the
        // native backend sets the bits between bind and listen instead.
        try {
          chmodSync(unix.path, unix.permissions);
        } catch (error) {
          netServer.close();
          reject(fromNodeError(error as Error));
          return;
        }
      }
      server.listening();
      resolve(server);
    });
  });
}

/**
 * Reads a PROXY protocol header off a new socket before the handler sees it: the same
 * rules and the same deadline as the engine (native/proxy.h). Bytes after the header go
 * back to the socket for the handler; a missing, late or malformed header closes the
 * socket, counted in stats().proxyRejected, with no event to the handler.
 */
function awaitProxyHeader(
  socket: net.Socket,
  timeoutMs: number,
  server: NodeServer,
  serve: (socket: net.Socket, proxied?: { address: string; port: number }) => void,
): void {
  server.handshaking.add(socket);
  let seen: Buffer = Buffer.alloc(0);
  const finish = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', reject);
    socket.off('error', reject);
    socket.off('close', reject);
    server.handshakeEnded(socket);
  };
  const reject = () => {
    finish();
    server.proxyRejected++;
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const parsed = parseProxyHeader(seen);
    if (parsed.status === 'incomplete') return;
    if (parsed.status === 'invalid') {
      reject();
      return;
    }
    finish();
    socket.pause();
    if (parsed.length < seen.length) socket.unshift(seen.subarray(parsed.length));
    const { header } = parsed;
    serve(socket, header.local ? undefined : { address: header.sourceAddress!, port: header.sourcePort! });
  };
  const timer = setTimeout(reject, timeoutMs);
  socket.on('data', onData);
  socket.on('end', reject);
  socket.on('error', reject);
  socket.on('close', reject);
}

/** What the node backend's connect() takes, validated. */
export interface NodeConnectOptions extends ConnectionSettings {
  host: string;
  port: number;
  /** A Unix-domain socket instead of host and port. */
  path: string | undefined;
  handler: TcpHandler;
}

export function connectNode(options: NodeConnectOptions): Promise<NodeConnection> {
  return new Promise((resolve, reject) => {
    // net.Socket passes highWaterMark on to its stream; @types/node does not list it.
    const where = options.path === undefined ? { host: options.host, port: options.port } : { path: options.path };
    const connectOptions = { ...where, ...socketOptions(options) };
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
