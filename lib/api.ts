/** listen() and connect(): validate, pick the backend, hand over. */
import { loadBinding } from './binding.js';
import { NativeUnavailableError } from './errors.js';
import { nativeEngine } from './native/engine.js';
import { connectNative, listenNative } from './native/tcp.js';
import { connectNode, listenNode } from './node/tcp.js';
import type { Backend, BackendChoice, ConnectOptions, Connection, ListenOptions, Server } from './types.js';
import {
  checkBackend,
  checkBoolean,
  checkHandler,
  checkHost,
  checkInteger,
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

let warnedFallback = false;

/**
 * The backend a choice resolves to. `auto` is native unless SOCKENGINE_BACKEND=node or the
 * addon does not load (then node, with a one-line warning). `native` fails if the addon does
 * not load.
 */
export function resolveBackend(choice: BackendChoice): Backend {
  if (choice === 'node') return 'node';
  const loaded = loadBinding();
  if (choice === 'native') {
    if ('error' in loaded) throw new NativeUnavailableError(loaded.error);
    return 'native';
  }
  if (process.env.SOCKENGINE_BACKEND === 'node') return 'node';
  if ('error' in loaded) {
    if (!warnedFallback) {
      warnedFallback = true;
      process.emitWarning(`native addon unavailable, using the node backend (${loaded.error})`, {
        code: 'SOCKENGINE_FALLBACK',
      });
    }
    return 'node';
  }
  return 'native';
}

function engine() {
  const loaded = loadBinding();
  if ('error' in loaded) throw new NativeUnavailableError(loaded.error);
  return nativeEngine(loaded.binding);
}

/** Starts a server. Resolves once it is listening. */
export async function listen(options: ListenOptions): Promise<Server> {
  const given = requireObject(options, 'options');
  checkTransport(given.transport);
  const settings = {
    host: checkHost(given.host, DEFAULT_HOST),
    port: checkPort(given.port, DEFAULT_PORT, true),
    backlog: checkInteger(given.backlog, 'backlog', DEFAULT_BACKLOG, 1, 65535),
    highWaterMark: checkInteger(given.highWaterMark, 'highWaterMark', DEFAULT_HIGH_WATER_MARK, 0, 2 ** 31 - 1),
    ipv6Only: checkBoolean(given.ipv6Only, 'ipv6Only', false),
    handler: checkHandler(given.handler, true),
  };
  const backend = resolveBackend(checkBackend(given.backend));
  return backend === 'native' ? listenNative(engine(), settings) : listenNode(settings);
}

/** Opens a client connection. Resolves once it is connected (after the handler's open()). */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const given = requireObject(options, 'options');
  checkTransport(given.transport);
  const settings = {
    host: checkHost(given.host, DEFAULT_HOST),
    port: checkPort(given.port, undefined, false),
    highWaterMark: checkInteger(given.highWaterMark, 'highWaterMark', DEFAULT_HIGH_WATER_MARK, 0, 2 ** 31 - 1),
    handler: checkHandler(given.handler, false) as ConnectOptions['handler'],
  };
  const backend = resolveBackend(checkBackend(given.backend));
  return backend === 'native' ? connectNative(engine(), settings) : connectNode(settings);
}

/** True when the native addon loads on this machine. */
export function nativeAvailable(): boolean {
  return !('error' in loadBinding());
}
