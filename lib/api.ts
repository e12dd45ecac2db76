/** listen() and connect(): validate, pick the backend, hand over. */
import { loadBinding } from './binding.js';
import { debugEnabled, debugLog } from './debug.js';
import { NativeUnavailableError } from './errors.js';
import { checkFraming, encodeFrame } from './framing.js';
import { DEFAULT_PROXY_TIMEOUT } from './proxy.js';
import { nativeEngine } from './native/engine.js';
import { connectNative, listenNative } from './native/tcp.js';
import { connectUdpNative, listenUdpNative } from './native/udp.js';
import { connectNode, listenNode } from './node/tcp.js';
import { connectUdpNode, listenUdpNode } from './node/udp.js';
import { listenWorkers, workerHandler } from './workers/index.js';
import { listenLoopThreads, listenUdpLoopThreads } from './workers/loop-threads.js';
import { checkOnWorkerError, checkWorkers, loadModuleHandler, moduleHandlerUrl } from './workers/options.js';
import type {
  Backend,
  BackendChoice,
  BuiltinHandlerName,
  ConnectOptions,
  Connection,
  DatagramSocket,
  ListenOptions,
  Server,
  TcpHandler,
  UdpConnectOptions,
  UdpHandler,
  UdpListenOptions,
  UdpServer,
  UnixConnectOptions,
} from './types.js';
import { checkNodeBackendPath, checkPath, checkUnixListen, listenOnPath } from './unix.js';
import {
  checkBackend,
  checkBoolean,
  checkHandler,
  checkHost,
  checkInteger,
  checkKnownOptions,
  checkPort,
  checkTransport,
  requireObject,
} from './validate.js';

