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
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { benchDir, releaseDir, root } from './lib/paths.js';

const cli = join(root, 'bin', 'sockengine.js');
const jsHandler = join(benchDir, 'handlers', 'uppercase.js');
const gcHook = join(benchDir, 'servers', 'gc-on-signal.js');

/** Node with a full GC on SIGUSR2 (see servers/gc-on-signal.js). */
function node(args) {
  return { cmd: process.execPath, args: ['--expose-gc', '--import', gcHook, ...args] };
}

function serve(transport, backend, handler) {
  return node([cli, 'serve', '--transport', transport, '--host', '127.0.0.1', '--port', '0', '--backend', backend, '--handler', handler]);
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

const cReference = join(releaseDir, 'uppercase_server');
const builtAddon = () => existsSync(join(releaseDir, 'sockengine.node')) || existsSync(join(root, 'build-cmake', 'Release', 'sockengine.node'));
const builtTs = () => existsSync(join(root, 'dist', 'index.js'));

/**
 * id, label (long), short (chart legend), gcSignal (takes SIGUSR2 as "collect garbage now"),
 * command(transport) -> { cmd, args }, unavailable() -> reason or null.
 */
export const servers = [
  {
    id: 'c',
    label: 'C reference (epoll, 1 thread)',
    short: 'C reference',
    gcSignal: false,
    command: (transport) => ({ cmd: cReference, args: [transport, '0', '127.0.0.1'] }),
    unavailable: () => (existsSync(cReference) ? null : `${cReference} is missing (npm run build:native)`),
  },
  {
    id: 'native-builtin',
    label: 'sockengine native, built-in uppercase',
    short: 'native built-in',
    gcSignal: true,
    command: (transport) => serve(transport, 'native', 'uppercase'),
    unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
  },
  {
    id: 'native-js',
    label: 'sockengine native, JavaScript handler',
    short: 'native + JS handler',
    gcSignal: true,
    command: (transport) => serve(transport, 'native', jsHandler),
    unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
  },
  {
    id: 'node-js',
    label: 'sockengine node backend, JavaScript handler',
    short: 'node backend + JS',
    gcSignal: true,
    command: (transport) => serve(transport, 'node', jsHandler),
    unavailable: () => (builtTs() ? null : 'dist/ is missing (npm install)'),
  },
  {
    id: 'node-raw',
    label: 'raw node:net / node:dgram',
    short: 'node:net / dgram',
    gcSignal: true,
    command: (transport) => node([join(benchDir, 'servers', 'node-raw.js'), transport, '0', '127.0.0.1']),
    unavailable: () => null,
  },
  {
    id: 'bun',
    label: 'Bun (Bun.listen / Bun.udpSocket)',
    short: 'Bun',
    gcSignal: true,
    command: (transport) => ({ cmd: findBun(), args: [join(benchDir, 'servers', 'bun.js'), transport, '0', '127.0.0.1'] }),
    unavailable: () =>
      findBun() ? null : 'no bun binary on PATH or in node_modules/.bin (npm i --no-save bun, or set SOCKENGINE_BENCH_BUN)',
  },
  {
    id: 'native-echo',
    label: 'sockengine native, built-in echo (wrong replies on purpose)',
    short: 'native echo (wrong)',
    gcSignal: true,
    hidden: true,
    command: (transport) => serve(transport, 'native', 'echo'),
    unavailable: () => (builtAddon() && builtTs() ? null : 'the addon or dist/ is missing (npm install)'),
  },
];

export const serverById = new Map(servers.map((server) => [server.id, server]));
