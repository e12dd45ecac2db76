/**
 * The JSON action message client: one connection to a message server, many requests in
 * flight on it (matched to their answers by id), reconnecting with backoff when it drops.
 *
 * A message waits in a bounded queue while there is no connection. What happens to it is
 * told apart by code: never written (ERR_SOCKENGINE_NOT_CONNECTED: nobody listening, or
 * no connection within connectTimeout or the request's own timeout), written but not
 * answered in time (ERR_SOCKENGINE_MESSAGE_TIMEOUT), written and the connection closed
 * first (ERR_SOCKENGINE_CONNECTION_DROPPED), answered with an error (ERR_SOCKENGINE_REMOTE).
 */
import { Buffer } from 'node:buffer';
import { connect, type BackendChoice, type Connection } from '../index.js';
import {
  ClientClosedError,
  ConnectionDroppedError,
  MessageTimeoutError,
  MessageTooLargeError,
  NotConnectedError,
  RemoteError,
} from './errors.js';
import { checkKnown, integerOption } from './options.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from './server.js';
import { parseAnswer, requestLine } from './wire.js';

/** Options of messageClient(). */
export interface MessageClientOptions {
  /** The server's address or host name. Default `127.0.0.1`. */
  host?: string;
  /** The server's port. */
  port: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** Milliseconds request() waits for its answer, unless it gives its own. Default 10000; 0: no limit. */
  timeout?: number;
  /** Milliseconds a message may wait for a connection before it fails with NOT_CONNECTED. Default 5000. */
  connectTimeout?: number;
  /** Messages that may wait for a connection; one more fails at once with NOT_CONNECTED. Default 1000. */
  maxQueue?: number;
  /** Bytes a request line, and an answer line, may have (without the LF). Default 1 MiB, the server's default. */
  maxMessageSize?: number;
  /** Connect again after a failed attempt or a drop. Default true; false: one connection, then NOT_CONNECTED. */
  reconnect?: boolean;
  /** Milliseconds before the first new attempt; each failed attempt doubles it (with jitter). Default 100. */
  reconnectDelay?: number;
  /** The longest wait between attempts. Default 5000. */
  maxReconnectDelay?: number;
}

/** Options of one request(). */
export interface RequestOptions {
  /** Milliseconds to wait for the answer; 0: no limit. Default: the client's `timeout`. */
  timeout?: number;
}

/** A client of one message server. */
export interface MessageClient extends AsyncDisposable {
  /** Sends in the background: resolves once the request is written; its answer is not awaited. */
  send(action: string, message?: unknown): Promise<void>;
  /** Sends and resolves with the answer; rejects with a typed error (see docs/messages.md). */
  request<Answer = unknown>(action: string, message?: unknown, options?: RequestOptions): Promise<Answer>;
  /** True while a connection is open. */
  readonly connected: boolean;
  /**
   * Stops reconnecting, fails messages still waiting for a connection (CLIENT_CLOSED), waits
   * for the answers to requests already written (or their timeouts), then ends the
   * connection. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** One message on its way: waiting for a connection, then (a request) for its answer. */
interface Outgoing {
  readonly id: number | undefined;
  readonly action: string;
  readonly line: string;
  readonly resolve: (value: any) => void;
  readonly reject: (error: Error) => void;
  /** The request's timeout, in ms; 0: none. */
  readonly timeout: number;
  written: boolean;
  timer: NodeJS.Timeout | undefined;
  connectTimer: NodeJS.Timeout | undefined;
}

const knownOptions = new Set([
  'host', 'port', 'backend', 'timeout', 'connectTimeout', 'maxQueue', 'maxMessageSize', 'reconnect', 'reconnectDelay',
  'maxReconnectDelay',
]);

class Client implements MessageClient {
  readonly #host: string;
  readonly #port: number;
  readonly #backend: BackendChoice;
  readonly #timeout: number;
  readonly #connectTimeout: number;
  readonly #maxQueue: number;
  readonly #maxMessageSize: number;
  readonly #reconnect: boolean;
  readonly #reconnectDelay: number;
  readonly #maxReconnectDelay: number;

