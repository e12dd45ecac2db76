/** The native backend's TCP server, client and connection. */
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { BaseConnection, Flag, type ConnectionContext } from '../connection.js';
import { SystemError } from '../errors.js';
import type { BoundAddress, BuiltinHandlerName, Server, TcpHandler } from '../types.js';
import { toBytes } from '../validate.js';
import type { NativeEngine } from './engine.js';

/** Data, end and close held while paused, replayed in order by resume(). */
type HeldEvent = { kind: 'data'; chunk: Buffer } | { kind: 'end' } | { kind: 'close' };

/** A native connection's context: the server's (or client's) handler, plus the engine. */
export interface NativeContext<State = unknown> extends ConnectionContext<State> {
  readonly engine: NativeEngine;
}

const Gone = Flag.FirstFree;
const Paused = Flag.FirstFree << 1;

/** What few connections need, made only for them. */
interface Extra {
  queued?: number;
  held?: HeldEvent[];
  error?: Error;
  peer?: [string, number];
}

export class NativeConnection<State = unknown> extends BaseConnection<State> {
  /** The engine's id for this connection. */
  readonly id: number;
  private extra: Extra | undefined;

  constructor(context: NativeContext<State>, id: number) {
    super(context);
    this.id = id;
  }

  private get engine(): NativeEngine {
    return (this.context as NativeContext<State>).engine;
  }

  // The engine has closed this connection (its close arrived, or destroy() was called): its
  // id may soon name another connection, so nothing may be asked of the engine with it.
  private get gone(): boolean {
    return this.has(Gone);
  }
  private set gone(on: boolean) {
    this.mark(Gone, on);
  }

  private get paused(): boolean {
    return this.has(Paused);
  }
  private set paused(on: boolean) {
    this.mark(Paused, on);
  }

  private get held(): HeldEvent[] | undefined {
    return this.extra?.held;
  }
  private set held(events: HeldEvent[] | undefined) {
    if (events !== undefined || this.extra) (this.extra ??= {}).held = events;
  }

  private get error(): Error | undefined {
    return this.extra?.error;
  }
  private set error(error: Error | undefined) {
    if (error !== undefined || this.extra) (this.extra ??= {}).error = error;
  }

  get bufferedBytes(): number {
    return this.extra?.queued ?? 0;
  }

  /** Bytes the engine still holds; kept only while there are some. */
  private set queued(bytes: number) {
    if (bytes !== 0 || this.extra) (this.extra ??= {}).queued = bytes;
  }

  // Read from the socket the first time they are asked for, as node:net does.
  override get remoteAddress(): string {
    return this.peer()[0];
  }

  override get remotePort(): number {
    return this.peer()[1];
  }

  private peer(): [string, number] {
    if (this.extra?.peer === undefined && !this.gone) {
      const found = this.engine.binding.peerAddress(this.id);
      if (found) (this.extra ??= {}).peer = found;
    }
    return this.extra?.peer ?? ['', 0];
  }

  write(data: Uint8Array | string): boolean {
    const bytes = toBytes(data);
    if (this.gone || this.closed || this.ending) return false;
    const queued = this.engine.binding.write(this.id, bytes);
    // A negative result means the connection failed; its error and close events are queued.
    if (queued < 0) return false;
    this.queued = queued;
    if (queued < this.highWaterMark) return true;
    this.needDrain = true;
    // Nothing is queued (a zero high-water mark): the engine will not report a drain.
    if (queued === 0) process.nextTick(() => this.deliverDrain());
    return false;
  }

  end(): void {
    if (this.gone || this.ending) return;
    this.ending = true;
    this.engine.binding.end(this.id);
  }

  destroy(): void {
    if (this.closed) return;
    this.destroyRequested = true;
    const wasGone = this.gone;
    this.gone = true;
    this.held = undefined;
    this.engine.connections.delete(this.id);
    this.engine.pendingClients.delete(this.id);
    if (this.engine.dispatching) this.engine.destroyedInBatch.add(this.id);
    if (!wasGone) this.engine.binding.destroy(this.id);
    process.nextTick(() => this.deliverClose());
  }

