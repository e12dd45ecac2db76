/** The socket trigger's types: options, runs, records and counters. */
import type { NodeBuffer } from '../types.js';
import type { BackendChoice, BoundAddress, FramingOption, Backend } from '../index.js';

/** What starts a run: a TCP client's `connect`, `data` or `close`, or a UDP `datagram`. */
export type TriggerEvent = 'connect' | 'data' | 'close' | 'datagram';

/** Where a run's input came from: a real client, debug(), or replay() of a stored run. */
export type RunSource = 'client' | 'debug' | 'replay';

/** What a workflow gets: one event and who caused it. */
export interface TriggerRun {
  /** The run's number, unique in its store (runs are numbered after the stored ones). */
  readonly id: number;
  readonly event: TriggerEvent;
  readonly source: RunSource;
  readonly transport: 'tcp' | 'udp';
  /** The client's address; null for debug runs. */
  readonly remoteAddress: string | null;
  /** The client's port; null for debug runs. */
  readonly remotePort: number | null;
  /** The trigger's own port. */
  readonly localPort: number | null;
  /** Shared by the runs of one TCP connection; null for UDP, debug and replay runs. */
  readonly session: string | null;
  /** The bytes received (one read, one frame with `framing`, or one datagram); empty for connect and close. */
  readonly payload: NodeBuffer;
  /** For a replay: the id of the run whose payload it replays; null otherwise. */
  readonly replayOf: number | null;
  /** When the event arrived, ms since the epoch. */
  readonly receivedAt: number;
}

/**
 * A workflow: a function of the run (its return value, awaited, is the output); or
 * `{ exec }`, a shell command that reads the run as JSON on stdin and whose stdout is the
 * output; or `{ webhook }`, a URL the run is POSTed to as JSON, the response body being the
 * output. `timeout` (ms, default 30,000) bounds exec and webhook runs.
 */
export type Workflow =
  | ((run: TriggerRun) => unknown)
  | { exec: string; timeout?: number }
  | { webhook: string; timeout?: number };

/** Options of trigger(). */
export interface TriggerOptions {
  /** `tcp` (default) or `udp`. */
  transport?: 'tcp' | 'udp';
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 48763. */
  port?: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** TCP: which events start runs, any of `connect`, `data`, `close`. Default all three. UDP: `datagram` only. */
  events?: readonly TriggerEvent[];
  /** TCP: one data run per frame instead of per read (see listen()'s framing). */
  framing?: FramingOption;
  /** TCP with framing: the largest frame (listen()'s maxFrame). */
  maxFrame?: number;
  /** What each run does. */
  workflow: Workflow;
  /**
   * Send a data or datagram run's output back to its client when it is a string or bytes
   * (TCP: on its connection, as one frame with `framing`; UDP: to the sender). Default false.
   */
  reply?: boolean;
  /**
   * The SQLite file that keeps one record per run (`:memory:` for one in memory), or false
   * for no records (replay() is then unavailable). Needs better-sqlite3. Default false.
   */
  store?: string | false;
  /** Records kept in the store; older ones are deleted. Default 10,000. */
  maxRuns?: number;
  /** Runs at once. Default 4. */
  concurrency?: number;
  /**
   * Runs waiting at most. When full, TCP connections stop being read until there is room;
   * UDP datagrams are dropped and counted in stats().dropped. Default 1,000.
   */
  queue?: number;
  /** TCP: connections open at once (listen()'s maxConnections). Default 0: no limit. */
  maxConnections?: number;
}

/** One finished run as the store keeps it. */
export interface RunRecord {
  id: number;
  event: TriggerEvent;
  source: RunSource;
  transport: 'tcp' | 'udp';
  remoteAddress: string | null;
  remotePort: number | null;
  localPort: number | null;
  session: string | null;
  payload: NodeBuffer;
  /** `ok`, or `error` when the workflow threw, exited non-zero, answered non-2xx or was not run. */
  status: 'ok' | 'error';
  /** The output as text (bytes as UTF-8, other values as JSON); null when there was none. */
  output: string | null;
  /** Why the run failed; null when it did not. */
  error: string | null;
  /** ms since the epoch. */
  receivedAt: number;
  /** null when the run never started (the trigger closed first). */
  startedAt: number | null;
  finishedAt: number;
  replayOf: number | null;
}

/** Counters of a trigger. */
export interface TriggerStats {
  transport: 'tcp' | 'udp';
  /** TCP connections open now. */
  connections: number;
  /** Events that became runs (debug and replay included). */
  received: number;
  /** Runs waiting for a slot now. */
  queued: number;
  /** Runs running now. */
  running: number;
  /** Runs finished with status ok. */
  ok: number;
  /** Runs finished with status error. */
  errors: number;
  /** UDP datagrams dropped because the queue was full. */
  dropped: number;
  /** TCP connections not being read now because the queue is full. */
  paused: number;
  /** Records the store failed to write (each also a process warning). */
  storeErrors: number;
  /** Runs finished per second over the last 5 seconds. */
  runsPerSecond: number;
}

/** A listening trigger. */
export interface Trigger extends AsyncDisposable {
  readonly backend: Backend;
  readonly transport: 'tcp' | 'udp';
  /** The store's file, or null without one. */
  readonly storePath: string | null;
  address(): BoundAddress;
  stats(): TriggerStats;
  /** Runs the workflow once with `payload` as a simulated client event (source `debug`); resolves with its record. */
  debug(payload: Uint8Array | string, options?: { event?: TriggerEvent }): Promise<RunRecord>;
  /** Runs the workflow again with a stored run's event and payload (source `replay`); resolves with the new record. */
  replay(runId: number): Promise<RunRecord>;
  /** Stored runs, newest first (`limit` of them, ids below `before`). Empty without a store. */
  runs(options?: { limit?: number; before?: number }): RunRecord[];
  /** One stored run. */
  run(id: number): RunRecord | undefined;
  /** Calls `listener` with each finished run's record; returns a function that stops it. */
  onRun(listener: (record: RunRecord) => void): () => void;
  /**
   * Stops listening, lets queued and running runs finish for up to `timeout` ms (default
   * 10,000), records the runs that could not start as errors, and closes the store.
   */
  close(options?: { timeout?: number }): Promise<void>;
}
