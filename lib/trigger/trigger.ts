/**
 * trigger(): a TCP or UDP listener whose client events start workflow runs (seed 000's
 * socket trigger), with a bounded queue that pushes back on TCP clients and counts UDP
 * drops, optional replies, and one stored record per run. Built on the public interface.
 */
import { randomUUID } from 'node:crypto';
import {
  listen,
  SockengineError,
  type BoundAddress,
  type Connection,
  type DatagramSocket,
  type RemoteInfo,
  type Server,
  type TcpHandler,
  type UdpHandler,
  type UdpServer,
} from '../index.js';
import { RunQueue } from './queue.js';
import { openRunStore, type RunStore } from './store.js';
import type { RunRecord, RunSource, Trigger, TriggerEvent, TriggerOptions, TriggerRun, TriggerStats } from './types.js';
import { workflowRunner, type RunWorkflow } from './workflows.js';

/** Runs at once by default: enough to overlap I/O-bound workflows, few enough for a small box. */
export const DEFAULT_CONCURRENCY = 4;
/** Runs waiting by default (NiFi's ListenTCP queues 10,000 messages; runs cost more than messages). */
export const DEFAULT_QUEUE = 1000;
/** How long close() lets queued and running runs finish by default. */
const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** At close, how long open connections may go on before they are closed. */
const CONNECTION_GRACE_MS = 1000;
/** The window of stats().runsPerSecond. */
const RATE_WINDOW_SECONDS = 5;

const TCP_EVENTS: readonly TriggerEvent[] = ['connect', 'data', 'close'];
const KNOWN_OPTIONS = [
  'transport', 'host', 'port', 'backend', 'events', 'framing', 'maxFrame', 'workflow', 'reply', 'store', 'maxRuns',
  'concurrency', 'queue', 'maxConnections',
];
const EMPTY = Buffer.alloc(0);

interface SessionState {
  session: string;
}

/** A run in the queue, with where its reply goes and who waits for its record. */
interface QueuedRun {
  run: TriggerRun;
  connection?: Connection<SessionState>;
  udp?: { socket: DatagramSocket; rinfo: RemoteInfo };
  settle?: (record: RunRecord) => void;
  startedAt?: number;
  /** Set when close() gave up on it: its late result is not recorded again. */
  abandoned?: boolean;
}

function checkCount(value: unknown, name: string, fallback: number, lowest: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < lowest) {
    throw new RangeError(`options.${name} must be a whole number >= ${lowest}, got ${String(value)}`);
  }
  return value;
}

function checkEvents(value: unknown, transport: 'tcp' | 'udp'): Set<TriggerEvent> {
  if (transport === 'udp') {
    if (value !== undefined && !(Array.isArray(value) && value.every((event) => event === 'datagram'))) {
      throw new RangeError(`options.events: a udp trigger runs on each datagram, so events can only be ['datagram'], got ${JSON.stringify(value)}`);
    }
    return new Set(['datagram']);
  }
  if (value === undefined) return new Set(TCP_EVENTS);
  if (!Array.isArray(value) || value.length === 0) throw new TypeError('options.events must be a non-empty array of connect, data, close');
  for (const event of value) {
    if (!TCP_EVENTS.includes(event)) throw new RangeError(`options.events: '${String(event)}' is not a tcp event (connect, data, close)`);
  }
  return new Set(value as TriggerEvent[]);
}