/** The port of the classic C examples, and the default everywhere. */
export const DEFAULT_PORT = 48763;
const DEFAULT_HOST = '127.0.0.1';
/** Same as node:net's default, so both backends return false from write() at the same point. */
const DEFAULT_HIGH_WATER_MARK = 16 * 1024;
/** Linux's SOMAXCONN default before 5.4, and node:net's default backlog. */
const DEFAULT_BACKLOG = 511;
/** Room for the largest UDP payload (65,507 bytes over IPv4, 65,527 over IPv6). */
const MAX_DATAGRAM_SIZE = 65536;
/**
 * A write queue's limit: 1,024 times the high-water mark, room for any burst a handler
 * that honours write()'s false would make, while 50 peers that never read cost at most
 * 800 MiB instead of all the memory there is (docs/design.md, "Limits").
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
const INT32_MAX = 2 ** 31 - 1;

const commonOptions = ['transport', 'host', 'port', 'backend', 'handler'] as const;
const connectionOptions = [
  'highWaterMark',
  'idleTimeout',
  'maxBufferedBytes',
  'allowHalfOpen',
  'noDelay',
  'keepAlive',
  'keepAliveInitialDelay',
  'framing',
  'maxFrame',
] as const;
const workerOptions = ['reusePort', 'workers', 'onWorkerError'] as const;
const knownOptions = {
  tcpListen: [
    ...commonOptions, 'backlog', 'ipv6Only', 'maxConnections', 'path', 'permissions', 'replaceStale', 'proxyProtocol',
    'proxyTimeout', ...connectionOptions, ...workerOptions,
  ],
  tcpConnect: [...commonOptions, 'path', ...connectionOptions],
  udpListen: [...commonOptions, 'ipv6Only', 'maxDatagramSize', ...workerOptions],
  udpConnect: [...commonOptions, 'maxDatagramSize'],
};

/** The options every TCP connection has, checked, with their defaults. */
function connectionSettings(given: Record<string, unknown>, builtin: BuiltinHandlerName | undefined) {
  const framing = checkFraming(given.framing, given.maxFrame);
  if (framing === null && given.maxFrame !== undefined) {
    throw new RangeError('options.maxFrame applies with options.framing; without it data() gets raw chunks');
  }
  if (framing !== null && builtin?.startsWith('reply:')) {
    // The reply is the same frame every time: if it cannot be framed, say so now.
    try {
      encodeFrame(framing, Buffer.from(builtin.slice('reply:'.length)));
    } catch (error) {
      throw new RangeError(`options.handler '${builtin}' cannot be sent as a frame: ${(error as Error).message}`);
    }
  }
  const allowHalfOpen = checkBoolean(given.allowHalfOpen, 'allowHalfOpen', false);
  if (allowHalfOpen && builtin !== undefined) {
    throw new RangeError(
      'options.allowHalfOpen applies to JavaScript handlers: a built-in handler ends its side once its replies are sent',
    );
  }
  return {
    highWaterMark: checkInteger(given.highWaterMark, 'highWaterMark', DEFAULT_HIGH_WATER_MARK, 0, INT32_MAX),
    idleTimeout: checkInteger(given.idleTimeout, 'idleTimeout', 0, 0, INT32_MAX),
    maxBufferedBytes: checkInteger(
      given.maxBufferedBytes,
      'maxBufferedBytes',
      DEFAULT_MAX_BUFFERED_BYTES,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
    allowHalfOpen,
    noDelay: checkBoolean(given.noDelay, 'noDelay', true),
    keepAlive: checkBoolean(given.keepAlive, 'keepAlive', false),
    keepAliveInitialDelay: checkInteger(given.keepAliveInitialDelay, 'keepAliveInitialDelay', 0, 0, INT32_MAX),
    framing,
  };
}

/** The PROXY header deadline in ms, or 0 when no header is expected. */
function checkProxy(given: Record<string, unknown>): number {
  const enabled = checkBoolean(given.proxyProtocol, 'proxyProtocol', false);
  if (!enabled && given.proxyTimeout !== undefined) {
    throw new TypeError('options.proxyTimeout applies with options.proxyProtocol: true');
  }
  return enabled ? checkInteger(given.proxyTimeout, 'proxyTimeout', DEFAULT_PROXY_TIMEOUT, 1, INT32_MAX) : 0;
}

let warnedFallback = false;
let loggedLoad = false;

/**
 * The one line `auto` prints when it falls back to node: what is missing and how to get the
 * native engine. Written to stderr as it is (process.emitWarning would add a second line).
 */
export function fallbackHint(reason: string): string {
  return `sockengine: native engine unavailable (${reason}); using the node backend. Build it: npx sockengine build`;
}

/**
 * The backend a choice resolves to. `auto` is native unless SOCKENGINE_BACKEND=node or the
 * addon does not load (then node, with fallbackHint() once on stderr). `native` fails if the
 * addon does not load.
 */
export function resolveBackend(choice: BackendChoice): Backend {
  if (choice === 'node') return 'node';
  const loaded = loadBinding();
  if (debugEnabled && !loggedLoad) {
    loggedLoad = true;
    debugLog('binding' in loaded ? `native: addon loaded from ${loaded.path}` : `native: addon not loaded: ${loaded.error}`);
  }
  if (choice === 'native') {
    if (!('binding' in loaded)) throw new NativeUnavailableError(`${loaded.reason}; build it with npx sockengine build`);
    return 'native';
  }
  if (process.env.SOCKENGINE_BACKEND === 'node') return 'node';
  if (!('binding' in loaded)) {
    if (!warnedFallback) {
      warnedFallback = true;
      process.stderr.write(`${fallbackHint(loaded.reason)}\n`);
    }
    return 'node';
  }
  return 'native';
}

function nativeBinding() {
  const loaded = loadBinding();
  if (!('binding' in loaded)) throw new NativeUnavailableError(loaded.reason);
  return loaded.binding;
}

function engine() {
  return nativeEngine(nativeBinding());
}

/**
 * Starts a TCP server or binds a UDP server. Resolves once it is listening. `State` types
 * each connection's `state` (`listen<{ bytes: number }>({...})`), as Bun.listen<Data> does.
 */
export async function listen<State = any>(options: ListenOptions<State>): Promise<Server>;
export async function listen<State = any>(options: UdpListenOptions<State>): Promise<UdpServer>;
/** A transport known only at run time (`'tcp' | 'udp'`): a Server or a UdpServer. */
export async function listen<State = any>(options: ListenOptions<State> | UdpListenOptions<State>): Promise<Server | UdpServer>;
export async function listen(options: ListenOptions | UdpListenOptions): Promise<Server | UdpServer> {
  const given = requireObject(options, 'options');
  const transport = checkTransport(given.transport);
  checkKnownOptions(given, transport === 'udp' ? knownOptions.udpListen : knownOptions.tcpListen, `listen({ transport: '${transport}' })`);
  const host = checkHost(given.host, DEFAULT_HOST);
  const port = checkPort(given.port, DEFAULT_PORT, true);
  const ipv6Only = checkBoolean(given.ipv6Only, 'ipv6Only', false);
  // Workers (lib/workers/): checked here, served there.
  const reusePort = checkBoolean(given.reusePort, 'reusePort', false);
  const workers = checkWorkers(given.workers);
  const onWorkerError = checkOnWorkerError(given.onWorkerError, workers);
  const moduleUrl = moduleHandlerUrl(given.handler);
  if (transport === 'udp') {
    const handler = moduleUrl === undefined ? checkHandler(given.handler, true, 'udp') : undefined;
    const settings = {
      host,
      port,
      ipv6Only,
      reusePort,
      maxDatagramSize: checkInteger(given.maxDatagramSize, 'maxDatagramSize', MAX_DATAGRAM_SIZE, 1, MAX_DATAGRAM_SIZE),
    };
    const backend = resolveBackend(checkBackend(given.backend));
    if (workers !== undefined) {
      const request = { transport, backend, workers, settings, given, onWorkerError };
      return listenWorkers({ ...request, handler: workerHandler(handler, moduleUrl) });
    }
    // A native built-in serves on a loop thread of its own (docs/design.md, "Where a message's
    // time goes"): no JavaScript, and no wake-up of this thread, per datagram.
    if (backend === 'native' && typeof handler === 'string') {
      return listenUdpLoopThreads(nativeBinding(), { ...settings, builtin: handler, workers: 1, onWorkerError: undefined, single: true });
    }
    const full = { ...settings, handler: handler ?? ((await loadModuleHandler(moduleUrl!, 'udp')) as UdpHandler) };
    return backend === 'native' ? listenUdpNative(engine(), full) : listenUdpNode(full);
  }
  const handler = moduleUrl === undefined ? checkHandler(given.handler, true) : undefined;
  const unix = checkUnixListen(given);
  const settings = {
    host,
    port,
    ipv6Only,
    unix,
    proxyTimeout: checkProxy(given),
    reusePort,
    backlog: checkInteger(given.backlog, 'backlog', DEFAULT_BACKLOG, 1, 65535),
    maxConnections: checkInteger(given.maxConnections, 'maxConnections', 0, 0, INT32_MAX),
    ...connectionSettings(given, typeof handler === 'string' ? handler : undefined),
  };
  const backend = resolveBackend(checkBackend(given.backend));
  if (backend === 'node') checkNodeBackendPath(unix?.path);
  if (workers !== undefined) {
    if (unix) throw new TypeError('options.workers and options.path cannot be combined: workers share a port with SO_REUSEPORT, which Unix sockets do not have');
    const request = { transport, backend, workers, settings, given, onWorkerError };
    return listenWorkers({ ...request, handler: workerHandler(handler, moduleUrl) });
  }
  // A native built-in on an address serves on a loop thread of its own, as above; one on a
  // Unix path stays on this thread's engine (listenOnPath owns the socket file).
  if (backend === 'native' && typeof handler === 'string' && !unix) {
    return listenLoopThreads(nativeBinding(), { ...settings, builtin: handler, workers: 1, onWorkerError: undefined, single: true });
  }
  const full = { ...settings, handler: handler ?? ((await loadModuleHandler(moduleUrl!, 'tcp')) as TcpHandler) };
  const start = () => (backend === 'native' ? listenNative(engine(), full) : listenNode(full));
  return unix ? listenOnPath(unix, start) : start();
}

/**
 * Opens a TCP client connection (resolves once connected, after the handler's open()) or a
 * connected UDP socket. `State` types the connection's `state`.
 */
export async function connect<State = any>(options: ConnectOptions<State>): Promise<Connection<State>>;
export async function connect<State = any>(options: UnixConnectOptions<State>): Promise<Connection<State>>;
export async function connect<State = any>(options: UdpConnectOptions<State>): Promise<DatagramSocket<State>>;
/** A transport known only at run time (`'tcp' | 'udp'`). */
export async function connect<State = any>(
  options: ConnectOptions<State> | UnixConnectOptions<State> | UdpConnectOptions<State>,
): Promise<Connection<State> | DatagramSocket<State>>;
export async function connect(
  options: ConnectOptions | UnixConnectOptions | UdpConnectOptions,
): Promise<Connection | DatagramSocket> {
  const given = requireObject(options, 'options');
  const transport = checkTransport(given.transport);
  checkKnownOptions(given, transport === 'udp' ? knownOptions.udpConnect : knownOptions.tcpConnect, `connect({ transport: '${transport}' })`);
  const path = checkPath(given, 'connect()');
  const host = checkHost(given.host, DEFAULT_HOST);
  const port = path === undefined ? checkPort(given.port, undefined, false) : 0;
  if (transport === 'udp') {
    const settings = {
      host,
      port,
      maxDatagramSize: checkInteger(given.maxDatagramSize, 'maxDatagramSize', MAX_DATAGRAM_SIZE, 1, MAX_DATAGRAM_SIZE),
      handler: checkHandler(given.handler, false, 'udp') as UdpHandler,
    };
    const backend = resolveBackend(checkBackend(given.backend));
    return backend === 'native' ? connectUdpNative(engine(), settings) : connectUdpNode(settings);
  }
  const settings = {
    host,
    port,
    path,
    ...connectionSettings(given, undefined),
    handler: checkHandler(given.handler, false) as ConnectOptions['handler'],
  };
  const backend = resolveBackend(checkBackend(given.backend));
  if (backend === 'node') checkNodeBackendPath(path);
  return backend === 'native' ? connectNative(engine(), settings) : connectNode(settings);
}

/** True when the native addon loads on this machine. */
export function nativeAvailable(): boolean {
  return 'binding' in loadBinding();
}
