/** `sockengine serve`: one server until SIGINT or SIGTERM. */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_PORT, listen } from '../api.js';
import type { BackendChoice, BuiltinHandlerName, Server, TcpHandler, UdpHandler, UdpServer } from '../types.js';
import { checkHandler, isBuiltinName } from '../validate.js';
import { parseArgs, parsePort, UsageError } from './args.js';

const options = ['transport', 'host', 'port', 'backend', 'handler'] as const;
/** How long a signalled server waits for open connections before exiting anyway. */
const SHUTDOWN_GRACE_MS = 2000;

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
  const handler = await loadHandler(handlerSpec, transport);

  let server: Server | UdpServer;
  try {
    const choice = backend as BackendChoice;
    server =
      transport === 'udp'
        ? await listen({ transport, host, port, backend: choice, handler: handler as BuiltinHandlerName | UdpHandler })
        : await listen({ transport, host, port, backend: choice, handler: handler as BuiltinHandlerName | TcpHandler });
  } catch (error) {
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
      // A second signal, or connections that outlive the grace period, end it at once.
      const force = () => done(0);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      setTimeout(force, SHUTDOWN_GRACE_MS).unref();
      server.close().then(() => done(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const bound = server.address();
  process.stdout.write(
    `listening ${transport} ${hostPort(bound.address, bound.port)} backend=${server.backend} handler=${handlerSpec}\n`,
  );
  return stopped;
}
