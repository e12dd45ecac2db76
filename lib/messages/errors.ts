/**
 * The errors of the JSON action messages, each with a stable `code`. The server's answers
 * carry their own short codes on the wire (UNKNOWN_ACTION, BAD_MESSAGE, HANDLER_ERROR,
 * TOO_LARGE); a client turns one into a RemoteError that keeps it as `remoteCode`.
 */
import { SockengineError } from '../index.js';

/** The codes a server puts in an answer's `error.code`. */
export type WireErrorCode = 'UNKNOWN_ACTION' | 'BAD_MESSAGE' | 'HANDLER_ERROR' | 'TOO_LARGE';

/** A request got no answer within its timeout (it was written to a live connection). */
export class MessageTimeoutError extends SockengineError {
  /** The timeout that passed, in milliseconds. */
  readonly timeout: number;
  /** The action of the request. */
  readonly action: string;

  constructor(action: string, timeout: number) {
    super('ERR_SOCKENGINE_MESSAGE_TIMEOUT', `no answer to '${action}' within ${timeout} ms`);
    this.action = action;
    this.timeout = timeout;
  }
}

/**
 * A message could not be written because there was no connection: nobody listening
 * (`cause` is the ECONNREFUSED of the last attempt), no connection made within
 * `connectTimeout`, the queue while connecting was full, or reconnect is off and the one
 * connection failed.
 */
export class NotConnectedError extends SockengineError {
  constructor(reason: string, cause?: Error) {
    super('ERR_SOCKENGINE_NOT_CONNECTED', cause === undefined ? reason : `${reason} (last error: ${cause.message})`);
    if (cause !== undefined) this.cause = cause;
  }
}

/** The server answered with an error: `remoteCode` is its code (UNKNOWN_ACTION, ...). */
export class RemoteError extends SockengineError {
  /** The server's code: UNKNOWN_ACTION, BAD_MESSAGE, HANDLER_ERROR or TOO_LARGE (or another server's own). */
  readonly remoteCode: string;
  /** The server's message. */
  readonly remoteMessage: string;

  constructor(remoteCode: string, remoteMessage: string) {
    super('ERR_SOCKENGINE_REMOTE', `the server answered ${remoteCode}: ${remoteMessage}`);
    this.remoteCode = remoteCode;
    this.remoteMessage = remoteMessage;
  }
}

/**
 * The connection closed while a request was waiting for its answer. The server may or may
 * not have handled it. `cause` is what closed it, when known.
 */
export class ConnectionDroppedError extends SockengineError {
  constructor(action: string, cause?: Error) {
    super(
      'ERR_SOCKENGINE_CONNECTION_DROPPED',
      `the connection closed before '${action}' was answered${cause === undefined ? '' : ` (${cause.message})`}`,
    );
    if (cause !== undefined) this.cause = cause;
  }
}

/** send() or request() after close(), or a message still queued when close() was called. */
export class ClientClosedError extends SockengineError {
  constructor() {
    super('ERR_SOCKENGINE_CLIENT_CLOSED', 'the message client is closed');
  }
}

/** A request whose line would be longer than the client's maxMessageSize: not sent. */
export class MessageTooLargeError extends SockengineError {
  /** The limit, in bytes. */
  readonly maxMessageSize: number;

  constructor(size: number, maxMessageSize: number) {
    super('ERR_SOCKENGINE_MESSAGE_TOO_LARGE', `the request is ${size} bytes as a line, more than maxMessageSize (${maxMessageSize}); not sent`);
    this.maxMessageSize = maxMessageSize;
  }
}

/** A message config file is wrong: `key` is the path of the bad key, `file` the file. */
export class MessageConfigError extends SockengineError {
  /** The key that is wrong or missing, as a dotted path (`Socket_connection.Host.Port`). */
  readonly key: string;
  /** The config file. */
  readonly file: string;

  constructor(file: string, key: string, problem: string) {
    super('ERR_SOCKENGINE_MESSAGE_CONFIG', `${file}: ${key} ${problem}`);
    this.key = key;
    this.file = file;
  }
}
