/**
 * Errors with stable codes. System errors keep what the OS said: `code` (e.g. `EADDRINUSE`),
 * `errno` (negative, as in Node) and `syscall`.
 */
import { getSystemErrorMap, getSystemErrorName } from 'node:util';

/** An error from the operating system, shaped like Node's own system errors. */
export class SystemError extends Error {
  /** The error's name, e.g. `ECONNRESET`. */
  readonly code: string;
  /** The negative errno, e.g. -104. */
  readonly errno: number;
  /** The call that failed, e.g. `bind`, `read`, `connect`. */
  readonly syscall: string;
  /** The address involved, when there is one. */
  readonly address?: string;
  /** The port involved, when there is one. */
  readonly port?: number;

  constructor(errno: number, syscall: string, address?: string, port?: number) {
    const code = errorName(errno);
    const description = getSystemErrorMap().get(errno)?.[1] ?? 'unknown error';
    const where = address === undefined ? '' : port === undefined ? ` ${address}` : ` ${address}:${port}`;
    super(`${syscall} ${code}: ${description}${where}`);
    this.name = 'SystemError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (address !== undefined) this.address = address;
    if (port !== undefined) this.port = port;
  }
}

function errorName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return `E${-errno}`;
  }
}

/** Thrown when the native backend is asked for but the addon cannot be loaded. */
export class NativeUnavailableError extends Error {
  readonly code = 'ERR_SOCKENGINE_NATIVE_UNAVAILABLE';
  constructor(reason: string) {
    super(`sockengine: the native addon cannot be loaded: ${reason}`);
    this.name = 'NativeUnavailableError';
  }
}

/** Copies the fields of a Node system error (from node:net) onto a SystemError. */
export function fromNodeError(error: Error): Error {
  const e = error as NodeJS.ErrnoException;
  if (typeof e.errno === 'number' && typeof e.syscall === 'string') {
    const address = (e as { address?: string }).address;
    const port = (e as { port?: number }).port;
    return new SystemError(e.errno, e.syscall, address, port);
  }
  return error;
}