  #connection: Connection | null = null;
  #connecting: Promise<void> | null = null;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Failed attempts since the last connection: the backoff's exponent. */
  #failures = 0;
  /** Why the last attempt failed (ECONNREFUSED: nobody listening). */
  #lastError: Error | undefined;
  /** Why the client itself dropped the connection (the server broke the protocol). */
  #protocolError: Error | undefined;
  /** The one connection of a client without reconnect has been used up. */
  #spent = false;
  readonly #queue: Outgoing[] = [];
  readonly #pending = new Map<number, Outgoing>();
  #nextId = 1;
  #closing: Promise<void> | undefined;
  #settled: (() => void) | undefined;
  /** Resolves when the open connection has closed. */
  #connectionClosed: Promise<void> = Promise.resolve();
  #signalClosed: (() => void) | undefined;

  constructor(options: MessageClientOptions) {
    checkKnown(options, knownOptions, 'messageClient()');
    if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) {
      throw new TypeError('options.host must be a non-empty string');
    }
    this.#host = options.host ?? '127.0.0.1';
    if (options.port === undefined) throw new TypeError('options.port is required');
    this.#port = integerOption(options.port, 'port', 0, 1, 65535);
    const backend = options.backend ?? 'auto';
    if (!['auto', 'native', 'node'].includes(backend)) throw new TypeError(`options.backend must be 'auto', 'native' or 'node', got '${String(backend)}'`);
    this.#backend = backend;
    this.#timeout = integerOption(options.timeout, 'timeout', 10_000, 0);
    this.#connectTimeout = integerOption(options.connectTimeout, 'connectTimeout', 5000, 1);
    this.#maxQueue = integerOption(options.maxQueue, 'maxQueue', 1000, 0);
    this.#maxMessageSize = integerOption(options.maxMessageSize, 'maxMessageSize', DEFAULT_MAX_MESSAGE_SIZE, 1, 2 ** 30);
    if (options.reconnect !== undefined && typeof options.reconnect !== 'boolean') throw new TypeError('options.reconnect must be a boolean');
    this.#reconnect = options.reconnect ?? true;
    this.#reconnectDelay = integerOption(options.reconnectDelay, 'reconnectDelay', 100, 1);
    this.#maxReconnectDelay = integerOption(options.maxReconnectDelay, 'maxReconnectDelay', 5000, 1);
    this.#startConnecting();
  }

  get connected(): boolean {
    return this.#connection !== null;
  }

  send(action: string, message?: unknown): Promise<void> {
    return this.#submit(action, message, false, 0) as Promise<void>;
  }

