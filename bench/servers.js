// The servers the benchmark compares, by name. Each one is a separate process that prints
// `listening tcp|udp HOST:PORT` once it is ready; the runner starts a fresh one for every
// measurement and stops it by pid afterwards.
//
//   c               bench/reference/uppercase_server.c: plain C, one thread, epoll. The 1.0x.
//   native-builtin  sockengine, native backend, built-in `uppercase` (no JavaScript per message)
//   native-js       sockengine, native backend, JavaScript handler (bench/handlers/uppercase.js)
//   node-js         sockengine, node backend, the same JavaScript handler
//   node-raw        plain node:net / node:dgram (bench/servers/node-raw.js)
//   bun             Bun.listen / Bun.udpSocket (bench/servers/bun.js), when a bun binary exists
//   native-echo     sockengine's built-in `echo`: wrong replies on purpose. Never run unless
//                   named with --servers; the smoke test uses it to see a run fail.
//   native-builtin-wN, native-js-wN (N = 1, 2)
//                   the same two sockengine servers with `serve --workers N`: the built-in on
//                   N native loop threads, the JavaScript handler module in N worker threads.
//                   The workers dimension of run.js runs them (unpinned); hidden otherwise.
//
// Framed shapes (shape.framing: 'line' or 'length:4') start each server in the same framing:
// the C reference with --framing, sockengine with `serve --framing` (the JavaScript servers
// with bench/handlers/uppercase-frames.js, which gets one frame per call), Bun with its
// JavaScript splitter. A server that cannot frame says why in unsupported(shape), and the
// runner skips it for that shape.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { benchDir, cReferencePath, releaseDir, root } from './lib/paths.js';

const cli = join(root, 'bin', 'sockengine.js');
const jsHandler = join(benchDir, 'handlers', 'uppercase.js');
const jsFrameHandler = join(benchDir, 'handlers', 'uppercase-frames.js');
const jsEchoHandler = join(benchDir, 'handlers', 'echo.js');
const gcHook = join(benchDir, 'servers', 'gc-on-signal.js');

/** Node with a full GC on SIGUSR2 (see servers/gc-on-signal.js). */
function node(args) {
  return { cmd: process.execPath, args: ['--expose-gc', '--import', gcHook, ...args] };
}

/**
 * `sockengine serve`; with a framing, `--framing` too (the CLI takes 'line' and 'length:4' as
 * they are); with workers, `--workers N`.
 */
function serve(transport, backend, handler, framing, workers) {
  const args = [cli, 'serve', '--transport', transport, '--host', '127.0.0.1', '--port', '0', '--backend', backend, '--handler', handler];
  if (framing) args.push('--framing', framing);
  if (workers) args.push('--workers', String(workers));
  return node(args);
}

/** The workers dimension's servers: the native built-in and JavaScript servers on N threads. */
function workerServers(counts) {
  return counts.flatMap((count) => [
    {
      id: `native-builtin-w${count}`,
      label: `sockengine native, built-in, ${count} worker${count > 1 ? 's' : ''}`,
      short: `native built-in x${count}`,
      gcSignal: true,
      hidden: true,
      workers: count,
      command: (transport, framing) => serve(transport, 'native', 'uppercase', framing, count),
      unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
    },
    {
      id: `native-js-w${count}`,
      label: `sockengine native, JS module, ${count} worker${count > 1 ? 's' : ''}`,
      short: `native + JS x${count}`,
      gcSignal: true,
      hidden: true,
      workers: count,
      command: (transport, framing) => serve(transport, 'native', framing ? jsFrameHandler : jsHandler, framing, count),
      unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
    },
  ]);
}

function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A bun binary: SOCKENGINE_BENCH_BUN, then PATH, then node_modules/.bin. Null when none. */
export function findBun() {
  const candidates = [];
  if (process.env.SOCKENGINE_BENCH_BUN) candidates.push(process.env.SOCKENGINE_BENCH_BUN);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'bun'));
  candidates.push(join(root, 'node_modules', '.bin', 'bun'));
  for (const path of candidates) if (executable(path)) return path;
  return null;
}

