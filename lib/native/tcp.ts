/** The native backend's TCP server, client and connection. */
import { isIP } from 'node:net';
import type { FramingSpec } from '../framing.js';
import { BaseConnection, Flag, type ConnectionContext } from '../connection.js';
import { numericHost } from '../dns.js';
import { debugEnabled, debugLog } from '../debug.js';
import { HandlerError, SystemError } from '../errors.js';
import { describePath, isAbstract, removeSocketFile, type UnixListenSettings } from '../unix.js';
import type {
  BoundAddress,
  BuiltinHandlerName,
  CloseOptions,
  Server,
  ServerStats,
  TcpHandler,
} from '../types.js';
import { checkCloseOptions, toBytes } from '../validate.js';
import { CLOSED_NOW } from '../binding.js';
import { errorFromRecord, isFramingFailure, type NativeEngine } from './engine.js';
import { STAGED_MAX, stageBytes } from './stage.js';

/** Data, end and close held while paused, replayed in order by resume(). */
type HeldEvent = { kind: 'data'; chunk: Buffer } | { kind: 'end' } | { kind: 'close' };

/** A native connection's context: the server's (or client's) handler, plus the engine. */
export interface NativeContext<State = unknown> extends ConnectionContext<State> {
  readonly engine: NativeEngine;
  /**
   * Connections JavaScript destroyed because a handler member threw: the engine sees a
   * plain destroy, so the server's closedWithError adds these.
   */
  readonly handlerFailures: { count: number };
}

const Gone = Flag.FirstFree;
const Paused = Flag.FirstFree << 1;

/** What few connections need, made only for them. */
interface Extra {
  held?: HeldEvent[];
  error?: Error;
  peer?: [string, number];
  local?: [string, number];
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

  override get localAddress(): string {
    return this.local()[0];
  }

  override get localPort(): number {
    return this.local()[1];
  }

  private local(): [string, number] {
    if (this.extra?.local === undefined && !this.gone) {
      const found = this.engine.binding.peerAddress(this.id, true);
      if (found) (this.extra ??= {}).local = found;
    }
    return this.extra?.local ?? ['', 0];
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
    const binding = this.engine.binding;
    return this.wrote(bytes.length <= STAGED_MAX ? binding.writeStaged(this.id, stageBytes(bytes)) : binding.write(this.id, bytes));
  }

  /** The engine encodes a length header itself (Loop::sendFrame): frameParts only checks. */
  protected override get wantsFrameHeaders(): boolean {
    return false;
  }

  protected writeFrame(header: Buffer | null, payload: Uint8Array): boolean {
    if (this.gone) return false;
    // The engine adds the header or trailer itself (the same bytes frameParts checked).
    const binding = this.engine.binding;
    return this.wrote(
      payload.length <= STAGED_MAX ? binding.sendFrameStaged(this.id, stageBytes(payload)) : binding.sendFrame(this.id, payload),
    );
  }

  /** write()'s answer from the bytes the engine still holds. */
  private wrote(queued: number): boolean {
    // A negative result means the connection failed; its error and close events are queued.
    if (queued < 0) return false;
    if (queued < this.highWaterMark) return true;
    if (debugEnabled && !this.needDrain) {
      debugLog(`native: connection ${this.id} back pressure on: ${queued} bytes queued, highWaterMark ${this.highWaterMark}`);
    }
    this.needDrain = true;
    // Nothing is queued (a zero high-water mark): the engine will not report a drain.
    if (queued === 0) process.nextTick(() => this.deliverDrain());
    return false;
  }

  end(): void {
    if (this.gone || this.ending) return;
    this.ending = true;
    if (this.engine.binding.end(this.id) === CLOSED_NOW) {
      this.gone = true;
      this.engine.closedByEnd(this);
    }
  }

  protected abort(error?: Error): void {
    if (this.closed) return;
    if (error instanceof HandlerError) (this.context as NativeContext<State>).handlerFailures.count++;
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
    // Writes from error() are refused, as on the node backend: the connection is failing.
    // (After a framing failure the engine could still send them, but the close that follows
    // resets a connection with unread input, so the peer might never see them.)
    this.ending = true;
    this.deliverError(error);
    // The engine stopped reading and waits for us (the replies to earlier frames are out).
    if (isFramingFailure(code)) this.abort(error);
  }

  /** The engine's write queue emptied. */
  drained(): void {
    this.deliverDrain();
  }

