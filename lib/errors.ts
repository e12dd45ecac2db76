/**
 * Errors with stable codes: one base class, one subclass per failure. System errors keep
 * what the OS said: `code` (e.g. `EADDRINUSE`), `errno` (negative, as in Node) and
 * `syscall`. Both backends report the same failure with the same class, code, errno and
 * syscall.
 */
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

/** The base of every error sockengine makes; `code` is stable across releases. */
export class SockengineError extends Error {
  /** A stable identifier: an OS name such as `ECONNRESET`, or `ERR_SOCKENGINE_...`. */
  readonly code: string;
  /**
   * The negative errno, on errors the OS reported (SystemError) and on IdleTimeoutError
   * (ETIMEDOUT); undefined on the others. Declared here so a handler can read `err.errno`
   * and `err.syscall` without narrowing first.
   */
  declare readonly errno?: number;
  /** The call that failed, on a SystemError (`read`, `connect`...); undefined on the others. */
  declare readonly syscall?: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Where a system error happened, beyond its errno and syscall. */
export interface SystemErrorDetails {
  /** The name Node gave it, when it is not the errno's own (DNS errors: `ENOTFOUND`). */
  code?: string;
  /** The host name that failed to resolve. */
  hostname?: string;
}

/** An error from the operating system, shaped like Node's own system errors. */
export class SystemError extends SockengineError {
  /** The negative errno, e.g. -104. */
  override readonly errno: number;
  /** The call that failed, e.g. `bind`, `read`, `connect`, `getaddrinfo`. */
  override readonly syscall: string;
  /** The address involved, when there is one. */
  readonly address?: string;
  /** The port involved, when there is one. */
  readonly port?: number;
  /** The host name that failed to resolve (getaddrinfo errors). */
  readonly hostname?: string;

  constructor(errno: number, syscall: string, address?: string, port?: number, details: SystemErrorDetails = {}) {
    const code = details.code ?? errorName(errno);
    const description = getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
    const target = details.hostname ?? address;
    const where = target === undefined ? '' : port === undefined ? ` ${target}` : ` ${target}:${port}`;
    super(code, `${syscall} ${code}: ${description}${where}`);
    this.errno = errno;
    this.syscall = syscall;
    if (address !== undefined) this.address = address;
    if (port !== undefined) this.port = port;
    if (details.hostname !== undefined) this.hostname = details.hostname;
  }
}

function errorName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `E${-errno}`;
  }
}

const ETIMEDOUT = -110;

/**
 * A connection had no traffic in either direction for `idleTimeout` ms and was closed.
 * Its code is `ETIMEDOUT` (and errno -110), what a user checking for timeouts already
 * looks for.
 */
export class IdleTimeoutError extends SockengineError {
  override readonly errno = ETIMEDOUT;
  /** The idle timeout that passed, in milliseconds. */
  readonly timeout: number;

  constructor(timeout: number) {
    super('ETIMEDOUT', `connection idle for ${timeout} ms (idleTimeout), closed`);
    this.timeout = timeout;
  }
}

/** A write would have queued more than the connection's `maxBufferedBytes`. */
export class BufferFullError extends SockengineError {
  /** The limit that was passed, in bytes. */
  readonly limit: number;

  constructor(limit: number) {
    super(
      'ERR_SOCKENGINE_BUFFER_FULL',
      `write would queue more than maxBufferedBytes (${limit} bytes): the peer is not reading; connection closed`,
    );
    this.limit = limit;
  }
}

/** A frame grew past `maxFrame`: the connection is closed as soon as that is certain. */
export class FrameTooLongError extends SockengineError {
  /** The limit that was passed, in bytes. */
  readonly maxFrame: number;

  constructor(maxFrame: number) {
    super('ERR_SOCKENGINE_FRAME_TOO_LONG', `a frame grew past maxFrame (${maxFrame} bytes); connection closed`);
    this.maxFrame = maxFrame;
  }
}

/** A length header gave a negative payload length (after lengthAdjustment). */
export class FrameLengthError extends SockengineError {
  constructor() {
    super('ERR_SOCKENGINE_FRAME_LENGTH', 'a length header gave a negative payload length; connection closed');
  }
}

/** Thrown when the native backend is asked for but the addon cannot be loaded. */
export class NativeUnavailableError extends SockengineError {
  constructor(reason: string) {
    super('ERR_SOCKENGINE_NATIVE_UNAVAILABLE', `the native engine is unavailable: ${reason}`);
  }
}

/**
 * An option this backend cannot honour on this Node.js: node:net and node:dgram have
 * `reusePort` only from Node 22.12 (and 23.1), so on Node 20 the node backend cannot give
 * `reusePort` or `workers`.
 */
export class UnsupportedError extends SockengineError {
  /** What was asked for, e.g. `options.reusePort`. */
  readonly feature: string;
  /** What it needs, e.g. `Node.js 22.12 or later`. */
  readonly requires: string;

  constructor(feature: string, requires: string, message: string) {
    super('ERR_SOCKENGINE_UNSUPPORTED', message);
    this.feature = feature;
    this.requires = requires;
  }
}

/**
 * A worker of a `listen({ workers })` server failed (its thread's poller failed, its worker
 * thread threw, or it exited without being asked to): the others go on serving. `cause` is
 * what the worker itself reported.
 */
export class WorkerError extends SockengineError {
  /** The worker's index, 0 to workers - 1 (its place in stats().workers). */
  readonly worker: number;

  constructor(worker: number, cause: Error) {
    super('ERR_SOCKENGINE_WORKER_FAILED', `worker ${worker} failed: ${cause.message}`);
    this.worker = worker;
    this.cause = cause;
  }
}

/** Node reports an address in use at listen(), because libuv binds late; the kernel's bind() is what refused it. */
const bindErrors = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES']);

/**
 * The SystemError for a Node error (from node:net, node:dns or node:dgram), with the same
 * code, errno and syscall the native backend reports for the same failure; an error that is
 * not the OS's becomes a SockengineError with Node's code and the original as `cause`.
 */
export function fromNodeError(error: Error): SockengineError {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (typeof e.errno !== 'number' || typeof e.syscall !== 'string') {
    // Not from the OS (node:net's own checks): kept as the cause of an error with its code.
    if (error instanceof SockengineError) return error;
    const wrapped = new SockengineError(e.code ?? 'ERR_SOCKENGINE_NODE', error.message);
    wrapped.cause = error;
    return wrapped;
  }
  const syscall = e.syscall === 'listen' && bindErrors.has(e.code ?? '') ? 'bind' : e.syscall;
  return new SystemError(e.errno, syscall, e.address, e.port, { code: e.code, hostname: e.hostname });
}

/**
 * Reports an error as uncaught, as Node does for a throw in its own socket callbacks: the
 * process's 'uncaughtException' listeners hear it, and without one the process exits. A
 * tick, so that the code that caught it finishes its own work first.
 */
export function reportUncaught(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}

/**
 * A handler member threw: what it threw is the `cause`. The connection's error() and close()
 * get this, so every error a handler sees is a SockengineError with a stable `code`.
 */
export class HandlerError extends SockengineError {
  /** The member that threw, e.g. `data`. */
  readonly member: string;

  constructor(member: string, thrown: unknown) {
    const what = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : `a non-Error value: ${String(thrown)}`;
    super('ERR_SOCKENGINE_HANDLER', `the handler's ${member}() threw ${what}`);
    this.member = member;
    this.cause = thrown;
  }
}

/** A thrown value as an Error (a handler may throw a string). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`a handler threw a non-Error value: ${String(value)}`);
}
