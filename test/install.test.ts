/**
 * The package as a user installs it: `npm pack`, then `npm install <tarball>` in a fresh
 * directory (--prefer-offline: npm's cache first; a fresh machine whose cache lacks the
 * dependencies' metadata fetches it from the registry, as a user's install does). It must
 * build nothing, run no install script, and serve on the native backend from the prebuilt
 * binary; with that binary removed, `auto` serves on node with a one-line hint. Packs once;
 * the prebuilt binary is built first only when native/ changed since it was last built
 * (scripts/prebuild.js).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackHint } from '../lib/api.js';
import { platformTag } from '../lib/binding.js';
import { root } from './helpers.js';

/** The environment without what `npm test` sets for its own run (npm_config_*, npm_lifecycle_*...). */
function userEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  delete env.SOCKENGINE_BACKEND;
  delete env.SOCKENGINE_ADDON;
  delete env.SOCKENGINE_DEBUG;
  return env;
}

function sh(command: string, args: string[], cwd: string, timeout = 120_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env: userEnv(), encoding: 'utf8', timeout });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr}`);
  }
  return result;
}

/** A program a user might write first: serve, send one message, print what came back. */
const FIRST_PROGRAM = `
import * as net from 'node:net';
import { listen } from 'sockengine';
const backend = process.argv[2];
const server = await listen({ port: 0, backend, handler: 'uppercase' });
const reply = await new Promise((resolve, reject) => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => socket.end('hello'));
  let got = '';
  socket.on('data', (chunk) => (got += chunk));
  socket.on('error', reject);
  socket.on('close', () => resolve(got));
});
await server.close();
console.log(server.backend, reply);
`;

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

let work: string;
let packed: Packed;
let tarball: string;
const timings: string[] = [];

function timed<T>(what: string, action: () => T): T {
  const started = Date.now();
  const result = action();
  timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** A fresh app directory with the tarball installed with `flags`; gives npm's output. */
function installApp(name: string, flags: string[]): { dir: string; output: string } {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(join(dir, 'first.mjs'), FIRST_PROGRAM);
  const result = timed(`npm install ${flags.join(' ')}`, () =>
    sh('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', ...flags], dir),
  );
  return { dir, output: `${result.stdout}${result.stderr}` };
}

function runFirst(dir: string, backend: string) {
  return spawnSync(process.execPath, ['first.mjs', backend], { cwd: dir, env: userEnv(), encoding: 'utf8', timeout: 20_000 });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sockengine-install-'));
  // prepack builds the prebuilt binary only when native/ changed since the last one, and
  // takes `prepare` out of the packed package.json (scripts/pack-manifest.js).
  const result = timed('npm pack', () => sh('npm', ['pack', '--json', '--pack-destination', work], root, 300_000));
  // Lifecycle scripts may print before npm's JSON.
  packed = (JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as Packed[])[0]!;
  tarball = join(work, packed.filename);
}, 360_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`install test: ${timings.join(', ')}; tarball ${packed?.size} bytes, ${packed?.unpackedSize} unpacked`);
});

describe('the packed tarball', () => {
  it('leaves package.json as it was, with prepare, and carries none itself', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts.prepare).toBeDefined();
    expect(existsSync(join(root, '.pack-manifest-backup.json'))).toBe(false);
    const listing = spawnSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' });
    const packedManifest = JSON.parse(listing.stdout) as { scripts: Record<string, string> };
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(packedManifest.scripts[script]).toBeUndefined();
  });

  it('holds the prebuilt addon, dist and LICENSE, and no build leftovers or sources', () => {
    const paths = packed.files.map((file) => file.path);
    for (const needed of [
      'LICENSE',
      'README.md',
      'package.json',
      'bin/sockengine.js',
      'dist/index.js',
      'dist/index.d.ts',
      'prebuilds/linux-x64/sockengine.glibc.node',
      'binding.gyp',
      'native/loop.cc',
    ]) {
      expect(paths).toContain(needed);
    }
    const leftovers = paths.filter((path) =>
      /^(build|build-cmake|build-asan|build-fuzz|build-prebuild|lib|test|bench|scripts|docs|examples|fuzz)\//.test(path) ||
      /\.(o|map|log|tgz)$/.test(path),
    );
    expect(leftovers).toEqual([]);
  });
});

describe('npm install <tarball> in a fresh directory', () => {
  it('runs no install script, builds nothing, and serves on the native backend', () => {
    const { dir, output } = installApp('plain', []);
    expect(output).not.toMatch(/install-scripts[^\n]*sockengine/);
    expect(existsSync(join(dir, 'node_modules', 'sockengine', 'build'))).toBe(false);
    const run = runFirst(dir, 'auto');
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('native HELLO\n');
    const version = spawnSync(join(dir, 'node_modules', '.bin', 'sockengine'), ['--version'], { encoding: 'utf8', env: userEnv() });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('with --ignore-scripts: backend native serves; with the prebuilt binary removed, node serves with the one-line hint', () => {
    const { dir } = installApp('ignore-scripts', ['--ignore-scripts']);
    const native = runFirst(dir, 'native');
    expect(native.stdout).toBe('native HELLO\n');

    rmSync(join(dir, 'node_modules', 'sockengine', 'prebuilds'), { recursive: true });
    const fallback = runFirst(dir, 'auto');
    expect(fallback.status).toBe(0);
    expect(fallback.stdout).toBe('node HELLO\n');
    expect(fallback.stderr).toBe(`${fallbackHint(`no prebuilt binary for ${platformTag()}`)}\n`);
    expect(fallback.stderr.length).toBeLessThan(160);

    const refused = runFirst(dir, 'native');
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/ERR_SOCKENGINE_NATIVE_UNAVAILABLE|native engine is unavailable: no prebuilt binary/);
  });
});
