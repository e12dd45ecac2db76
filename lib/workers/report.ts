/** What every workers server shares: summed counters and the reporting of a failed worker. */
import { reportUncaught, type WorkerError } from '../errors.js';
import type { DatagramStats, ServerStats, WorkerOptions } from '../types.js';
import { tcpFields } from './protocol.js';

/** The server's counters: each field the sum over the workers, plus the workers' own. */
export function sumServerStats(workers: ServerStats[]): ServerStats {
  const total: ServerStats = {
    connections: 0, accepted: 0, rejected: 0, timedOut: 0, framesTooLong: 0, proxyRejected: 0, closedWithError: 0, bytesIn: 0, bytesOut: 0,
  };
  for (const worker of workers) {
    for (const field of tcpFields) total[field] += worker[field];
  }
  return { ...total, workers };
}

export function sumDatagramStats(workers: DatagramStats[]): DatagramStats {
  const total: DatagramStats = { datagramsIn: 0, bytesIn: 0, datagramsOut: 0, bytesOut: 0, truncated: 0, sendErrors: 0 };
  for (const worker of workers) {
    total.datagramsIn += worker.datagramsIn;
    total.bytesIn += worker.bytesIn;
    total.datagramsOut += worker.datagramsOut;
    total.bytesOut += worker.bytesOut;
    total.truncated += worker.truncated;
    total.sendErrors += worker.sendErrors;
  }
  return { ...total, workers };
}

/**
 * Tells the user a worker failed: through onWorkerError when given (a throw from it is
 * reported as uncaught), else as an uncaught exception, as Node reports an 'error' event
 * nobody listens to. Never silently.
 */
export function reportWorkerError(error: WorkerError, onWorkerError: WorkerOptions['onWorkerError']): void {
  if (onWorkerError === undefined) {
    reportUncaught(error);
    return;
  }
  try {
    onWorkerError(error);
  } catch (thrown) {
    reportUncaught(thrown);
  }
}
