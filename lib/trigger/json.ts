/** A run record as JSON: what `sockengine runs --json` prints and the page's endpoints send. */
import type { RunRecord } from './types.js';

/** The JSON shape of one record; times are ISO 8601 strings (UTC, ms). */
export interface RunRecordJson {
  id: number;
  event: RunRecord['event'];
  source: RunRecord['source'];
  transport: RunRecord['transport'];
  remoteAddress: string | null;
  remotePort: number | null;
  localPort: number | null;
  session: string | null;
  /** The payload as UTF-8, invalid bytes replaced by U+FFFD. */
  payloadText: string;
  /** The payload's exact bytes. */
  payloadBase64: string;
  payloadBytes: number;
  status: RunRecord['status'];
  output: string | null;
  error: string | null;
  receivedAt: string;
  startedAt: string | null;
  finishedAt: string;
  /** From start to finish; null when the run never started. */
  durationMs: number | null;
  replayOf: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function recordJson(record: RunRecord): RunRecordJson {
  return {
    id: record.id,
    event: record.event,
    source: record.source,
    transport: record.transport,
    remoteAddress: record.remoteAddress,
    remotePort: record.remotePort,
    localPort: record.localPort,
    session: record.session,
    payloadText: record.payload.toString('utf8'),
    payloadBase64: record.payload.toString('base64'),
    payloadBytes: record.payload.length,
    status: record.status,
    output: record.output,
    error: record.error,
    receivedAt: iso(record.receivedAt),
    startedAt: record.startedAt === null ? null : iso(record.startedAt),
    finishedAt: iso(record.finishedAt),
    durationMs: record.startedAt === null ? null : record.finishedAt - record.startedAt,
    replayOf: record.replayOf,
  };
}
