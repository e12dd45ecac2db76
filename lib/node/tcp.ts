/** The node backend: the same interface over node:net, for comparison and as the fallback. */
import * as net from 'node:net';
import { builtinHandler } from '../builtin.js';
import { BaseConnection, type ConnectionContext } from '../connection.js';
import { fromNodeError } from '../errors.js';
import type { BoundAddress, BuiltinHandlerName, Server, TcpHandler } from '../types.js';
import { toBytes } from '../validate.js';

export class NodeConnection<State = unknown> extends BaseConnection<State> {
  private readonly socket: net.Socket;
  private error: Error | undefined;
  // node:net keeps reading while paused and reports the peer's end, a reset and the close at
  // once; the native engine stops reading and hears them after resume(). These hold them
  // back so both backends tell the same story.
  private paused = false;
  private heldError = false;
  private heldEnd = false;
  private heldClose = false;

  constructor(socket: net.Socket, context: ConnectionContext<State>) {
    super(context);
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.deliverData(chunk));
    socket.on('drain', () => this.deliverDrain());
    socket.on('end', () => {
      if (this.paused) this.heldEnd = true;
      else this.endedByPeer();
    });
    socket.on('error', (error) => {
      this.error = fromNodeError(error);
      if (this.paused) this.heldError = true;
      else this.deliverError(this.error);
    });
    socket.on('close', () => {
      if (this.destroyRequested) this.deliverClose();
      else if (this.paused) this.heldClose = true;
      else this.deliverClose(this.error);
    });
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
    if (this.socket.write(bytes)) return true;
    this.needDrain = true;
    return false;
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.socket.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.destroyRequested = true;
    this.heldError = this.heldEnd = false;
    // The socket may be gone already (its close held while paused): say close now.
    if (this.heldClose) process.nextTick(() => this.deliverClose());
    this.socket.destroy();
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
    if (!this.heldError && !this.heldEnd && !this.heldClose) return;
    process.nextTick(() => {
      if (this.heldError) this.deliverError(this.error!);
      if (this.heldEnd) this.endedByPeer();
      if (this.heldClose) this.deliverClose(this.error);
      this.heldError = this.heldEnd = this.heldClose = false;
    });
  }
}

class NodeServer implements Server {
  readonly backend = 'node' as const;
  readonly transport = 'tcp' as const;
  private readonly server: net.Server;
  private open = 0;
  private listenerClosed = false;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;

  constructor(server: net.Server) {
    this.server = server;
  }

  get connections(): number {
    return this.open;
  }

  address(): BoundAddress {
    const bound = this.server.address() as net.AddressInfo;
    return { address: bound.address, port: bound.port, family: bound.family === 'IPv6' ? 'IPv6' : 'IPv4' };
  }

  connectionOpened(): void {
    this.open++;
  }

  connectionClosed(): void {
    this.open--;
    this.resolveIfDone();
  }

  close(): Promise<void> {
    // net.Server's close callback can run before the last socket's 'close' event: resolve
    // only when both have happened, so `connections` is 0 once close() resolves.
    this.closing ??= new Promise((resolve) => {
      this.onClosed = resolve;
      this.server.close(() => {
        this.listenerClosed = true;
        this.resolveIfDone();
      });
    });
    return this.closing;
  }

  private resolveIfDone(): void {
    if (this.listenerClosed && this.open === 0) this.onClosed?.();
  }
}

export interface NodeListenOptions {
  host: string;
  port: number;
  backlog: number;
  ipv6Only: boolean;
  highWaterMark: number;
  handler: BuiltinHandlerName | TcpHandler;
}

export function listenNode(options: NodeListenOptions): Promise<Server> {
  const handler = typeof options.handler === 'string' ? builtinHandler(options.handler) : options.handler;
  const context = { handler, highWaterMark: options.highWaterMark };
  const netServer = net.createServer({ noDelay: true, highWaterMark: options.highWaterMark });
  const server = new NodeServer(netServer);
  netServer.on('connection', (socket) => {
    server.connectionOpened();
    socket.on('close', () => server.connectionClosed());
    new NodeConnection(socket, context).deliverOpen();
  });
  return new Promise((resolve, reject) => {
    netServer.once('error', (error) => reject(fromNodeError(error)));
    netServer.listen({ host: options.host, port: options.port, backlog: options.backlog, ipv6Only: options.ipv6Only }, () =>
      resolve(server),
    );
  });
}

export interface NodeConnectOptions {
  host: string;
  port: number;
  highWaterMark: number;
  handler: TcpHandler;
}

export function connectNode(options: NodeConnectOptions): Promise<NodeConnection> {
  return new Promise((resolve, reject) => {
    // net.Socket passes highWaterMark on to its stream; @types/node does not list it.
    const connectOptions = { host: options.host, port: options.port, noDelay: true, highWaterMark: options.highWaterMark };
    const socket = net.connect(connectOptions as net.NetConnectOpts);
    const onConnectError = (error: Error) => reject(fromNodeError(error));
    socket.once('error', onConnectError);
    socket.once('connect', () => {
      socket.off('error', onConnectError);
      const connection = new NodeConnection(socket, { handler: options.handler, highWaterMark: options.highWaterMark });
      resolve(connection);
      connection.deliverOpen();
    });
  });
}
