/** `sockengine serve`: one server until SIGINT or SIGTERM. */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_PORT, listen } from '../api.js';
import { SockengineError } from '../errors.js';
import type { BackendChoice, BuiltinHandlerName, Server, TcpHandler, UdpHandler, UdpServer } from '../types.js';
import { checkHandler, isBuiltinName } from '../validate.js';
import { parseArgs, parsePort, UsageError } from './args.js';
import { framingFlags } from './framing-flags.js';

const options = [
  'transport',
  'host',
  'port',
  'backend',
  'handler',
  'idle-timeout',
  'max-connections',
  'max-buffered-bytes',
  'shutdown-timeout',
  'framing',
  'max-frame',
  'workers',
] as const;
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
        if (!(error instanceof SockengineError)) {
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
            write(`sockengine: handler failed on ${peer}, connection closed: ${error.stack?.split('\n')[0] ?? error.message}\n`);
          } else {
            suppressed++;
          }
        }
      }
    },
  } satisfies Pick<TcpHandler, 'error'>);
}

async function loadHandler(spec: string, transport: 'tcp' | 'udp'): Promise<BuiltinHandlerName | TcpHandler | UdpHandler> {
  if (isBuiltinName(spec)) return spec;
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

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export async function serve(argv: string[]): Promise<number> {
  const { options: given, positionals } = parseArgs(argv, options);
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
  if (transport === 'udp') {
    for (const [flag, value] of Object.entries(limits)) {
      if (value !== undefined) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to tcp only`);
    }
  }
  const framed = framingFlags(given, transport);
  const handler = await loadHandler(handlerSpec, transport);
  // --workers N|auto: each worker loads the handler module itself; one that fails is reported here.
  const workersText = given.get('workers');
  if (workersText !== undefined && workersText !== 'auto' && !/^[1-9]\d*$/.test(workersText)) {
    throw new UsageError(`--workers must be a whole number from 1, or auto, got '${workersText}'`);
  }
  const spread = workersText === undefined ? {} : {
    workers: workersText === 'auto' ? ('auto' as const) : Number(workersText),
    onWorkerError: (error: Error) => void process.stderr.write(`sockengine: ${error.message}; the other workers go on\n`),
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
      server = await listen({
        transport, host, port, backend: choice, handler: shared ?? (tcpHandler as BuiltinHandlerName | TcpHandler), ...given, ...framing, ...spread,
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
    if (e.code === 'EADDRINUSE') {
      process.stderr.write(`sockengine: port ${port} is already in use (${host}:${port}, EADDRINUSE)\n`);
    } else {
      process.stderr.write(`sockengine: cannot listen on ${hostPort(host, port)}: ${e.message}\n`);
    }
    return 1;
  }
  // Signal handlers go in before the ready line: a tool may signal as soon as it reads it.
  const stopped = new Promise<number>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second signal ends it at once; connections still open after --shutdown-timeout
      // are closed by the server.
      const force = () => done(0);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      const closing = server.transport === 'tcp' ? server.close({ timeout: shutdownTimeout }) : server.close();
      closing.then(() => done(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const bound = server.address();
  const workers = spread.workers === undefined ? '' : ` workers=${server.stats().workers?.length}`;
  process.stdout.write(
    `listening ${transport} ${hostPort(bound.address, bound.port)} backend=${server.backend} handler=${handlerSpec}${workers}\n`,
  );
  return stopped;
}
