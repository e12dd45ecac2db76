/**
 * What a workers server and its worker threads say to each other (thread-pool.ts is one
 * side, worker-main.ts the other), and the counters they share.
 */
import type { BoundAddress, DatagramStats, ServerStats } from '../types.js';

/** What a worker thread is started with (its workerData). */
export interface WorkerStart {
  /** Its place in stats().workers. */
  index: number;
  transport: 'tcp' | 'udp';
  /** A built-in name, or a handler module's file URL. */
  handler: { builtin: string } | { module: string };
  /** listen()'s options for this worker: port, backend and reusePort: true included. */
  options: Record<string, unknown>;
  /** The worker's counters (counterFields order), written by the worker, read by the server. */
  counters: SharedArrayBuffer;
}

/** Worker to server. */
export type WorkerReport =
  | { type: 'listening'; address: BoundAddress }
  | { type: 'failed'; error: SerializedError }
  | { type: 'closed' };

/** Server to worker: close the worker's server (with close()'s timeout), then say 'closed'. */
export interface CloseRequest {
  type: 'close';
  timeout?: number;
}

export const tcpFields = [
  'connections', 'accepted', 'rejected', 'timedOut', 'framesTooLong', 'proxyRejected', 'closedWithError', 'bytesIn', 'bytesOut',
] as const;
export const udpFields = ['datagramsIn', 'bytesIn', 'datagramsOut', 'bytesOut', 'truncated', 'sendErrors'] as const;

export function counterFields(transport: 'tcp' | 'udp'): readonly string[] {
  return transport === 'udp' ? udpFields : tcpFields;
}

/** Writes a server's counters where the other thread reads them (each field atomically). */
export function storeCounters(counters: BigInt64Array, fields: readonly string[], stats: ServerStats | DatagramStats): void {
  const values = stats as unknown as Record<string, number>;
  fields.forEach((field, index) => Atomics.store(counters, index, BigInt(values[field] ?? 0)));
}

export function loadCounters(counters: BigInt64Array, fields: readonly string[]): Record<string, number> {
  const values: Record<string, number> = {};
  fields.forEach((field, index) => {
    values[field] = Number(Atomics.load(counters, index));
  });
  return values;
}

/** An error as it crosses threads: structured clone keeps an Error's message, not its code. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
}

export function serializeError(value: unknown): SerializedError {
  if (!(value instanceof Error)) return { name: 'Error', message: String(value) };
  const e = value as Error & Partial<Omit<SerializedError, 'name' | 'message' | 'stack'>>;
  const serialized: SerializedError = { name: e.name, message: e.message };
  if (e.stack !== undefined) serialized.stack = e.stack;
  for (const key of ['code', 'errno', 'syscall', 'address', 'port'] as const) {
    if (e[key] !== undefined) (serialized as unknown as Record<string, unknown>)[key] = e[key];
  }
  return serialized;
}
