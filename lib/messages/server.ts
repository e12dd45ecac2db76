/**
 * The JSON action message server: each line is a request for an action, and the action's
 * handler's return value goes back as the answer (docs/messages.md).
 *
 * Lines are cut here, not by the engine's framing: a line over maxMessageSize must still be
 * answered with a TOO_LARGE error before the connection closes, and the engine's maxFrame
 * failure closes the connection with no write allowed (node) or a reset (native). So the
 * connection is raw, LineReader holds at most maxMessageSize + 1 bytes of an unfinished
 * line, and an oversized one gets its error line, our FIN, and a destroy LINGER_MS later if
 * the peer keeps sending.
 */
import { listen, type BackendChoice, type BoundAddress, type CloseOptions, type Connection, type Server } from '../index.js';
import { checkKnown, integerOption } from './options.js';
import type { MessageId } from './id.js';
import { answerLine, errorLine, LineReader, parseRequest } from './wire.js';
import type { WireErrorCode } from './errors.js';

/** What a handler learns about the request besides the message. */
export interface MessageContext {
  /** The client's address. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  /** The connection the request came on (write to it only through answers). */
  readonly connection: Connection;
  /** The request's action. */
  readonly action: string;
  /** The request's id; undefined for a request answered in order. */
  readonly id: MessageId | undefined;
}

/** A handler for one action: its return value (or what its promise resolves to) is the answer. */
export type ActionHandler = (message: any, context: MessageContext) => unknown;

/** One function for every action, as in the write-up: `(action, message, context)`. */
export type ActionsFunction = (action: string, message: any, context: MessageContext) => unknown;

/** A map from action name to its handler, or one function that receives every message. */
export type Actions = Readonly<Record<string, ActionHandler>> | ActionsFunction;

/** Options of serveMessages(). */
export interface MessageServerOptions {
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 65432 (the write-up's). */
  port?: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** The handlers: a map by action name, or one function for all. */
  actions: Actions;
  /** Bytes a request line may have (without its LF); a longer one gets TOO_LARGE and the connection closes. Default 1 MiB. */
  maxMessageSize?: number;
  /** Requests of one connection being handled at once; past it, reading from that connection waits. Default 1024. */
  maxInFlight?: number;
  /** Connections open at once (see listen()). Default 0: no limit. */
  maxConnections?: number;
  /** Milliseconds without traffic before a connection is closed (see listen()). Default 0: never. */
  idleTimeout?: number;
  /** Queued answer bytes before a connection that does not read is failed (see listen()). Default 16 MiB. */
  maxBufferedBytes?: number;
  /** Length of the kernel's accept queue. Default 511. */
  backlog?: number;
  /** For IPv6 hosts: refuse IPv4-mapped peers. Default false. */
  ipv6Only?: boolean;
  /** Told of each handler that threw or rejected (the client gets HANDLER_ERROR either way). */
  onHandlerError?: (error: Error, context: MessageContext) => void;
}

/** Counters of a message server. */
export interface MessageServerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted. */
  accepted: number;
  /** Request lines read (bad ones included). */
  requests: number;
  /** Answers written with `answer`. */
  answers: number;
  /** Answers written with `error` (TOO_LARGE included). */
  errors: number;
  /** Connections closed for a line over maxMessageSize. */
  tooLarge: number;
}

