/**
 * The run store: one SQLite row per finished run (better-sqlite3, WAL mode), kept to the
 * newest `maxRuns` rows. better-sqlite3 is an optional peer dependency, loaded only when a
 * store is opened, so `import 'sockengine'` never loads SQLite.
 *
 * Writes are batched: add() queues the row and one transaction writes everything queued at
 * the end of the current turn of the event loop (or as soon as WRITE_BATCH rows wait). One
 * transaction per run costs a commit each (docs/design.md §11 has the measurement); a batch
 * pays for one commit and the retention delete once.
 */
import { createRequire } from 'node:module';
import { SockengineError } from '../index.js';
import type { RunRecord, RunSource, TriggerEvent } from './types.js';

/** Rows written in one transaction at most; more waiting triggers an early flush. */
const WRITE_BATCH = 512;
/** Runs kept when maxRuns is not given: about 10,000 small payloads is a few MB. */
export const DEFAULT_MAX_RUNS = 10_000;

/** better-sqlite3 is missing: the message says how to install it. */
export class SqliteMissingError extends SockengineError {
  constructor(cause: string) {
    super(
      'ERR_SOCKENGINE_SQLITE_MISSING',
      `the run store needs better-sqlite3, an optional peer dependency: run \`npm install better-sqlite3\` (${cause})`,
    );
  }
}

// Only the parts of better-sqlite3 the store uses, so its types are not needed at run time.
interface Statement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Database {
  pragma(source: string): unknown;
  exec(source: string): unknown;
  prepare(source: string): Statement;
  transaction<T extends (...args: never[]) => unknown>(fn: T): T;
  close(): void;
}
type DatabaseConstructor = new (path: string, options?: { readonly?: boolean; fileMustExist?: boolean }) => Database;

let sqlite: DatabaseConstructor | undefined;