  pause(): void {
    if (this.closed || this.paused) return;
    this.paused = true;
    if (!this.gone) this.engine.binding.pause(this.id);
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.gone) this.engine.binding.resume(this.id);
    if (this.held) process.nextTick(() => this.replayHeld());
  }

  receive(chunk: Buffer): void {
    if (this.paused || this.held) this.hold({ kind: 'data', chunk });
    else this.deliverData(chunk);
  }

  receiveEnd(): void {
    if (this.paused || this.held) this.hold({ kind: 'end' });
    else this.endedByPeer();
  }



  private hold(event: HeldEvent): void {
    const held = this.held ?? [];
    held.push(event);
    this.held = held;
  }

  receiveError(error: Error): void {
    this.error = error;
    this.deliverError(error);
  }

  /** The engine's write queue emptied. */
  drained(): void {
    this.queued = 0;
    this.deliverDrain();
  }

  receiveClose(): void {
    this.gone = true;
    this.queued = 0;
    if (this.paused || this.held) this.hold({ kind: 'close' });
    else this.deliverClose(this.error);
  }

  private replayHeld(): void {
    while (!this.paused && this.held) {
      const event = this.held.shift()!;
      if (this.held.length === 0) this.held = undefined;
      if (event.kind === 'data') this.deliverData(event.chunk);
      else if (event.kind === 'end') this.endedByPeer();
      else this.deliverClose(this.error);
    }
  }
}

/** Resolves a host name to a numeric address (the engine takes numbers only). */
export async function numericHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  return (await lookup(host)).address;
}

export class NativeServer implements Server {
  readonly backend = 'native' as const;
  readonly transport = 'tcp' as const;
  private readonly engine: NativeEngine;
  private readonly endpoint: number;
  private readonly bound: BoundAddress;
  private closing: Promise<void> | undefined;
  private onIdle: (() => void) | undefined;

  constructor(engine: NativeEngine, endpoint: number, bound: BoundAddress) {
    this.engine = engine;
    this.endpoint = endpoint;
    this.bound = bound;
  }

  address(): BoundAddress {
    return { ...this.bound };
  }

  get connections(): number {
    return Math.max(0, this.engine.binding.endpointConnections(this.endpoint));
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    const remaining = this.engine.binding.closeListener(this.endpoint);
    if (remaining <= 0) {
      this.engine.endpoints.delete(this.endpoint);
      this.closing = Promise.resolve();
    } else {
      this.closing = new Promise((resolve) => (this.onIdle = resolve));
    }
    return this.closing;
  }

  idle(): void {
    this.onIdle?.();
  }
}

export interface NativeListenOptions {
  host: string;
  port: number;
  backlog: number;
  ipv6Only: boolean;
  highWaterMark: number;
  handler: BuiltinHandlerName | TcpHandler;
}

export async function listenNative(engine: NativeEngine, options: NativeListenOptions): Promise<Server> {
  const host = await numericHost(options.host);
  const builtin = typeof options.handler === 'string' ? options.handler : null;
  const handler = typeof options.handler === 'string' ? undefined : options.handler;
  const result = engine.binding.listen(
    host,
    options.port,
    options.backlog,
    options.ipv6Only,
    builtin,
    typeof handler?.open === 'function',
  );
  if ('errno' in result) throw new SystemError(result.errno, result.syscall, host, options.port);
  const family = isIP(result.address) === 6 ? 'IPv6' : 'IPv4';
  const server = new NativeServer(engine, result.endpoint, { address: result.address, port: result.port, family });
  const context: NativeContext = { engine, handler: handler ?? {}, highWaterMark: options.highWaterMark };
  engine.endpoints.set(result.endpoint, {
    listensFor: (member) => typeof handler?.[member] === 'function',
    accept: (id) => new NativeConnection(context, id),
    idle: () => server.idle(),
  });
  return server;
}

export interface NativeConnectOptions {
  host: string;
  port: number;
  highWaterMark: number;
  handler: TcpHandler;
}

export async function connectNative(engine: NativeEngine, options: NativeConnectOptions): Promise<NativeConnection> {
  const host = await numericHost(options.host);
  const id = engine.binding.connect(host, options.port);
  if (id < 0) throw new SystemError(id, 'connect', host, options.port);
  const context: NativeContext = { engine, handler: options.handler, highWaterMark: options.highWaterMark };
  const connection = new NativeConnection(context, id);
  return new Promise((resolve, reject) => {
    engine.pendingClients.set(id, { connection, host, port: options.port, resolve, reject });
  });
}