  request<Answer = unknown>(action: string, message?: unknown, options: RequestOptions = {}): Promise<Answer> {
    if (typeof options !== 'object' || options === null) return Promise.reject(new TypeError('request() options must be an object'));
    let timeout: number;
    try {
      timeout = integerOption(options.timeout, 'timeout', this.#timeout, 0);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#submit(action, message, true, timeout) as Promise<Answer>;
  }

  #submit(action: string, message: unknown, wantsAnswer: boolean, timeout: number): Promise<unknown> {
    if (this.#closing !== undefined) return Promise.reject(new ClientClosedError());
    if (typeof action !== 'string' || action === '') return Promise.reject(new TypeError('action must be a non-empty string'));
    const id = wantsAnswer ? this.#nextId++ : undefined;
    let line: string;
    try {
      line = requestLine(id, action, message === undefined ? null : message);
    } catch (error) {
      return Promise.reject(new TypeError(`the message cannot be sent as JSON: ${(error as Error).message}`));
    }
    const size = Buffer.byteLength(line) - 1;
    if (size > this.#maxMessageSize) return Promise.reject(new MessageTooLargeError(size, this.#maxMessageSize));
    return new Promise((resolve, reject) => {
      const outgoing: Outgoing = { id, action, line, resolve, reject, timeout, written: false, timer: undefined, connectTimer: undefined };
      if (timeout > 0) outgoing.timer = setTimeout(() => this.#timedOut(outgoing), timeout);
      if (this.#connection !== null) return this.#write(outgoing);
      if (this.#spent && this.#connecting === null) {
        return this.#fail(outgoing, new NotConnectedError(`no connection to ${this.#where()} (reconnect is off)`, this.#lastError));
      }
      if (this.#queue.length >= this.#maxQueue) {
        return this.#fail(outgoing, new NotConnectedError(`not connected to ${this.#where()} and ${this.#maxQueue} messages already wait (maxQueue)`, this.#lastError));
      }
      outgoing.connectTimer = setTimeout(() => {
        this.#unqueue(outgoing);
        this.#fail(outgoing, new NotConnectedError(`no connection to ${this.#where()} within ${this.#connectTimeout} ms (connectTimeout)`, this.#lastError));
      }, this.#connectTimeout);
      this.#queue.push(outgoing);
      // A message waits for the next attempt: that timer must keep the process alive now.
      this.#reconnectTimer?.ref();
    });
  }

  #where(): string {
    return this.#host.includes(':') ? `[${this.#host}]:${this.#port}` : `${this.#host}:${this.#port}`;
  }

  #write(outgoing: Outgoing): void {
    clearTimeout(outgoing.connectTimer);
    outgoing.connectTimer = undefined;
    outgoing.written = true;
    if (outgoing.id !== undefined) this.#pending.set(outgoing.id, outgoing);
    // write() returning false is back pressure, not failure: the engine queues the rest
    // (up to maxBufferedBytes), and a failure closes the connection, which rejects what waits.
    this.#connection!.write(outgoing.line);
    if (outgoing.id === undefined) this.#settle(outgoing, undefined, undefined);
  }

  /** Ends one message's life: clears its timers and resolves or rejects it. */
  #settle(outgoing: Outgoing, error: Error | undefined, value: unknown): void {
    clearTimeout(outgoing.timer);
    clearTimeout(outgoing.connectTimer);
    if (outgoing.id !== undefined) this.#pending.delete(outgoing.id);
    if (error === undefined) outgoing.resolve(value);
    else outgoing.reject(error);
    if (this.#pending.size === 0) this.#settled?.();
  }

  #fail(outgoing: Outgoing, error: Error): void {
    this.#settle(outgoing, error, undefined);
  }

  #unqueue(outgoing: Outgoing): void {
    const at = this.#queue.indexOf(outgoing);
    if (at !== -1) this.#queue.splice(at, 1);
  }

  #timedOut(outgoing: Outgoing): void {
    if (outgoing.written) {
      this.#fail(outgoing, new MessageTimeoutError(outgoing.action, outgoing.timeout));
    } else {
      // Never written: the server never had it, so this is not the server's slowness.
      this.#unqueue(outgoing);
      this.#fail(outgoing, new NotConnectedError(`no connection to ${this.#where()} within the request's timeout (${outgoing.timeout} ms)`, this.#lastError));
    }
  }

  #startConnecting(): void {
    if (this.#connecting !== null || this.#connection !== null || this.#closing !== undefined) return;
    this.#connecting = this.#attempt().finally(() => {
      this.#connecting = null;
    });
  }

  async #attempt(): Promise<void> {
    let dropCause: Error | undefined;
    let connection: Connection;
    try {
      connection = await connect({
        host: this.#host,
        port: this.#port,
        backend: this.#backend,
        framing: 'line',
        maxFrame: this.#maxMessageSize,
        handler: {
          data: (_connection, line) => this.#answer(line),
          error: (_connection, error) => {
            dropCause = error;
          },
          close: (closed, error) => this.#dropped(closed, error ?? dropCause),
        },
      });
    } catch (error) {
      this.#lastError = error as Error;
      this.#failures++;
      if (!this.#reconnect) {
        this.#spent = true;
        this.#failQueue(() => new NotConnectedError(`cannot connect to ${this.#where()}`, this.#lastError));
      } else {
        this.#scheduleReconnect();
      }
      return;
    }
    if (connection.closed) return; // closed already: its close() did the rest
    this.#connectionClosed = new Promise((done) => (this.#signalClosed = done));
    if (this.#closing !== undefined) {
      connection.end();
      return;
    }
    this.#connection = connection;
    this.#failures = 0;
    this.#lastError = undefined;
    if (!this.#reconnect) this.#spent = true;
    const waiting = this.#queue.splice(0);
    for (const outgoing of waiting) {
      if (this.#connection === null) {
        this.#queue.push(outgoing);
      } else {
        this.#write(outgoing);
      }
    }
  }

  #scheduleReconnect(): void {
    if (this.#closing !== undefined || this.#reconnectTimer !== undefined) return;
    // Exponential backoff with jitter: a restarted server is not hit by every client at once.
    const ceiling = Math.min(this.#maxReconnectDelay, this.#reconnectDelay * 2 ** Math.min(this.#failures, 30));
    const delay = Math.round(ceiling * (0.5 + Math.random() * 0.5));
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#startConnecting();
    }, delay);
    // An idle client waiting to reconnect does not keep the process alive on its own.
    if (this.#queue.length === 0) this.#reconnectTimer.unref();
  }

  #answer(line: Buffer): void {
    const answer = parseAnswer(line);
    if (answer === null) {
      // Not this protocol: nothing after it can be trusted either.
      this.#protocolError = new Error(`the server sent a line that is not an answer: ${JSON.stringify(line.subarray(0, 80).toString())}`);
      this.#connection?.destroy();
      return;
    }
    if (typeof answer.id !== 'number') {
      // TOO_LARGE has no id (the line was not read) and the server is closing: none of the
      // requests in flight will be answered, and one of them caused it.
      if (!answer.ok && answer.code === 'TOO_LARGE') {
        for (const outgoing of [...this.#pending.values()]) this.#fail(outgoing, new RemoteError(answer.code, answer.message));
      }
      // Other answers without an id belong to send(): read and dropped.
      return;
    }
    const outgoing = this.#pending.get(answer.id);
    if (outgoing === undefined) return; // timed out already
    if (answer.ok) this.#settle(outgoing, undefined, answer.answer);
    else this.#settle(outgoing, new RemoteError(answer.code, answer.message), undefined);
  }

  #dropped(connection: Connection, closeError: Error | undefined): void {
    const cause = closeError ?? this.#protocolError;
    this.#protocolError = undefined;
    if (this.#connection === connection) this.#connection = null;
    this.#signalClosed?.();
    for (const outgoing of [...this.#pending.values()]) this.#fail(outgoing, new ConnectionDroppedError(outgoing.action, cause));
    if (this.#closing !== undefined) return;
    if (this.#reconnect) {
      this.#lastError = cause;
      this.#scheduleReconnect();
    } else {
      this.#failQueue(() => new NotConnectedError(`the connection to ${this.#where()} closed (reconnect is off)`, cause));
    }
  }

  #failQueue(error: () => Error): void {
    for (const outgoing of this.#queue.splice(0)) this.#fail(outgoing, error());
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#failQueue(() => new ClientClosedError());
    this.#closing = (async () => {
      if (this.#pending.size > 0) await new Promise<void>((done) => (this.#settled = done));
      await this.#connecting;
      this.#connection?.end();
      await this.#connectionClosed;
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A client of one message server; it starts connecting at once (docs/messages.md). */
export function messageClient(options: MessageClientOptions): MessageClient {
  return new Client(options);
}
