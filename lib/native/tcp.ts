/** The native backend's TCP server, client and connection. */
import { isIP } from 'node:net';
import type { FramingSpec } from '../framing.js';
import { BaseConnection, Flag, type ConnectionContext } from '../connection.js';
import { numericHost } from '../dns.js';
import { SystemError } from '../errors.js';
import type {
  BoundAddress,
  BuiltinHandlerName,
  CloseOptions,
  Server,
  ServerStats,
  TcpHandler,
} from '../types.js';
import { checkCloseOptions, toBytes } from '../validate.js';
import { errorFromRecord, isFramingFailure, type NativeEngine } from './engine.js';

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

  /** Asked of the engine: its queue changes without telling JavaScript (a corked write leaves at the batch's end). */
  get bufferedBytes(): number {
    return this.gone ? 0 : Math.max(0, this.engine.binding.bufferedBytes(this.id));
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
    return this.wrote(this.engine.binding.write(this.id, bytes));
  }

  protected writeFrame(header: Buffer | null, payload: Uint8Array): boolean {
    if (this.gone) return false;
    // The engine adds the header or trailer itself (the same bytes frameParts checked).
    return this.wrote(this.engine.binding.sendFrame(this.id, payload));
  }

  /** write()'s answer from the bytes the engine still holds. */
  private wrote(queued: number): boolean {
    // A negative result means the connection failed; its error and close events are queued.
    if (queued < 0) return false;
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

  protected abort(error?: Error): void {
    if (this.closed) return;
    this.destroyRequested = true;
    const wasGone = this.gone;
    this.gone = true;
    this.held = undefined;
    this.engine.forget(this.id);
    if (!wasGone) this.engine.binding.destroy(this.id);
    process.nextTick(() => this.deliverClose(error));
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

  /** An error record: delivered at once, even while paused (pause holds data, not failures). */
  receiveFailure(code: number, syscall: number): void {
    const error = errorFromRecord(code, syscall, this.context);
    this.error = error;
    this.deliverError(error);
    // The engine stopped reading and waits for us (the replies to earlier frames are out).
    if (isFramingFailure(code)) this.abort(error);
  }

  /** The engine's write queue emptied. */
  drained(): void {
    this.deliverDrain();
  }

  receiveClose(): void {
    this.gone = true;
    // A clean close waits behind held data or the held end; a failed connection's held data
    // is dropped and its close delivered now, so a paused connection whose peer reset is
    // never kept. A paused connection with nothing held hears its close now too: the
    // engine closed it (a server's close deadline), and nothing would ever resume it.
    if (this.held && this.error === undefined) {
      this.hold({ kind: 'close' });
    } else {
      this.held = undefined;
      this.deliverClose(this.error);
    }
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

export class NativeServer implements Server {
  readonly backend = 'native' as const;
  readonly transport = 'tcp' as const;
  private readonly engine: NativeEngine;
  private readonly endpoint: number;
  private readonly bound: BoundAddress;
  private closing: Promise<void> | undefined;
  private onIdle: (() => void) | undefined;
  private deadline: NodeJS.Timeout | undefined;
  private lastStats: ServerStats = { connections: 0, accepted: 0, rejected: 0, timedOut: 0, framesTooLong: 0 };

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

  stats(): ServerStats {
    const now = this.engine.binding.endpointStats(this.endpoint);
    // Once the server is gone its last counters stay readable.
    if (now) this.lastStats = now;
    else this.lastStats = { ...this.lastStats, connections: 0 };
    return { ...this.lastStats };
  }

  close(options?: CloseOptions): Promise<void> {
    const { timeout } = checkCloseOptions(options);
    if (this.closing) return this.closing;
    this.stats();
    const remaining = this.engine.binding.closeListener(this.endpoint);
    if (remaining <= 0) {
      this.engine.removeEndpoint(this.endpoint);
      this.closing = Promise.resolve();
      return this.closing;
    }
    this.closing = new Promise((resolve) => (this.onIdle = resolve));
    if (timeout !== undefined) {
      // Past the deadline the rest are closed; each one's close() follows, then idle.
      this.deadline = setTimeout(() => this.engine.binding.closeEndpointConnections(this.endpoint), timeout);
    }
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  idle(): void {
    this.stats();
    clearTimeout(this.deadline);
    this.onIdle?.();
  }
}

/** What the native backend's listen() takes, validated. */
export interface NativeListenOptions extends ConnectionSettings {
  host: string;
  port: number;
  backlog: number;
  ipv6Only: boolean;
  reusePort: boolean;
  maxConnections: number;
  handler: BuiltinHandlerName | TcpHandler;
}

/** The settings every connection of a server (or a client connection) has. */
export interface ConnectionSettings {
  highWaterMark: number;
  allowHalfOpen: boolean;
  idleTimeout: number;
  maxBufferedBytes: number;
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelay: number;
  framing: FramingSpec | null;
}

/** FramingSpec.kind as native/framing.h numbers it. */
const framingKinds = { line: 1, delimiter: 2, length: 3, fixed: 4 } as const;

export function engineSettings(options: ConnectionSettings) {
  const framing = options.framing;
  return {
    idleTimeout: options.idleTimeout,
    maxBufferedBytes: options.maxBufferedBytes,
    noDelay: options.noDelay,
    keepAlive: options.keepAlive,
    keepAliveInitialDelay: options.keepAliveInitialDelay,
    highWaterMark: options.highWaterMark,
    framing: framing === null ? null : { ...framing, kind: framingKinds[framing.kind] },
  };
}

function contextOf(engine: NativeEngine, handler: TcpHandler, options: ConnectionSettings): NativeContext {
  return {
    engine,
    handler,
    highWaterMark: options.highWaterMark,
    allowHalfOpen: options.allowHalfOpen,
    idleTimeout: options.idleTimeout,
    maxBufferedBytes: options.maxBufferedBytes,
    framing: options.framing,
  };
}

export async function listenNative(engine: NativeEngine, options: NativeListenOptions): Promise<Server> {
  const host = await numericHost(options.host);
  const builtin = typeof options.handler === 'string' ? options.handler : null;
  const handler = typeof options.handler === 'string' ? undefined : options.handler;
  const result = engine.binding.listen(host, options.port, {
    ...engineSettings(options),
    backlog: options.backlog,
    ipv6Only: options.ipv6Only,
    reusePort: options.reusePort,
    builtin,
    deliverOpen: typeof handler?.open === 'function',
    maxConnections: options.maxConnections,
  });
  if ('errno' in result) throw new SystemError(result.errno, result.syscall, host, options.port);
  const family = isIP(result.address) === 6 ? 'IPv6' : 'IPv4';
  const server = new NativeServer(engine, result.endpoint, { address: result.address, port: result.port, family });
  const context = contextOf(engine, handler ?? {}, options);
  engine.addEndpoint(result.endpoint, {
    listensFor: (member) => typeof handler?.[member] === 'function',
    accept: (id) => new NativeConnection(context, id),
    idle: () => server.idle(),
  });
  return server;
}

/** What the native backend's connect() takes, validated. */
export interface NativeConnectOptions extends ConnectionSettings {
  host: string;
  port: number;
  handler: TcpHandler;
}

export async function connectNative(engine: NativeEngine, options: NativeConnectOptions): Promise<NativeConnection> {
  const host = await numericHost(options.host);
  const id = engine.binding.connect(host, options.port, engineSettings(options));
  if (id < 0) throw new SystemError(id, 'connect', host, options.port);
  const connection = new NativeConnection(contextOf(engine, options.handler, options), id);
  return new Promise((resolve, reject) => {
    engine.addPendingClient(id, { connection, host, port: options.port, resolve, reject });
  });
}