/** A running message server. */
export interface MessageServer extends AsyncDisposable {
  /** The backend serving (what `auto` chose). */
  readonly backend: 'native' | 'node';
  /** Where it is bound; the real port when listening on port 0. */
  address(): BoundAddress;
  /** Connections open now. */
  readonly connections: number;
  /** Counters since serveMessages(). */
  stats(): MessageServerStats;
  /**
   * Stops accepting; each connection is ended once its requests being handled are answered
   * (lines arriving meanwhile are not handled). Resolves when all are closed; with
   * `timeout`, those still open then are destroyed.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** Default maxMessageSize: NATS's max_payload, far below what would strain memory. */
export const DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024;
/** Default maxInFlight: enough for any pipelining client, bounded against one that never reads. */
const DEFAULT_MAX_IN_FLIGHT = 1024;
/** After a TOO_LARGE answer and our FIN, how long a peer that keeps sending is read and ignored before we destroy. */
const LINGER_MS = 1000;
const EMPTY = Buffer.alloc(0);
/** The default port, the write-up's. */
export const DEFAULT_MESSAGE_PORT = 65432;

const knownOptions = new Set([
  'host', 'port', 'backend', 'actions', 'maxMessageSize', 'maxInFlight', 'maxConnections', 'idleTimeout',
  'maxBufferedBytes', 'backlog', 'ipv6Only', 'onHandlerError',
]);

/** A slot for an answer to a request without id: written once those before it are. */
interface OrderedSlot {
  line: string | null;
}

/** Per connection. */
interface Session {
  readonly reader: LineReader;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Requests whose handler has not finished. */
  inFlight: number;
  /** Answers to id-less requests, in request order; the first ones not yet finished hold the rest. */
  ordered: OrderedSlot[];
  /** The last write returned false: reading waits for drain. */
  writeBlocked: boolean;
  paused: boolean;
  /** Answers made while data() runs, written together when it returns; null outside data(). */
  outbox: string | null;
  /** TOO_LARGE was sent or the server is closing: no more lines are handled. */
  stopped: boolean;
  /** The server is closing: end once nothing is in flight. */
  draining: boolean;
  linger: NodeJS.Timeout | undefined;
}

function checkActions(actions: unknown): Actions {
  if (typeof actions === 'function') return actions as ActionsFunction;
  if (typeof actions !== 'object' || actions === null || Array.isArray(actions)) {
    throw new TypeError('options.actions must be a map from action name to handler function, or one function (action, message, context)');
  }
  for (const [name, handler] of Object.entries(actions)) {
    if (typeof handler !== 'function') throw new TypeError(`options.actions.${name} must be a function, got ${typeof handler}`);
  }
  return actions as Actions;
}

/** Starts a JSON action message server (docs/messages.md). */
export async function serveMessages(options: MessageServerOptions): Promise<MessageServer> {
  checkKnown(options, knownOptions, 'serveMessages()');
  const actions = checkActions(options.actions);
  const maxMessageSize = integerOption(options.maxMessageSize, 'maxMessageSize', DEFAULT_MAX_MESSAGE_SIZE, 1, 2 ** 30);
  const maxInFlight = integerOption(options.maxInFlight, 'maxInFlight', DEFAULT_MAX_IN_FLIGHT, 1);
  const onHandlerError = options.onHandlerError;
  if (onHandlerError !== undefined && typeof onHandlerError !== 'function') throw new TypeError('options.onHandlerError must be a function');

  const counters = { requests: 0, answers: 0, errors: 0, tooLarge: 0 };
  const sessions = new Set<Connection<Session>>();
  let closing: Promise<void> | undefined;

  /**
   * Pauses reading while the peer does not read our answers or too many requests are in
   * flight; lines already read wait in the LineReader, and are handled first on resume.
   */
  function updateReading(connection: Connection<Session>, session: Session): void {
    const wait = session.writeBlocked || session.inFlight >= maxInFlight;
    if (wait === session.paused || connection.closed) return;
    session.paused = wait;
    if (wait) {
      connection.pause();
    } else {
      connection.resume();
      if (session.reader.hasUnsplit && !session.stopped) readChunk(connection, session, EMPTY);
    }
  }

  function write(connection: Connection<Session>, session: Session, line: string): void {
    if (connection.closed) return;
    if (session.outbox !== null) {
      session.outbox += line;
      return;
    }
    if (!connection.write(line) && !connection.closed && !session.stopped) {
      session.writeBlocked = true;
      updateReading(connection, session);
    }
  }

  function finish(connection: Connection<Session>, session: Session, slot: OrderedSlot | null, line: string, isError: boolean): void {
    if (isError) counters.errors++;
    else counters.answers++;
    if (slot === null) {
      write(connection, session, line);
    } else {
      slot.line = line;
      const ordered = session.ordered;
      let ready = 0;
      while (ready < ordered.length && ordered[ready]!.line !== null) {
        write(connection, session, ordered[ready]!.line!);
        ready++;
      }
      if (ready > 0) session.ordered = ready === ordered.length ? [] : ordered.slice(ready);
    }
  }

  function failed(connection: Connection<Session>, session: Session, slot: OrderedSlot | null, context: MessageContext, thrown: unknown): void {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    if (onHandlerError !== undefined) {
      try {
        onHandlerError(error, context);
      } catch {
        // A failing reporter must not cost the answer.
      }
    }
    finish(connection, session, slot, errorLine(context.id, 'HANDLER_ERROR', error.message || error.name), true);
  }

  function answered(connection: Connection<Session>, session: Session, slot: OrderedSlot | null, context: MessageContext, value: unknown): void {
    let line: string;
    try {
      line = answerLine(context.id, value);
    } catch (error) {
      return failed(connection, session, slot, context, new Error(`the answer cannot be sent as JSON: ${(error as Error).message}`));
    }
    finish(connection, session, slot, line, false);
  }

  function handleLine(connection: Connection<Session>, session: Session, bytes: Buffer): void {
    counters.requests++;
    const request = parseRequest(bytes);
    const slot: OrderedSlot | null = request.id === undefined ? { line: null } : null;
    if (slot !== null) session.ordered.push(slot);
    if ('problem' in request) {
      return finish(connection, session, slot, errorLine(request.id, 'BAD_MESSAGE', request.problem), true);
    }
    const { id, action, message } = request;
    const context: MessageContext = { remoteAddress: session.remoteAddress, remotePort: session.remotePort, connection, action, id };
    let result: unknown;
    try {
      if (typeof actions === 'function') {
        result = actions(action, message, context);
      } else {
        const handler = Object.hasOwn(actions, action) ? actions[action] : undefined;
        if (handler === undefined) {
          return finish(connection, session, slot, errorLine(id, 'UNKNOWN_ACTION', `no handler for action '${action}'`), true);
        }
        result = handler(message, context);
      }
    } catch (error) {
      return failed(connection, session, slot, context, error);
    }
    if (typeof (result as PromiseLike<unknown> | null)?.then !== 'function') {
      return answered(connection, session, slot, context, result);
    }
    // A slow handler holds only its own answer (and, without an id, those ordered after it).
    session.inFlight++;
    updateReading(connection, session);
    Promise.resolve(result as PromiseLike<unknown>).then(
      (value) => answered(connection, session, slot, context, value),
      (error: unknown) => failed(connection, session, slot, context, error),
    ).finally(() => {
      session.inFlight--;
      if (session.draining && session.inFlight === 0) connection.end();
      else updateReading(connection, session);
    });
  }

  function readChunk(connection: Connection<Session>, session: Session, chunk: Buffer): void {
    // The answers to a chunk's requests leave in one write (one system call on node:net,
    // where each write is one; measured in docs/design.md section 10).
    session.outbox = '';
    let failure: 'too-large' | null;
    try {
      failure = session.reader.push(chunk, (line) => {
        handleLine(connection, session, line);
        return !session.stopped && !connection.closed && !session.paused;
      });
    } finally {
      const answers = session.outbox;
      session.outbox = null;
      if (answers !== '') write(connection, session, answers);
    }
    if (failure === 'too-large' && !connection.closed) tooLarge(connection, session);
  }

  function tooLarge(connection: Connection<Session>, session: Session): void {
    counters.tooLarge++;
    counters.errors++;
    session.stopped = true;
    write(connection, session, errorLine(undefined, 'TOO_LARGE' satisfies WireErrorCode, `a line longer than maxMessageSize (${maxMessageSize} bytes); connection closed`));
    connection.end();
    if (session.paused) connection.resume();
    // Our FIN is out; a peer still sending is read and ignored a moment, so that a reset does not
    // overtake the error line, then cut off.
    session.linger = setTimeout(() => connection.destroy(), LINGER_MS);
    session.linger.unref();
  }

  const server: Server = await listen({
    transport: 'tcp',
    host: options.host,
    port: options.port ?? DEFAULT_MESSAGE_PORT,
    backend: options.backend,
    maxConnections: options.maxConnections,
    idleTimeout: options.idleTimeout,
    maxBufferedBytes: options.maxBufferedBytes,
    backlog: options.backlog,
    ipv6Only: options.ipv6Only,
    handler: {
      open(connection: Connection<Session>) {
        connection.state = {
          reader: new LineReader(maxMessageSize),
          remoteAddress: connection.remoteAddress,
          remotePort: connection.remotePort,
          inFlight: 0,
          ordered: [],
          writeBlocked: false,
          paused: false,
          outbox: null,
          stopped: closing !== undefined,
          draining: false,
          linger: undefined,
        };
        sessions.add(connection);
        if (closing !== undefined) connection.end();
      },
      data(connection: Connection<Session>, chunk: Buffer) {
        const session = connection.state;
        if (!session.stopped) readChunk(connection, session, chunk);
      },
      drain(connection: Connection<Session>) {
        const session = connection.state;
        session.writeBlocked = false;
        updateReading(connection, session);
      },
      error() {
        // A reset or a full queue: close() follows; requests in flight lose their answers.
      },
      close(connection: Connection<Session>) {
        const session = connection.state;
        sessions.delete(connection);
        if (session?.linger !== undefined) clearTimeout(session.linger);
      },
    },
  });

  const messageServer: MessageServer = {
    backend: server.backend,
    address: () => server.address(),
    get connections() {
      return server.connections;
    },
    stats() {
      const { connections, accepted } = server.stats();
      return { connections, accepted, ...counters };
    },
    close(closeOptions?: CloseOptions) {
      if (closing !== undefined) return closing;
      for (const connection of sessions) {
        const session = connection.state;
        session.stopped = true;
        session.draining = true;
        if (session.paused) {
          session.paused = false;
          connection.resume();
        }
        if (session.inFlight === 0) connection.end();
      }
      closing = server.close(closeOptions);
      return closing;
    },
    [Symbol.asyncDispose]() {
      return messageServer.close();
    },
  };
  return messageServer;
}
