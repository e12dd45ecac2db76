/** `sockengine serve`: one server until SIGINT or SIGTERM. */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_PORT, HandlerError, listen } from '../index.js';
import type { BackendChoice, BuiltinHandlerName, Server, TcpHandler, UdpHandler, UdpServer } from '../index.js';
import { checkHandler, isBuiltinName } from '../validate.js';
import { hostPort, parseCommand, parsePort, untilSignalled, UsageError, type OptionSpec } from './args.js';
import { framingFlags } from './framing-flags.js';

/** `sockengine serve --help`. */
export const SERVE_USAGE = `usage: sockengine serve [options]
  -H, --host ADDRESS         address to bind (default 127.0.0.1)
  -p, --port PORT            port to bind; 0 picks a free one, printed on the ready line (default ${DEFAULT_PORT})
      --transport tcp|udp    (default tcp)
      --backend auto|native|node   (default auto)
      --handler NAME|PATH    uppercase, echo, reply:TEXT, or a module path (contains / or ends in .js, .mjs, .ts)
                             whose default export is a handler object (default uppercase)
      --idle-timeout MS      tcp: close a connection silent this long
      --max-connections N    tcp: shed connections beyond N open
      --max-buffered-bytes BYTES   tcp: fail a connection whose write queue grows past BYTES
      --shutdown-timeout MS  after SIGINT/SIGTERM, close connections still open after MS (default 2000)
      --framing line|delim:HEX|length:N[:le]|fixed:N   tcp: one message per frame
      --max-frame BYTES      with --framing: the largest frame (default 65536)
      --workers N|auto       serve on N threads (auto: one per core), each with its own SO_REUSEPORT listener
      --reuse-port           SO_REUSEPORT: run several serve processes on one port (native; node needs Node 22.12+)
      --stats SECONDS        print a one-line summary of the server's counters every SECONDS
      --unix PATH            tcp: listen on a Unix stream socket instead (@NAME: an abstract name)
      --permissions MODE     with --unix: the socket file's mode, octal (e.g. 660)
      --replace              with --unix: remove a stale socket file (nothing listening) first
      --proxy-protocol       tcp: each connection starts with a PROXY v1/v2 header (HAProxy
                             send-proxy, nginx proxy_protocol); remoteAddress names its client
      --proxy-timeout MS     with --proxy-protocol: time allowed for the header (default 3000)
  -h, --help                 this help`;

const options: OptionSpec = {
  transport: { type: 'string' },
  host: { type: 'string', short: 'H' },
  port: { type: 'string', short: 'p' },
  backend: { type: 'string' },
  handler: { type: 'string' },
  'idle-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-buffered-bytes': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  framing: { type: 'string' },
  'max-frame': { type: 'string' },
  stats: { type: 'string' },
  unix: { type: 'string' },
  permissions: { type: 'string' },
  replace: { type: 'boolean' },
  'proxy-protocol': { type: 'boolean' },
  'proxy-timeout': { type: 'string' },
  workers: { type: 'string' },
  'reuse-port': { type: 'boolean' },
};
/** --stats: the shortest interval, so a typo such as 0.001 cannot flood the terminal. */
const SHORTEST_STATS_SECONDS = 0.1;
/** How long a signalled server waits for open connections by default (--shutdown-timeout). */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 2000;
/** At most this many handler-failure lines per second on stderr; the rest are counted. */
const FAILURE_LINES_PER_SECOND = 5;