/** The output as the record keeps it: text, bytes as UTF-8, anything else as JSON. */
function outputText(output: unknown): string | null {
  if (output === undefined || output === null) return null;
  if (typeof output === 'string') return output;
  if (output instanceof Uint8Array) return Buffer.from(output.buffer, output.byteOffset, output.byteLength).toString('utf8');
  try {
    return JSON.stringify(output) ?? String(output);
  } catch {
    return String(output);
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Finished runs per second, over the last few whole seconds. */
class RateMeter {
  private readonly counts = new Array<number>(RATE_WINDOW_SECONDS + 1).fill(0);
  private readonly seconds = new Array<number>(RATE_WINDOW_SECONDS + 1).fill(-1);

  add(now: number): void {
    const second = Math.floor(now / 1000);
    const slot = second % this.counts.length;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]!++;
  }

  perSecond(now: number): number {
    const current = Math.floor(now / 1000);
    let total = 0;
    for (let slot = 0; slot < this.counts.length; slot++) {
      const second = this.seconds[slot]!;
      if (second < current && second >= current - RATE_WINDOW_SECONDS) total += this.counts[slot]!;
    }
    return total / RATE_WINDOW_SECONDS;
  }
}

/**
 * Starts a socket trigger; resolves once it listens. Every chosen event of every client
 * becomes a run of `workflow`, queued when `concurrency` runs are busy.
 */
export async function trigger(options: TriggerOptions): Promise<Trigger> {
  if (options === null || typeof options !== 'object') throw new TypeError('trigger() needs an options object');
  const given = options as unknown as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (given[name] !== undefined && !KNOWN_OPTIONS.includes(name)) throw new TypeError(`trigger(): unknown option '${name}'`);
  }
  const transport = given.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'udp') throw new RangeError(`options.transport must be 'tcp' or 'udp', got ${String(transport)}`);
  const events = checkEvents(given.events, transport);
  if (transport === 'udp' && (given.framing !== undefined || given.maxFrame !== undefined || given.maxConnections !== undefined)) {
    throw new RangeError('options.framing, maxFrame and maxConnections apply to tcp triggers only');
  }
  if (given.workflow === undefined) throw new TypeError('options.workflow is required: a function, { exec: COMMAND } or { webhook: URL }');
  const runWorkflow: RunWorkflow = workflowRunner(given.workflow);
  if (given.reply !== undefined && typeof given.reply !== 'boolean') throw new TypeError('options.reply must be true or false');
  const reply = given.reply === true;
  const concurrency = checkCount(given.concurrency, 'concurrency', DEFAULT_CONCURRENCY, 1);
  const queueLimit = checkCount(given.queue, 'queue', DEFAULT_QUEUE, 1);
  const storeOption = given.store ?? false;
  if (storeOption !== false && (typeof storeOption !== 'string' || storeOption === '')) {
    throw new TypeError('options.store must be a file path, ":memory:" or false');
  }
  if (storeOption === false && given.maxRuns !== undefined) throw new RangeError('options.maxRuns applies with options.store');
  const maxRuns = given.maxRuns === undefined ? undefined : checkCount(given.maxRuns, 'maxRuns', 0, 1);
  const framed = given.framing !== undefined;

  // The store first: a missing better-sqlite3 fails before anything listens.
  const store: RunStore | null = storeOption === false ? null : openRunStore(storeOption, maxRuns === undefined ? {} : { maxRuns });
  let nextId = (store?.lastId() ?? 0) + 1;

  const connections = new Set<Connection<SessionState>>();
  const pausedConnections = new Set<Connection<SessionState>>();
  const listeners = new Set<(record: RunRecord) => void>();
  const rate = new RateMeter();
  const inFlight = new Set<QueuedRun>();
  const counters = { received: 0, ok: 0, errors: 0, dropped: 0, storeErrors: 0 };
  let localPort: number | null = null;
  let closing: Promise<void> | undefined;

  const finish = (item: QueuedRun, status: 'ok' | 'error', output: string | null, error: string | null): RunRecord => {
    const { run } = item;
    const record: RunRecord = {
      id: run.id,
      event: run.event,
      source: run.source,
      transport: run.transport,
      remoteAddress: run.remoteAddress,
      remotePort: run.remotePort,
      localPort: run.localPort,
      session: run.session,
      payload: run.payload,
      status,
      output,
      error,
      receivedAt: run.receivedAt,
      startedAt: item.startedAt ?? null,
      finishedAt: Date.now(),
      replayOf: run.replayOf,
    };
    if (status === 'ok') counters.ok++;
    else counters.errors++;
    rate.add(record.finishedAt);
    try {
      store?.add(record);
    } catch (storeError) {
      counters.storeErrors++;
      process.emitWarning(`sockengine trigger: run ${record.id} could not be stored: ${errorText(storeError)}`, {
        code: 'SOCKENGINE_TRIGGER_STORE',
      });
    }
    // After the queue has counted the run as done, so stats() read by the waiter agree.
    const settle = item.settle;
    if (settle) setImmediate(() => settle(record));
    for (const listener of listeners) {
      try {
        listener(record);
      } catch (listenerError) {
        queueMicrotask(() => {
          throw listenerError;
        });
      }
    }
    return record;
  };

  /** Sends the output back to the client; a reason when it could not be sent. */
  const sendReply = (item: QueuedRun, output: unknown): string | null => {
    if (!reply || item.run.source !== 'client' || (item.run.event !== 'data' && item.run.event !== 'datagram')) return null;
    if (typeof output !== 'string' && !(output instanceof Uint8Array)) return null;
    try {
      if (item.connection) {
        if (item.connection.closed) return 'reply not sent: the client had closed the connection';
        if (framed) item.connection.send(output);
        else item.connection.write(output);
      } else if (item.udp && !item.udp.socket.closed) {
        item.udp.socket.send(output, item.udp.rinfo.port, item.udp.rinfo.address);
      }
    } catch (error) {
      return `reply not sent: ${errorText(error)}`;
    }
    return null;
  };

  const execute = async (item: QueuedRun): Promise<void> => {
    item.startedAt = Date.now();
    inFlight.add(item);
    let output: unknown;
    let failure: string | null = null;
    try {
      output = await runWorkflow(item.run);
    } catch (error) {
      failure = errorText(error);
    }
    inFlight.delete(item);
    if (item.abandoned) return;
    if (failure === null) failure = sendReply(item, output);
    finish(item, failure === null ? 'ok' : 'error', outputText(output), failure);
  };

  const queue = new RunQueue<QueuedRun>(concurrency, queueLimit, execute, () => {
    // Room again: read the paused connections. What they send next may fill it again.
    for (const connection of pausedConnections) {
      if (!connection.closed) connection.resume();
    }
    pausedConnections.clear();
  });

  const newRun = (event: TriggerEvent, source: RunSource, payload: Buffer, from: Partial<TriggerRun> = {}): TriggerRun => {
    counters.received++;
    return {
      id: nextId++,
      event,
      source,
      transport,
      remoteAddress: from.remoteAddress ?? null,
      remotePort: from.remotePort ?? null,
      localPort,
      session: from.session ?? null,
      payload,
      replayOf: from.replayOf ?? null,
      receivedAt: Date.now(),
    };
  };

  const submitTcp = (event: TriggerEvent, connection: Connection<SessionState>, payload: Buffer) => {
    const run = newRun(event, 'client', payload, {
      remoteAddress: connection.remoteAddress,
      remotePort: connection.remotePort,
      session: connection.state.session,
    });
    queue.push({ run, connection });
    // Back pressure: the run is taken (nothing read is ever lost), but this connection is
    // not read again until the queue has room.
    if (queue.full && event !== 'close' && !connection.closed && !pausedConnections.has(connection)) {
      connection.pause();
      pausedConnections.add(connection);
    }
  };

  const tcpHandler: TcpHandler<SessionState> = {
    open(connection) {
      connection.state = { session: randomUUID() };
      connections.add(connection);
      if (events.has('connect')) submitTcp('connect', connection, EMPTY);
      else if (queue.full) {
        connection.pause();
        pausedConnections.add(connection);
      }
    },
    data(connection, chunk) {
      if (events.has('data')) submitTcp('data', connection, chunk);
    },
    error() {
      // A reset or timeout: close() follows, and with it the close run.
    },
    close(connection) {
      connections.delete(connection);
      pausedConnections.delete(connection);
      if (events.has('close')) submitTcp('close', connection, EMPTY);
    },
  };

  const udpHandler: UdpHandler = {
    message(socket, data, rinfo) {
      if (queue.full) {
        counters.dropped++;
        return;
      }
      const run = newRun('datagram', 'client', data, { remoteAddress: rinfo.address, remotePort: rinfo.port });
      queue.push({ run, udp: { socket, rinfo } });
    },
  };

  let server: Server | UdpServer;
  try {
    const common = {
      host: given.host as string | undefined,
      port: given.port as number | undefined,
      backend: given.backend as TriggerOptions['backend'],
    };
    server =
      transport === 'udp'
        ? await listen({ transport: 'udp', ...common, handler: udpHandler })
        : await listen({
            transport: 'tcp',
            ...common,
            handler: tcpHandler,
            ...(given.framing === undefined ? {} : { framing: given.framing as TriggerOptions['framing'] }),
            ...(given.maxFrame === undefined ? {} : { maxFrame: given.maxFrame as number }),
            ...(given.maxConnections === undefined ? {} : { maxConnections: given.maxConnections as number }),
          });
  } catch (error) {
    store?.close();
    throw error;
  }
  localPort = server.address().port;

  const simulate = (run: TriggerRun): Promise<RunRecord> => {
    if (closing) return Promise.reject(new SockengineError('ERR_SOCKENGINE_TRIGGER_CLOSED', 'the trigger is closed'));
    return new Promise((settle) => queue.push({ run, settle }));
  };

  const self: Trigger = {
    backend: server.backend,
    transport,
    storePath: store?.path ?? null,
    address(): BoundAddress {
      return server.address();
    },
    stats(): TriggerStats {
      return {
        transport,
        connections: connections.size,
        received: counters.received,
        queued: queue.queued,
        running: queue.running,
        ok: counters.ok,
        errors: counters.errors,
        dropped: counters.dropped,
        paused: pausedConnections.size,
        storeErrors: counters.storeErrors,
        runsPerSecond: rate.perSecond(Date.now()),
      };
    },
    debug(payload, debugOptions = {}) {
      if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
        return Promise.reject(new TypeError('debug(payload): payload must be a string or bytes'));
      }
      const event = debugOptions.event ?? (transport === 'udp' ? 'datagram' : 'data');
      const allowed = transport === 'udp' ? ['datagram'] : TCP_EVENTS;
      if (!allowed.includes(event)) {
        return Promise.reject(new RangeError(`debug(): options.event must be ${allowed.join(', ')} for a ${transport} trigger, got '${String(event)}'`));
      }
      const bytes = event === 'connect' || event === 'close' ? EMPTY : Buffer.from(payload);
      return simulate(newRun(event, 'debug', bytes));
    },
    replay(runId) {
      if (!store) return Promise.reject(new SockengineError('ERR_SOCKENGINE_NO_STORE', 'replay() needs a run store: give options.store'));
      if (closing) return Promise.reject(new SockengineError('ERR_SOCKENGINE_TRIGGER_CLOSED', 'the trigger is closed'));
      const original = store.get(runId);
      if (!original) return Promise.reject(new SockengineError('ERR_SOCKENGINE_RUN_NOT_FOUND', `no stored run with id ${String(runId)}`));
      return simulate(
        newRun(original.event, 'replay', Buffer.from(original.payload), {
          remoteAddress: original.remoteAddress,
          remotePort: original.remotePort,
          replayOf: original.id,
        }),
      );
    },
    runs(listOptions) {
      return store?.list(listOptions) ?? [];
    },
    run(id) {
      return store?.get(id);
    },
    onRun(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close(closeOptions = {}) {
      if (closing) return closing;
      const timeout = checkCount(closeOptions.timeout, 'timeout', DEFAULT_CLOSE_TIMEOUT_MS, 0);
      const deadline = Date.now() + timeout;
      closing = (async () => {
        if (server.transport === 'tcp') await server.close({ timeout: Math.min(CONNECTION_GRACE_MS, timeout) });
        else await server.close();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          queue.idle(),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now())))),
        ]);
        clearTimeout(timer);
        // Whatever is left is recorded, never silently lost.
        for (const item of queue.takeWaiting()) finish(item, 'error', null, 'not run: the trigger closed before the run started');
        for (const item of inFlight) {
          item.abandoned = true;
          finish(item, 'error', null, `not finished: the trigger closed ${timeout} ms after it was asked to`);
        }
        inFlight.clear();
        store?.close();
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return self.close();
    },
  };
  return self;
}
