// Builds the prebuilt addon the package ships: prebuildify --napi --strip --tag-libc for this
// platform (linux-x64 glibc here) into prebuilds/<platform>-<arch>/, which node-gyp-build
// (lib/binding.ts) finds when there is no source build. Runs on `npm pack` (prepack).
//
// prebuildify runs `node-gyp rebuild` in its working directory, which would wipe build/ (the
// source build that also holds the benchmark's load generator). So it builds in a copy of
// the sources, build-prebuild/, inside the repository so binding.gyp still finds
// node-addon-api. A prebuilt binary newer than every native source is kept as it is: packing
// twice does not compile twice. `--force` builds anyway.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const sources = [join(root, 'native'), join(root, 'binding.gyp')];

function newestSource(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestSource(join(path, name))));
}

function builtBinary() {
  if (!existsSync(target)) return null;
  const name = readdirSync(target).find((file) => file.endsWith('.node'));
  return name === undefined ? null : join(target, name);
}

const existing = builtBinary();
const sourcesTime = Math.max(...sources.map(newestSource));
if (!process.argv.includes('--force') && existing !== null && statSync(existing).mtimeMs > sourcesTime) {
  console.error(`prebuild: ${existing.slice(root.length + 1)} is newer than native/ and binding.gyp; kept`);
  process.exit(0);
}

const work = join(root, 'build-prebuild');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
cpSync(join(root, 'native'), join(work, 'native'), { recursive: true });
cpSync(join(root, 'binding.gyp'), join(work, 'binding.gyp'));
writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'sockengine', private: true }));

const require = createRequire(import.meta.url);
const prebuildify = require.resolve('prebuildify/bin.js');
// Node-API binaries do not depend on the Node version; build against the running Node's
// headers, from its own installation when they are there (no download: a Debian node has
// them in /usr/include/node), as node-gyp does with npm's `nodedir`.
const env = { ...process.env };
const prefix = dirname(dirname(process.execPath));
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
const started = Date.now();
const result = spawnSync(
  process.execPath,
  [prebuildify, '--napi', '--strip', '--tag-libc', '--target', `node@${process.versions.node}`, '--cwd', work, '--out', root],
  { stdio: 'inherit', cwd: work, env },
);
rmSync(work, { recursive: true, force: true });
if (result.status !== 0) {
  console.error(`prebuild: prebuildify failed (status ${result.status ?? result.signal})`);
  process.exit(1);
}
console.error(`prebuild: ${builtBinary()?.slice(root.length + 1)} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
