/**
 * One worker thread of a workers server: loads the handler module itself, listens with
 * reusePort on the shared port through the public listen(), keeps its counters where the
 * server reads them, and closes when told.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { listen } from '../index.js';
import type { Server, TcpHandler, UdpServer } from '../index.js';
import { loadModuleHandler } from './options.js';
import { counterFields, serializeError, storeCounters, type CloseRequest, type WorkerReport, type WorkerStart } from './protocol.js';

/**
 * How often the counters are copied while serving, for what no connection's open or close
 * marks (rejections, a UDP socket's traffic). stats() on the server is at most this old.
 */
const PUBLISH_INTERVAL_MS = 100;

const start = workerData as WorkerStart;
const port = parentPort!;
const fields = counterFields(start.transport);
const counters = new BigInt64Array(start.counters);

function report(message: WorkerReport): void {
  port.postMessage(message);
}

/** The user's handler, telling the server its counters changed when a connection opens or closes. */
function publishing(handler: TcpHandler, publish: () => void): TcpHandler {
  let scheduled = false;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    // Once per batch of events, not per connection.
    queueMicrotask(() => {
      scheduled = false;
      publish();
    });
  };
  const { open, close } = handler;
  return Object.assign(Object.create(handler) as TcpHandler, {
    open(connection) {
      schedule();
      open?.call(handler, connection);
    },
    close(connection, error) {
      schedule();
      close?.call(handler, connection, error);
    },
  } satisfies Pick<TcpHandler, 'open' | 'close'>);
}

async function main(): Promise<void> {
  let server: Server | UdpServer | undefined;
  const publish = () => {
    if (server !== undefined) storeCounters(counters, fields, server.stats());
  };
  try {
    let handler: unknown;
    if ('builtin' in start.handler) {
      handler = start.handler.builtin;
    } else {
      handler = await loadModuleHandler(start.handler.module, start.transport);
      if (start.transport === 'tcp') handler = publishing(handler as TcpHandler, publish);
    }
    server = (await listen({ ...start.options, transport: start.transport, handler } as Parameters<typeof listen>[0])) as
      | Server
      | UdpServer;
  } catch (error) {
    report({ type: 'failed', error: serializeError(error) });
    return;
  }
  publish();
  const timer = setInterval(publish, PUBLISH_INTERVAL_MS);
  timer.unref();
  port.on('message', (request: CloseRequest) => {
    if (request.type !== 'close' || server === undefined) return;
    const closing =
      server.transport === 'tcp'
        ? server.close(request.timeout === undefined ? undefined : { timeout: request.timeout })
        : server.close();
    closing.then(() => {
      clearInterval(timer);
      publish();
      report({ type: 'closed' });
    });
  });
  report({ type: 'listening', address: server.address() });
}

void main();
