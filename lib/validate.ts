/**
 * Option checks that run before anything reaches a backend: each failure is a TypeError
 * (wrong kind of value) or RangeError (right kind, outside what is allowed) naming the option.
 */
import { Buffer } from 'node:buffer';
import type { BackendChoice, BuiltinHandlerName, TcpHandler, UdpHandler } from './types.js';

const tcpMembers = ['open', 'data', 'drain', 'end', 'error', 'close'] as const;
const udpMembers = ['message', 'error', 'close'] as const;
const backends: readonly string[] = ['auto', 'native', 'node'];

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Rejects any key of `given` that is not in `known`, with a TypeError naming it: an option
 * sockengine does not have (tls, signal...) must not look accepted.
 */
export function checkKnownOptions(given: Record<string, unknown>, known: readonly string[], call: string): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) {
      throw new TypeError(`options.${key} is not an option of ${call} (its options: ${known.join(', ')})`);
    }
  }
}

/** close()'s options: `{ timeout }` in milliseconds, or nothing. */
export function checkCloseOptions(value: unknown): { timeout?: number } {
  if (value === undefined) return {};
  const given = requireObject(value, 'close(options)');
  checkKnownOptions(given, ['timeout'], 'close()');
  if (given.timeout === undefined) return {};
  return { timeout: checkInteger(given.timeout, 'timeout', 0, 0, 2 ** 31 - 1) };
}

export function requireObject(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

export function checkTransport(value: unknown): 'tcp' | 'udp' {
  if (value === undefined || value === 'tcp' || value === 'udp') return value ?? 'tcp';
  if (typeof value !== 'string') throw new TypeError(`options.transport must be a string, got ${describe(value)}`);
  throw new RangeError(`options.transport must be 'tcp' or 'udp', got ${describe(value)}`);
}

export function checkHost(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new TypeError(`options.host must be a string, got ${describe(value)}`);
  if (value.length === 0) throw new RangeError('options.host must not be empty');
  return value;
}

export function checkPort(value: unknown, fallback: number | undefined, allowZero: boolean): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`options.port must be a number, got ${describe(value)}`);
  const lowest = allowZero ? 0 : 1;
  if (!Number.isInteger(value) || value < lowest || value > 65535) {
    throw new RangeError(`options.port must be an integer from ${lowest} to 65535, got ${value}`);
  }
  return value;
}

export function checkBackend(value: unknown): BackendChoice {
  if (value === undefined) return 'auto';
  if (typeof value !== 'string') throw new TypeError(`options.backend must be a string, got ${describe(value)}`);
  if (!backends.includes(value)) {
    throw new RangeError(`options.backend must be 'auto', 'native' or 'node', got ${describe(value)}`);
  }
  return value as BackendChoice;
}

export function checkInteger(value: unknown, name: string, fallback: number, lowest: number, highest: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < lowest || value > highest) {
    throw new RangeError(`options.${name} must be an integer from ${lowest} to ${highest}, got ${value}`);
  }
  return value;
}

export function checkBoolean(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`options.${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** True for the names of the built-in handlers. */
export function isBuiltinName(value: string): value is BuiltinHandlerName {
  return value === 'uppercase' || value === 'echo' || value.startsWith('reply:');
}

export function checkHandler(value: unknown, allowBuiltin: boolean): BuiltinHandlerName | TcpHandler;
export function checkHandler(value: unknown, allowBuiltin: boolean, transport: 'udp'): BuiltinHandlerName | UdpHandler;
export function checkHandler(
  value: unknown,
  allowBuiltin: boolean,
  transport: 'tcp' | 'udp' = 'tcp',
): BuiltinHandlerName | TcpHandler | UdpHandler {
  if (typeof value === 'string') {
    if (allowBuiltin && isBuiltinName(value)) return value;
    const names = allowBuiltin ? "'uppercase', 'echo', 'reply:TEXT' or a handler object" : 'a handler object';
    throw new RangeError(`options.handler must be ${names}, got ${describe(value)}`);
  }
  const handler = requireObject(value, 'options.handler');
  for (const member of transport === 'udp' ? udpMembers : tcpMembers) {
    const callback = handler[member];
    if (callback !== undefined && typeof callback !== 'function') {
      throw new TypeError(`options.handler.${member} must be a function, got ${describe(callback)}`);
    }
  }
  return handler as TcpHandler | UdpHandler;
}

/** The bytes of a write() argument, or a TypeError naming it. */
export function toBytes(data: unknown): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (data instanceof Uint8Array) return data;
  throw new TypeError(`write(data): data must be a string or Uint8Array, got ${describe(data)}`);
}
