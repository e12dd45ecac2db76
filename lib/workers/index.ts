/**
 * listen({ workers }): one server spread over N threads, each with its own SO_REUSEPORT
 * listener on the same address. A built-in handler on the native backend runs on native
 * loop threads (no JavaScript at all); a handler module, or any handler on the node
 * backend, runs in worker threads.
 */
import { loadBinding } from '../binding.js';
import { NativeUnavailableError } from '../errors.js';
import type { ConnectionSettings } from '../native/tcp.js';
import { requireNodeReusePort } from '../node/reuse-port.js';
import type { Backend, BuiltinHandlerName, Server, UdpServer, WorkerOptions } from '../types.js';
import { listenLoopThreads, listenUdpLoopThreads } from './loop-threads.js';
import { listenThreadPool } from './thread-pool.js';

/** What listen() has checked, handed over when `workers` is given. */
export interface WorkersRequest {
  transport: 'tcp' | 'udp';
  backend: Backend;
  workers: number;
  /** A built-in name, or a handler module's file URL (moduleHandlerUrl). */
  handler: { builtin: BuiltinHandlerName } | { module: string };
  /** The checked settings (host, port, ...), for the native loop threads. */
  settings: { host: string; port: number; ipv6Only: boolean } & Partial<ConnectionSettings> & Record<string, unknown>;
  /** The options as the user gave them, for worker threads (each checks them again). */
  given: Record<string, unknown>;
  onWorkerError: WorkerOptions['onWorkerError'];
}

/**
 * The handler as threads can share it: a built-in name or a module. A handler object lives
 * in this thread's memory, so it cannot serve other threads: a TypeError says what to give.
 */
export function workerHandler(handler: unknown, moduleUrl: string | undefined): WorkersRequest['handler'] {
  if (moduleUrl !== undefined) return { module: moduleUrl };
  if (typeof handler === 'string') return { builtin: handler as BuiltinHandlerName };
  throw new TypeError(
    "options.workers needs a built-in handler or a handler module (handler: '/path/to/handler.js' or { module: path }): " +
      'a handler object cannot be shared with other threads',
  );
}

/** Options a worker thread's own listen() must not see: the workers server handles them. */
const serverOnly = new Set(['transport', 'handler', 'workers', 'onWorkerError', 'backend', 'port', 'reusePort']);

export async function listenWorkers(request: WorkersRequest): Promise<Server | UdpServer> {
  const { transport, backend, workers, handler, settings, onWorkerError } = request;
  if (backend === 'native' && 'builtin' in handler) {
    const loaded = loadBinding();
    if ('error' in loaded) throw new NativeUnavailableError(loaded.error);
    if (transport === 'udp') {
      return listenUdpLoopThreads(loaded.binding, {
        host: settings.host,
        port: settings.port,
        ipv6Only: settings.ipv6Only,
        maxDatagramSize: settings.maxDatagramSize as number,
        reusePort: settings.reusePort === true,
        builtin: handler.builtin,
        workers,
        onWorkerError,
      });
    }
    return listenLoopThreads(loaded.binding, {
      ...(settings as unknown as Parameters<typeof listenLoopThreads>[1]),
      builtin: handler.builtin,
      workers,
      onWorkerError,
    });
  }
  if (backend === 'node') requireNodeReusePort('options.workers');
  const options = Object.fromEntries(Object.entries(request.given).filter(([key]) => !serverOnly.has(key)));
  return listenThreadPool({ transport, backend, workers, port: settings.port, handler, options, onWorkerError });
}
