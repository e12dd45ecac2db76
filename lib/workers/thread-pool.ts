/**
 * A JavaScript handler module (or, on the node backend, a built-in) in N worker threads:
 * each imports the module, listens with reusePort on the shared port with its own engine
 * (or node:net), and serves its share of the connections. The first worker binds the port
 * (0 picks one) and the others join it on the port it got.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SockengineError, SystemError, WorkerError } from '../errors.js';
import type { Backend, BoundAddress, CloseOptions, DatagramStats, Server, ServerStats, UdpServer, WorkerOptions } from '../types.js';
import { checkCloseOptions } from '../validate.js';
import {
  counterFields,
  loadCounters,
  type CloseRequest,
  type SerializedError,
  type WorkerReport,
  type WorkerStart,
} from './protocol.js';
import { reportWorkerError, sumDatagramStats, sumServerStats } from './report.js';

export interface ThreadPoolOptions {
  transport: 'tcp' | 'udp';
  backend: Backend;
  workers: number;
  port: number;
  handler: WorkerStart['handler'];
  /** listen()'s other options, passed to every worker as given (each checks them again). */
  options: Record<string, unknown>;
  onWorkerError: WorkerOptions['onWorkerError'];
}

/**
 * The worker's script, compiled: beside this file when running from dist/, else (this file
 * run from its TypeScript source, as in the tests) the build in dist/.
 */
function workerScript(): URL {
  const beside = new URL('./worker-main.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../../dist/workers/worker-main.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new SockengineError('ERR_SOCKENGINE_NOT_BUILT', 'workers need the compiled worker script: run `npm run build:ts`');
}

/** An error from a worker thread, rebuilt with its class and code. */
function rebuildError(serialized: SerializedError): Error {
  let error: Error;
  if (serialized.errno !== undefined && serialized.syscall !== undefined) {
    error = new SystemError(serialized.errno, serialized.syscall, serialized.address, serialized.port, {
      code: serialized.code,
    });
  } else if (serialized.name === 'TypeError') {
    error = new TypeError(serialized.message);
  } else if (serialized.name === 'RangeError') {
    error = new RangeError(serialized.message);
  } else if (serialized.code !== undefined) {
    error = new SockengineError(serialized.code, serialized.message);
    error.name = serialized.name;
  } else {
    error = new Error(serialized.message);
    error.name = serialized.name;
  }
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  return error;
}

/** One worker thread, from its start to its exit. */
class PoolWorker {
  readonly worker: Worker;
  readonly counters: BigInt64Array;
  /** Resolves with the bound address once it listens; rejects if it cannot. */
  readonly listening: Promise<BoundAddress>;
  /** Resolves when the thread has exited, however it ended. */
  readonly exited: Promise<void>;
  private closeRequested = false;
  private failed = false;

  constructor(
    readonly index: number,
    start: Omit<WorkerStart, 'index' | 'counters'>,
    private readonly onFailure: (error: WorkerError) => void,
  ) {
    const fields = counterFields(start.transport);
    const shared = new SharedArrayBuffer(fields.length * BigInt64Array.BYTES_PER_ELEMENT);
    this.counters = new BigInt64Array(shared);
    const data: WorkerStart = { ...start, index, counters: shared };
    this.worker = new Worker(workerScript(), { workerData: data });
    let listened: (address: BoundAddress) => void;
    let refused: (error: Error) => void;
    let isListening = false;
    this.listening = new Promise((resolve, reject) => {
      listened = resolve;
      refused = reject;
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (message: WorkerReport) => {
      if (message.type === 'listening') {
        isListening = true;
        listened(message.address);
      } else if (message.type === 'failed') {
        // listen() refused in the worker: the server's listen() rejects with the same error.
        this.failed = true;
        refused(rebuildError(message.error));
        void this.worker.terminate();
      } else if (message.type === 'closed') {
        void this.worker.terminate();
      }
    });
    // A failure is reported at 'exit', once the thread has gone and its listener with it: from
    // then on the kernel routes new connections only to the workers still listening.
    let thrown: Error | undefined;
    this.worker.on('error', (error) => {
      thrown ??= error;
    });
    this.worker.once('exit', (code) => {
      if (this.failed || (this.closeRequested && thrown === undefined)) return;
      this.failed = true;
      const error = thrown ?? new Error(`its worker thread exited with code ${code} unasked`);
      if (!isListening) refused(error);
      else this.onFailure(new WorkerError(index, error));
    });
  }

  close(timeout: number | undefined): Promise<void> {
    if (!this.closeRequested) {
      this.closeRequested = true;
      const request: CloseRequest = timeout === undefined ? { type: 'close' } : { type: 'close', timeout };
      this.worker.postMessage(request);
    }
    return this.exited;
  }

  /** Ends the thread at once (listen() failed elsewhere). */
  terminate(): Promise<void> {
    this.closeRequested = true;
    void this.worker.terminate();
    return this.exited;
  }
}

/** The workers of one server and their shared counters. */
class Pool {
  private closing: Promise<void> | undefined;

  constructor(
    readonly workers: PoolWorker[],
    private readonly transport: 'tcp' | 'udp',
  ) {}

  counters(): Record<string, number>[] {
    const fields = counterFields(this.transport);
    return this.workers.map((worker) => loadCounters(worker.counters, fields));
  }

  close(timeout: number | undefined): Promise<void> {
    this.closing ??= Promise.all(this.workers.map((worker) => worker.close(timeout))).then(() => undefined);
    return this.closing;
  }
}

class ThreadPoolServer implements Server {
  readonly transport = 'tcp' as const;

  constructor(
    readonly backend: Backend,
    private readonly pool: Pool,
    private readonly bound: BoundAddress,
  ) {}

  address(): BoundAddress {
    return { ...this.bound };
  }

  get connections(): number {
    return this.stats().connections;
  }

  stats(): ServerStats {
    return sumServerStats(this.pool.counters() as unknown as ServerStats[]);
  }

  close(options?: CloseOptions): Promise<void> {
    return this.pool.close(checkCloseOptions(options).timeout);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

class ThreadPoolUdpServer implements UdpServer {
  readonly transport = 'udp' as const;

  constructor(
    readonly backend: Backend,
    private readonly pool: Pool,
    private readonly bound: BoundAddress,
  ) {}

  address(): BoundAddress {
    return { ...this.bound };
  }

  stats(): DatagramStats {
    return sumDatagramStats(this.pool.counters() as unknown as DatagramStats[]);
  }

  close(): Promise<void> {
    return this.pool.close(undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export async function listenThreadPool(options: ThreadPoolOptions): Promise<Server | UdpServer> {
  const started: PoolWorker[] = [];
  const onFailure = (error: WorkerError) => reportWorkerError(error, options.onWorkerError);
  const startWorker = (index: number, port: number) => {
    const worker = new PoolWorker(
      index,
      {
        transport: options.transport,
        handler: options.handler,
        options: { ...options.options, port, backend: options.backend, reusePort: true },
      },
      onFailure,
    );
    started.push(worker);
    return worker.listening;
  };
  let bound: BoundAddress;
  try {
    bound = await startWorker(0, options.port);
    const others = [];
    for (let index = 1; index < options.workers; index++) others.push(startWorker(index, bound.port));
    await Promise.all(others);
  } catch (error) {
    await Promise.all(started.map((worker) => worker.terminate()));
    throw error;
  }
  const pool = new Pool(started, options.transport);
  return options.transport === 'udp'
    ? new ThreadPoolUdpServer(options.backend, pool, bound)
    : new ThreadPoolServer(options.backend, pool, bound);
}
