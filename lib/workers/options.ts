/**
 * The options that spread a server over threads, checked before anything starts: the
 * worker count, the failure listener, and handlers given as modules.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModuleHandler, TcpHandler, UdpHandler, WorkerOptions } from '../types.js';
import { checkHandler } from '../validate.js';

/**
 * Threads one server may ask for. Each native loop thread costs a 256 KiB stack and a
 * poller, each worker thread a V8 isolate (about 10 MB); past a few per core they only
 * contend, and 256 covers the largest machines sold today.
 */
export const MAX_WORKERS = 256;

/** `workers` as a count, or undefined when not given. `'auto'`: one per available core. */
export function checkWorkers(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
  if (typeof value !== 'number') {
    throw new TypeError(`options.workers must be a number or 'auto', got ${typeof value === 'string' ? `'${value}'` : typeof value}`);
  }
  if (!Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new RangeError(`options.workers must be an integer from 1 to ${MAX_WORKERS} or 'auto', got ${value}`);
  }
  return value;
}

/** `onWorkerError`, which only a server with `workers` has any use for. */
export function checkOnWorkerError(value: unknown, workers: number | undefined): WorkerOptions['onWorkerError'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new TypeError(`options.onWorkerError must be a function, got ${value === null ? 'null' : typeof value}`);
  }
  if (workers === undefined) throw new RangeError('options.onWorkerError applies with options.workers');
  return value as WorkerOptions['onWorkerError'];
}

/**
 * The file URL of a handler given as a module (`{ module: path }`, an absolute path, one
 * starting with `./` or `../`, or a `file:` URL), or undefined for anything else (a built-in
 * name or a handler object, which checkHandler judges).
 */
export function moduleHandlerUrl(value: unknown): string | undefined {
  let path: unknown;
  if (typeof value === 'string') {
    if (!(isAbsolute(value) || value.startsWith('./') || value.startsWith('../') || value.startsWith('file:'))) {
      return undefined;
    }
    path = value;
  } else if (typeof value === 'object' && value !== null && 'module' in value) {
    const keys = Object.keys(value);
    if (keys.length !== 1) {
      throw new TypeError(`options.handler { module } takes no other keys, got ${keys.filter((key) => key !== 'module').join(', ')}`);
    }
    path = (value as { module: unknown }).module;
    if (typeof path !== 'string' || path.length === 0) {
      throw new TypeError('options.handler.module must be a non-empty path string');
    }
  } else {
    return undefined;
  }
  const text = path as string;
  return text.startsWith('file:') ? new URL(text).href : pathToFileURL(resolve(text)).href;
}

/**
 * Imports a handler module and returns its default export, checked as a handler of this
 * transport; errors name the module.
 */
export async function loadModuleHandler(url: string, transport: 'tcp' | 'udp'): Promise<TcpHandler | UdpHandler> {
  const shown = fileURLToPath(url);
  let loaded: { default?: unknown };
  try {
    loaded = (await import(url)) as { default?: unknown };
  } catch (error) {
    throw new TypeError(`options.handler: cannot load the module ${shown}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof loaded.default !== 'object' || loaded.default === null) {
    throw new TypeError(`options.handler: the module ${shown} has no handler object as its default export`);
  }
  try {
    const checked = transport === 'udp' ? checkHandler(loaded.default, false, 'udp') : checkHandler(loaded.default, false);
    return checked as TcpHandler | UdpHandler;
  } catch (error) {
    throw new TypeError(`options.handler: the default export of ${shown} is not a handler: ${(error as Error).message}`);
  }
}

/** The module of a handler as the types name it. */
export type { ModuleHandler };