export function bunVersion(path) {
  try {
    return execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

const cReference = cReferencePath();
const builtAddon = () => existsSync(join(releaseDir, 'sockengine.node')) || existsSync(join(root, 'build-cmake', 'Release', 'sockengine.node'));
const builtTs = () => existsSync(join(root, 'dist', 'index.js'));

/**
 * id, label (long), short (chart legend), gcSignal (takes SIGUSR2 as "collect garbage now"),
 * command(transport, framing, echo) -> { cmd, args } (framing: null, 'line' or 'length:4';
 * echo: the shape's payload is already uppercase and the server answers it unchanged),
 * unavailable() -> reason or null, unsupported(shape) -> reason or null (absent: serves every shape).
 */
export const servers = [
  {
    id: 'c',
    label: 'C reference (epoll, 1 thread)',
    short: 'C reference',
    gcSignal: false,
    command: (transport, framing) => ({
      cmd: cReference,
      args: [transport, '0', '127.0.0.1', ...(framing ? ['--framing', framing] : [])],
    }),
    unavailable: () => (existsSync(cReference) ? null : `${cReference} is missing (npm run build:native)`),
  },
  {
    id: 'native-builtin',
    label: 'sockengine native, built-in uppercase',
    short: 'native built-in',
    gcSignal: true,
    command: (transport, framing, echo) => serve(transport, 'native', echo ? 'echo' : 'uppercase', framing),
    unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
  },
  {
    id: 'native-js',
    label: 'sockengine native, JavaScript handler',
    short: 'native + JS handler',
    gcSignal: true,
    command: (transport, framing, echo) => serve(transport, 'native', echo ? jsEchoHandler : framing ? jsFrameHandler : jsHandler, framing),
    unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
  },
  {
    id: 'node-js',
    label: 'sockengine node backend, JavaScript handler',
    short: 'node backend + JS',
    gcSignal: true,
    command: (transport, framing, echo) => serve(transport, 'node', echo ? jsEchoHandler : framing ? jsFrameHandler : jsHandler, framing),
    unavailable: () => (builtTs() ? null : 'dist/ is missing (npm install)'),
  },
  {
    id: 'node-raw',
    label: 'raw node:net / node:dgram',
    short: 'node:net / dgram',
    gcSignal: true,
    command: (transport) => node([join(benchDir, 'servers', 'node-raw.js'), transport, '0', '127.0.0.1']),
    unavailable: () => null,
    // It answers chunks as they arrive; a splitter of its own would measure that splitter,
    // not node:net, and the framed comparison is sockengine's framing against C and Bun.
    unsupported: (shape) =>
      shape.framing
        ? 'it has no framing (plain node:net answers chunks as they arrive)'
        : shape.echo
          ? 'it has no echo variant (the echo shape compares the servers that run a handler)'
          : null,
  },
  {
    id: 'bun',
    label: 'Bun (Bun.listen / Bun.udpSocket)',
    short: 'Bun',
    gcSignal: true,
    command: (transport, framing, echo) => ({
      cmd: findBun(),
      args: [join(benchDir, 'servers', 'bun.js'), transport, '0', '127.0.0.1', ...(framing ? [framing] : echo ? ['echo'] : [])],
    }),
    unavailable: () =>
      findBun() ? null : 'no bun binary on PATH or in node_modules/.bin (npm i --no-save bun, or set SOCKENGINE_BENCH_BUN)',
  },
  {
    id: 'native-echo',
    label: 'sockengine native, built-in echo (wrong replies on purpose)',
    short: 'native echo (wrong)',
    gcSignal: true,
    hidden: true,
    command: (transport, framing) => serve(transport, 'native', 'echo', framing),
    unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
  },
  ...workerServers([1, 2]),
];

/**
 * The workers dimension: each shape served by the C reference, the two sockengine servers on
 * their own, and both again on 1 and 2 workers. Server and load generator are not pinned:
 * they share every core, as a server with N workers and its clients would on this machine.
 */
export const workersDimension = {
  shapes: ['tcp-50x64', 'tcp-50x64x16'],
  servers: ['c', 'native-builtin', 'native-builtin-w1', 'native-builtin-w2', 'native-js', 'native-js-w1', 'native-js-w2'],
  /** [label, 1-worker server, 2-worker server]: the scaling quoted per shape. */
  pairs: [
    ['built-in uppercase', 'native-builtin-w1', 'native-builtin-w2'],
    ['JavaScript module', 'native-js-w1', 'native-js-w2'],
  ],
};

export const serverById = new Map(servers.map((server) => [server.id, server]));