/** A non-negative integer flag, or a UsageError naming it. */
function parseCount(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${flag} must be a whole number, got '${text}'`);
  }
  return Number(text);
}

/**
 * The user's handler, with one addition: a failure of the handler itself (a member that
 * threw) costs its connection and one line on stderr, at most FAILURE_LINES_PER_SECOND a
 * second, instead of an uncaught exception that would stop the server. The handler's own
 * error() still runs first.
 */
export function reportingFailures(handler: TcpHandler, write: (line: string) => void = (line) => process.stderr.write(line)): TcpHandler {
  let windowStart = 0;
  let lines = 0;
  let suppressed = 0;
  const userError = handler.error;
  return Object.assign(Object.create(handler) as TcpHandler, {
    error(connection, error) {
      try {
        userError?.call(handler, connection, error);
      } finally {
        // Socket errors (resets, timeouts) are the peer's doing, not the handler's.
        if (error instanceof HandlerError) {
          const now = Date.now();
          if (now - windowStart >= 1000) {
            if (suppressed > 0) write(`sockengine: ${suppressed} more handler failures not shown\n`);
            windowStart = now;
            lines = 0;
            suppressed = 0;
          }
          if (lines < FAILURE_LINES_PER_SECOND) {
            lines++;
            const peer = `${connection.remoteAddress}:${connection.remotePort}`;
            const thrown = error.cause instanceof Error ? error.cause.stack?.split('\n')[0] ?? String(error.cause) : String(error.cause);
            write(`sockengine: handler failed on ${peer}, connection closed: ${thrown}\n`);
          } else {
            suppressed++;
          }
        }
      }
    },
  } satisfies Pick<TcpHandler, 'error'>);
}

/** A --handler value is a module path only when it looks like one; a bare word is a name. */
function looksLikePath(spec: string): boolean {
  return spec.includes('/') || /\.(?:m?js|cjs|ts|mts)$/.test(spec);
}

async function loadHandler(spec: string, transport: 'tcp' | 'udp'): Promise<BuiltinHandlerName | TcpHandler | UdpHandler> {
  if (isBuiltinName(spec)) return spec;
  if (!looksLikePath(spec)) {
    throw new UsageError(
      `--handler '${spec}' is not a built-in (uppercase, echo, reply:TEXT); a module path contains / or ends in .js, .mjs or .ts`,
    );
  }
  const path = isAbsolute(spec) ? spec : resolve(spec);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError(`--handler ${spec}: cannot load the module (${(error as Error).message.split('\n')[0]})`);
  }
  try {
    const handler = checkHandler(module.default, false, transport as 'udp');
    // A handler for the other transport would sit silent: say so now.
    const member = transport === 'udp' ? 'message()' : 'data() or open()';
    const members = handler as Record<string, unknown>;
    if (transport === 'udp' ? !members.message : !(members.data || members.open)) {
      throw new TypeError(`a ${transport} handler needs a ${member} member`);
    }
    return handler;
  } catch (error) {
    throw new UsageError(`--handler ${spec}: the default export is not a handler (${(error as Error).message})`);
  }
}


/** What the ready and stats lines name: `tcp HOST:PORT`, `udp HOST:PORT` or `unix PATH` (`@NAME` if abstract). */
function boundText(server: Server | UdpServer): string {
  const bound = server.address();
  if (bound.family === 'unix') {
    return `unix ${bound.address.startsWith('\0') ? `@${bound.address.slice(1)}` : bound.address}`;
  }
  return `${server.transport} ${hostPort(bound.address, bound.port)}`;
}

/** --stats SECONDS: a positive number of seconds, at least SHORTEST_STATS_SECONDS. */
function parseStatsInterval(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = /^\d+(?:\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds >= SHORTEST_STATS_SECONDS)) {
    throw new UsageError(`--stats must be a number of seconds, at least ${SHORTEST_STATS_SECONDS}, got '${text}'`);
  }
  return seconds;
}

/** The --stats line: the transport, where, then every counter as name=value. */
export function statsLine(server: Server | UdpServer): string {
  const stats = server.stats();
  // Connections open first, then the counters in the order stats() gives them.
  const fields: Array<[string, number]> = Object.entries(stats);
  fields.sort(([a], [b]) => Number(b === 'connections') - Number(a === 'connections'));
  const counters = fields.map(([name, value]) => `${name}=${value}`);
  return `stats ${boundText(server)} ${counters.join(' ')}`;
}

/** --unix, --permissions, --replace, --proxy-protocol and --proxy-timeout, checked together. */
function placeFlags(given: Map<string, string>, transport: string) {
  const path = given.get('unix');
  for (const flag of ['permissions', 'replace']) {
    if (given.has(flag) && path === undefined) throw new UsageError(`--${flag} applies with --unix`);
  }
  if (given.has('proxy-timeout') && !given.has('proxy-protocol')) throw new UsageError('--proxy-timeout applies with --proxy-protocol');
  if (transport === 'udp') {
    for (const flag of ['unix', 'proxy-protocol']) {
      if (given.has(flag)) throw new UsageError(`--${flag} applies to tcp only`);
    }
  }
  if (path !== undefined) {
    for (const flag of ['host', 'port']) {
      if (given.has(flag)) throw new UsageError(`--unix and --${flag} cannot be combined: a Unix socket has no host or port`);
    }
    if (path === '') throw new UsageError('--unix needs a path');
  }
  const modeText = given.get('permissions');
  if (modeText !== undefined && !/^0?[0-7]{3}$/.test(modeText)) {
    throw new UsageError(`--permissions must be an octal mode such as 660, got '${modeText}'`);
  }
  const unix = path === undefined
    ? undefined
    : {
        path: path.startsWith('@') ? `\0${path.slice(1)}` : path,
        ...(modeText === undefined ? {} : { permissions: parseInt(modeText, 8) }),
        ...(given.has('replace') ? { replaceStale: true } : {}),
      };
  const proxyTimeout = parseCount(given.get('proxy-timeout'), 'proxy-timeout');
  const proxy = given.has('proxy-protocol')
    ? { proxyProtocol: true, ...(proxyTimeout === undefined ? {} : { proxyTimeout }) }
    : {};
  return { unix, proxy };
}

export async function serve(argv: string[]): Promise<number> {
  const { options: given, positionals, help } = parseCommand(argv, options);
  if (help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`serve takes no positional arguments, got '${positionals[0]}'`);
  const transport = given.get('transport') ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'udp') throw new UsageError(`--transport must be tcp or udp, got '${transport}'`);
  const host = given.get('host') ?? '127.0.0.1';
  const port = parsePort(given.get('port') ?? String(DEFAULT_PORT), '--port', true);
  const backend = given.get('backend') ?? 'auto';
  if (!['auto', 'native', 'node'].includes(backend)) {
    throw new UsageError(`--backend must be auto, native or node, got '${backend}'`);
  }
  const handlerSpec = given.get('handler') ?? 'uppercase';
  const limits = {
    idleTimeout: parseCount(given.get('idle-timeout'), 'idle-timeout'),
    maxConnections: parseCount(given.get('max-connections'), 'max-connections'),
    maxBufferedBytes: parseCount(given.get('max-buffered-bytes'), 'max-buffered-bytes'),
  };
  const shutdownTimeout = parseCount(given.get('shutdown-timeout'), 'shutdown-timeout') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const statsSeconds = parseStatsInterval(given.get('stats'));
  if (transport === 'udp') {
    for (const [flag, value] of Object.entries(limits)) {
      if (value !== undefined) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to tcp only`);
    }
  }
  const framed = framingFlags(given, transport);
  const place = placeFlags(given, transport);
  const handler = await loadHandler(handlerSpec, transport);
  // --workers N|auto: each worker loads the handler module itself; one that fails is reported here.
  const workersText = given.get('workers');
  if (workersText !== undefined && workersText !== 'auto' && !/^[1-9]\d*$/.test(workersText)) {
    throw new UsageError(`--workers must be a whole number from 1, or auto, got '${workersText}'`);
  }
  const spread = {
    ...(workersText === undefined ? {} : {
      workers: workersText === 'auto' ? ('auto' as const) : Number(workersText),
      onWorkerError: (error: Error) => void process.stderr.write(`sockengine: ${error.message}; the other workers go on\n`),
    }),
    ...(given.has('reuse-port') ? { reusePort: true } : {}),
  };
  // A TCP module goes through worker-handler.js, which gives it reportingFailures in each worker.
  const moduleUrl = pathToFileURL(resolve(handlerSpec)).href;
  const wrapped = `${new URL('./worker-handler.js', import.meta.url).href}?handler=${encodeURIComponent(moduleUrl)}`;
  const shared = spread.workers !== undefined && typeof handler !== 'string' ? { module: transport === 'tcp' ? wrapped : moduleUrl } : undefined;

  let server: Server | UdpServer;
  try {
    const choice = backend as BackendChoice;
    if (transport === 'udp') {
      server = await listen({ transport, host, port, backend: choice, handler: shared ?? (handler as BuiltinHandlerName | UdpHandler), ...spread });
    } else {
      const tcpHandler = typeof handler === 'string' ? handler : reportingFailures(handler as TcpHandler);
      const given = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
      const framing = framed === null ? {} : { framing: framed.framing, maxFrame: framed.maxFrame };
      const where = place.unix ?? { host, port };
      server = await listen({
        transport, ...where, backend: choice, handler: shared ?? (tcpHandler as BuiltinHandlerName | TcpHandler), ...given, ...framing, ...place.proxy, ...spread,
      });
    }
  } catch (error) {
    // The flags are checked above; what listen() still refuses is a reply:TEXT that cannot
    // be sent as a frame of this framing (not the fixed size, too long for the header).
    if (framed !== null && (error instanceof RangeError || error instanceof TypeError)) {
      const reason = /cannot be sent as a frame: (.*)$/.exec(error.message)?.[1] ?? error.message;
      throw new UsageError(`--handler ${handlerSpec} cannot be sent as a --framing ${framed.text} frame: ${reason}`);
    }
    const e = error as NodeJS.ErrnoException;
    if (place.unix) {
      process.stderr.write(`sockengine: cannot listen on ${given.get('unix')}: ${e.message}\n`);
    } else if (e.code === 'EADDRINUSE') {
      process.stderr.write(`sockengine: port ${port} is already in use (${host}:${port}, EADDRINUSE)\n`);
    } else {
      process.stderr.write(`sockengine: cannot listen on ${hostPort(host, port)}: ${e.message}\n`);
    }
    return 1;
  }
  const statsTimer = statsSeconds === undefined
    ? undefined
    : setInterval(() => process.stdout.write(`${statsLine(server)}\n`), statsSeconds * 1000);
  // Signal handlers go in before the ready line: a tool may signal as soon as it reads it.
  // Connections still open after --shutdown-timeout are closed by the server.
  const stopped = untilSignalled(() => {
    clearInterval(statsTimer);
    const closing = server.transport === 'tcp' ? server.close({ timeout: shutdownTimeout }) : server.close();
    return closing.then(() => 0);
  });
  const workers = spread.workers === undefined ? '' : ` workers=${server.stats().workers?.length}`;
  process.stdout.write(
    `listening ${boundText(server)} backend=${server.backend} handler=${handlerSpec}${'proxyProtocol' in place.proxy ? ' proxy-protocol' : ''}${workers}\n`,
  );
  return stopped;
}
