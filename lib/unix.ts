/**
 * Unix-domain stream sockets, shared by both backends: the options, the socket file's life
 * (a stale file left by a crashed server, its permission bits, its removal on close) and
 * how a path is shown in messages.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { SystemError } from './errors.js';

/** Room in sockaddr_un's sun_path on Linux. */
const SUN_PATH_BYTES = 108;
const EADDRINUSE = -98;

/** listen()'s Unix-domain options, checked. */
export interface UnixListenSettings {
  path: string;
  /** The socket file's permission bits (e.g. 0o660), or undefined to leave the umask's. */
  permissions: number | undefined;
  replaceStale: boolean;
}

/** True for a name in Linux's abstract namespace: no file, gone when its socket closes. */
export function isAbstract(path: string): boolean {
  return path.startsWith('\0');
}

/** How a path appears in messages: an abstract name as `@name`, as ss(8) shows it. */
export function describePath(path: string): string {
  return isAbstract(path) ? `@${path.slice(1)}` : path;
}

/** Checks options.path for listen() or connect(); undefined when it is absent. */
export function checkPath(given: Record<string, unknown>, call: string): string | undefined {
  const path = given.path;
  if (path === undefined) return undefined;
  if (typeof path !== 'string' || path.length === 0) {
    throw new TypeError(`options.path must be a non-empty string (a socket file, or '\\0name' for an abstract name)`);
  }
  for (const name of ['host', 'port', 'ipv6Only'] as const) {
    if (given[name] !== undefined) {
      throw new TypeError(`options.path and options.${name} cannot be combined in ${call}: a Unix socket has no host or port`);
    }
  }
  if (given.transport === 'udp') {
    throw new TypeError(`options.path applies to TCP (stream) servers and connections: node:dgram has no Unix datagram sockets`);
  }
  const bytes = Buffer.byteLength(path);
  // A file path needs its terminating NUL inside sun_path; an abstract name has none.
  const room = isAbstract(path) ? SUN_PATH_BYTES : SUN_PATH_BYTES - 1;
  if (bytes > room) {
    throw new RangeError(`options.path is ${bytes} bytes; a Unix socket path holds at most ${room}: '${describePath(path)}'`);
  }
  if (path.indexOf('\0', 1) !== -1 && !isAbstract(path)) {
    throw new TypeError(`options.path contains a NUL byte: only an abstract name ('\\0name') may start with one`);
  }
  return path;
}

/**
 * node:net on Node 20 binds and connects an abstract name padded with NUL bytes to the
 * whole of sun_path (libuv's uv_pipe_bind takes a C string), so the name it makes is not
 * the one asked for and no other program can reach it. Refused rather than made silently
 * wrong.
 */
export function checkNodeBackendPath(path: string | undefined): void {
  if (path === undefined || !isAbstract(path)) return;
  throw new TypeError(
    `the node backend cannot use the abstract name '${describePath(path)}': node:net pads it to 108 bytes, ` +
      `so other programs cannot reach it; use backend 'native' or a socket file`,
  );
}

/** Checks listen()'s Unix-domain options; null without options.path. */
export function checkUnixListen(given: Record<string, unknown>): UnixListenSettings | null {
  const path = checkPath(given, 'listen()');
  const permissions = given.permissions;
  const replaceStale = given.replaceStale;
  if (path === undefined) {
    for (const [name, value] of [['permissions', permissions], ['replaceStale', replaceStale]] as const) {
      if (value !== undefined) throw new TypeError(`options.${name} applies to Unix sockets (options.path)`);
    }
    return null;
  }
  if (permissions !== undefined) {
    if (!Number.isInteger(permissions) || (permissions as number) < 1 || (permissions as number) > 0o777) {
      throw new RangeError(`options.permissions must be file mode bits between 0o001 and 0o777, e.g. 0o660; got ${String(permissions)}`);
    }
    if (isAbstract(path)) throw new TypeError('options.permissions applies to socket files: an abstract name has no file');
  }
  if (replaceStale !== undefined && typeof replaceStale !== 'boolean') {
    throw new TypeError(`options.replaceStale must be a boolean; got ${typeof replaceStale}`);
  }
  return { path, permissions: permissions as number | undefined, replaceStale: replaceStale === true };
}

/** What occupies a socket path that bind() found in use. */
async function occupant(path: string): Promise<'live' | 'stale' | 'not-socket' | 'gone'> {
  if (isAbstract(path)) return 'live';  // An abstract name exists only while its socket does.
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return 'gone';
  }
  if (!isSocket) return 'not-socket';
  return new Promise((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve('live');
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'stale' : 'live'));
  });
}

/**
 * Runs a backend's listen on a Unix path. When bind reports EADDRINUSE it finds out why: a
 * stale file (nobody listens on it) is removed and bind tried once more if the user asked
 * for replaceStale; otherwise the error says what is there and what to do.
 */
export async function listenOnPath<T>(settings: UnixListenSettings, bind: () => Promise<T>): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    if (!(error instanceof SystemError) || error.code !== 'EADDRINUSE') throw error;
    const found = await occupant(settings.path);
    const shown = describePath(settings.path);
    if (found === 'stale' && settings.replaceStale) {
      unlinkSync(settings.path);
      return bind();
    }
    const why = {
      live: 'another server is listening on it',
      stale: 'a stale socket file: nothing listens on it (pass replaceStale: true, or serve --replace, to remove it)',
      'not-socket': 'a file that is not a socket is there; it is never removed',
      gone: 'it was in use at bind time',
    }[found];
    const failure = new SystemError(EADDRINUSE, 'bind', shown);
    failure.message += ` (${why})`;
    throw failure;
  }
}

/** Removes a server's socket file after it stops listening (an abstract name needs nothing). */
export function removeSocketFile(path: string): void {
  if (isAbstract(path)) return;
  try {
    unlinkSync(path);
  } catch {
    // Already gone, or replaced by someone else's: nothing of ours is left.
  }
}