/** Loads better-sqlite3 on first use. */
function loadSqlite(): DatabaseConstructor {
  if (sqlite) return sqlite;
  const require = createRequire(import.meta.url);
  try {
    sqlite = require('better-sqlite3') as DatabaseConstructor;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') throw new SqliteMissingError('it is not installed');
    throw new SqliteMissingError(`it failed to load: ${e.message.split('\n')[0]}`);
  }
  return sqlite;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY,
  event TEXT NOT NULL,
  source TEXT NOT NULL,
  transport TEXT NOT NULL,
  remote_address TEXT,
  remote_port INTEGER,
  local_port INTEGER,
  session TEXT,
  payload BLOB NOT NULL,
  status TEXT NOT NULL,
  output TEXT,
  error TEXT,
  received_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER NOT NULL,
  replay_of INTEGER
)`;

interface Row {
  id: number;
  event: TriggerEvent;
  source: RunSource;
  transport: 'tcp' | 'udp';
  remote_address: string | null;
  remote_port: number | null;
  local_port: number | null;
  session: string | null;
  payload: Buffer;
  status: 'ok' | 'error';
  output: string | null;
  error: string | null;
  received_at: number;
  started_at: number | null;
  finished_at: number;
  replay_of: number | null;
}

function toRecord(row: Row): RunRecord {
  return {
    id: row.id,
    event: row.event,
    source: row.source,
    transport: row.transport,
    remoteAddress: row.remote_address,
    remotePort: row.remote_port,
    localPort: row.local_port,
    session: row.session,
    payload: row.payload,
    status: row.status,
    output: row.output,
    error: row.error,
    receivedAt: row.received_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    replayOf: row.replay_of,
  };
}

/** Options of openRunStore(). */
export interface RunStoreOptions {
  /** Rows kept; older ones are deleted as new ones come. Default 10,000. */
  maxRuns?: number;
  /** Open an existing file for reading only (the `runs` command). Default false. */
  readonly?: boolean;
}

/** Execution records in one SQLite file. */
export class RunStore {
  /** The file (or `:memory:`). */
  readonly path: string;
  /** Rows kept at most. */
  readonly maxRuns: number;
  private readonly db: Database;
  private readonly insert: Statement | undefined;
  private readonly trim: Statement | undefined;
  private readonly byId: Statement;
  private readonly newest: Statement;
  private readonly older: Statement;
  private readonly counting: Statement;
  private pending: RunRecord[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly writeBatch: () => void;

  constructor(path: string, options: RunStoreOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('store must be a file path or ":memory:"');
    const maxRuns = options.maxRuns ?? DEFAULT_MAX_RUNS;
    if (!Number.isSafeInteger(maxRuns) || maxRuns < 1) throw new RangeError(`options.maxRuns must be a whole number >= 1, got ${String(maxRuns)}`);
    this.path = path;
    this.maxRuns = maxRuns;
    const Sqlite = loadSqlite();
    const readonly = options.readonly === true;
    try {
      this.db = readonly ? new Sqlite(path, { readonly: true, fileMustExist: true }) : new Sqlite(path);
    } catch (error) {
      const e = error as Error & { code?: string };
      throw new SockengineError('ERR_SOCKENGINE_STORE', `cannot open the run store ${path}: ${e.message}`);
    }
    try {
      if (!readonly) {
        // WAL: readers (the runs command, the page) never block the writer, and a commit
        // appends to the log instead of rewriting pages. NORMAL sync is durable across a
        // process crash (WAL's own guarantee); only a power cut can lose the last commits.
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
        this.db.exec(SCHEMA);
        this.insert = this.db.prepare(
          `INSERT INTO runs (id, event, source, transport, remote_address, remote_port, local_port, session, payload,
             status, output, error, received_at, started_at, finished_at, replay_of)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        // Keeps the newest maxRuns ids: everything below the maxRuns-th newest goes.
        this.trim = this.db.prepare('DELETE FROM runs WHERE id < (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?)');
      } else {
        this.db.prepare('SELECT 1 FROM runs LIMIT 1').get();
      }
    } catch (error) {
      this.db.close();
      throw new SockengineError('ERR_SOCKENGINE_STORE', `${path} is not a sockengine run store: ${(error as Error).message}`);
    }
    this.byId = this.db.prepare('SELECT * FROM runs WHERE id = ?');
    this.newest = this.db.prepare('SELECT * FROM runs ORDER BY id DESC LIMIT ?');
    this.older = this.db.prepare('SELECT * FROM runs WHERE id < ? ORDER BY id DESC LIMIT ?');
    this.counting = this.db.prepare('SELECT count(*) AS n, max(id) AS last FROM runs');
    this.writeBatch = this.db.transaction(() => {
      const batch = this.pending;
      this.pending = [];
      // Positional parameters: 64k rows/s against 45k binding by name (in memory, medians of
      // 5 rounds; docs/design.md §11).
      for (const r of batch) {
        this.insert!.run(r.id, r.event, r.source, r.transport, r.remoteAddress, r.remotePort, r.localPort, r.session,
          r.payload, r.status, r.output, r.error, r.receivedAt, r.startedAt, r.finishedAt, r.replayOf);
      }
      this.trim!.run(this.maxRuns - 1);
    });
  }

  /** The largest id stored (0 when empty): the trigger numbers new runs after it. */
  lastId(): number {
    this.flush();
    return ((this.counting.get() as { last: number | null }).last ?? 0);
  }

  /** Rows stored now. */
  count(): number {
    this.flush();
    return (this.counting.get() as { n: number }).n;
  }

  /** Queues a finished run; it is written with the others of this turn of the event loop. */
  add(record: RunRecord): void {
    if (this.closed) throw new SockengineError('ERR_SOCKENGINE_STORE_CLOSED', 'the run store is closed');
    this.pending.push(record);
    if (this.pending.length >= WRITE_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        if (!this.closed) this.flush();
      });
    }
  }

  /** Writes what add() queued, now. */
  flush(): void {
    if (this.pending.length > 0) this.writeBatch();
  }

  /** One run, or undefined when it is not (or no longer) stored. */
  get(id: number): RunRecord | undefined {
    this.flush();
    const row = this.byId.get(id) as Row | undefined;
    return row && toRecord(row);
  }

  /** The newest `limit` runs (all when left out) with ids below `before`, newest first. */
  list(options: { limit?: number; before?: number } = {}): RunRecord[] {
    this.flush();
    const limit = options.limit ?? -1; // SQLite: a negative LIMIT means none
    const rows = (options.before === undefined ? this.newest.all(limit) : this.older.all(options.before, limit)) as Row[];
    return rows.map(toRecord);
  }

  /** Writes what is queued and closes the file. Calling it again does nothing. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.db.close();
  }
}

/** Opens (creating when needed) a run store; loads better-sqlite3 on the first call. */
export function openRunStore(path: string, options: RunStoreOptions = {}): RunStore {
  return new RunStore(path, options);
}