  /**
   * The close of a connection end() closed at once (NativeEngine.closedByEnd). A handler that
   * threw, or destroy(), after that end() has a close with its error on the way already.
   */
  receiveCloseAfterEnd(): void {
    if (!this.destroyRequested) this.receiveClose();
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
  private lastStats: ServerStats = {
    connections: 0, accepted: 0, rejected: 0, timedOut: 0, framesTooLong: 0, proxyRejected: 0, closedWithError: 0, bytesIn: 0, bytesOut: 0,
  };

  /** Shared with the server's connections (NativeContext.handlerFailures). */
  readonly handlerFailures = { count: 0 };

  /** A Unix-domain server's socket file, removed when it stops listening. */
  private readonly socketFile: string | undefined;

  constructor(engine: NativeEngine, endpoint: number, bound: BoundAddress, socketFile?: string) {
    this.engine = engine;
    this.endpoint = endpoint;
    this.bound = bound;
    this.socketFile = socketFile;
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
    const last = this.lastStats;
    // The same fields in the same order as the node backend's.
    return {
      connections: last.connections,
      accepted: last.accepted,
      rejected: last.rejected,
      timedOut: last.timedOut,
      framesTooLong: last.framesTooLong,
      proxyRejected: last.proxyRejected,
      closedWithError: last.closedWithError + this.handlerFailures.count,
      bytesIn: last.bytesIn,
      bytesOut: last.bytesOut,
    };
  }

  close(options?: CloseOptions): Promise<void> {
    const { timeout } = checkCloseOptions(options);
    if (this.closing) return this.closing;
    this.stats();
    const remaining = this.engine.binding.closeListener(this.endpoint);
    if (this.socketFile !== undefined) removeSocketFile(this.socketFile);
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
  /** A Unix-domain server instead of host and port. */
  unix: UnixListenSettings | null;
  /** PROXY protocol: ms a connection has to send its header; 0: no header expected. */
  proxyTimeout: number;
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

function contextOf(
  engine: NativeEngine,
  handler: TcpHandler,
  options: ConnectionSettings,
  handlerFailures = { count: 0 },
): NativeContext {
  return {
    engine,
    handlerFailures,
    handler,
    highWaterMark: options.highWaterMark,
    allowHalfOpen: options.allowHalfOpen,
    idleTimeout: options.idleTimeout,
    maxBufferedBytes: options.maxBufferedBytes,
    framing: options.framing,
  };
}

export async function listenNative(engine: NativeEngine, options: NativeListenOptions): Promise<Server> {
  const unix = options.unix;
  const host = unix ? '' : await numericHost(options.host);
  const builtin = typeof options.handler === 'string' ? options.handler : null;
  const handler = typeof options.handler === 'string' ? undefined : options.handler;
  const result = engine.binding.listen(host, options.port, {
    ...engineSettings(options),
    backlog: options.backlog,
    ipv6Only: options.ipv6Only,
    reusePort: options.reusePort,
    builtin,
    // SOCKENGINE_DEBUG logs each accept, so the engine reports them all then.
    deliverOpen: typeof handler?.open === 'function' || (debugEnabled && handler !== undefined),
    maxConnections: options.maxConnections,
    proxyTimeout: options.proxyTimeout,
    ...(unix && { path: Buffer.from(unix.path), permissions: unix.permissions }),
  });
  if ('errno' in result) {
    throw unix
      ? new SystemError(result.errno, result.syscall, describePath(unix.path))
      : new SystemError(result.errno, result.syscall, host, options.port);
  }
  const bound: BoundAddress = unix
    ? { address: unix.path, port: 0, family: 'unix' }
    : { address: result.address, port: result.port, family: isIP(result.address) === 6 ? 'IPv6' : 'IPv4' };
  if (debugEnabled) debugLog(`native: server ${result.endpoint} listening on ${unix ? describePath(unix.path) : `${result.address}:${result.port}`}${builtin ? ` (built-in ${builtin}: its connections are served without JavaScript and not logged)` : ''}`);
  const server = new NativeServer(engine, result.endpoint, bound, unix && !isAbstract(unix.path) ? unix.path : undefined);
  const context = contextOf(engine, handler ?? {}, options, server.handlerFailures);
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
  /** A Unix-domain socket instead of host and port. */
  path: string | undefined;
  handler: TcpHandler;
}

export async function connectNative(engine: NativeEngine, options: NativeConnectOptions): Promise<NativeConnection> {
  const path = options.path;
  const host = path === undefined ? await numericHost(options.host) : '';
  const settings = engineSettings(options);
  const id = engine.binding.connect(host, options.port, path === undefined ? settings : { ...settings, path: Buffer.from(path) });
  // A Unix path is named in errors as the path alone (no port).
  const target = path === undefined ? { host, port: options.port } : { host: describePath(path), port: undefined };
  if (id < 0) throw new SystemError(id, 'connect', target.host, target.port);
  const connection = new NativeConnection(contextOf(engine, options.handler, options), id);
  return new Promise((resolve, reject) => {
    engine.addPendingClient(id, { connection, ...target, resolve, reject });
  });
}
