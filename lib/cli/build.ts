/**
 * `sockengine build`: compiles the native engine from source with node-gyp, for a platform
 * with no prebuilt binary (or to build it with your own compiler flags). The result lands in
 * the package's build/Release/, which the loader tries before prebuilds/.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommand, UsageError } from './args.js';

/** `sockengine build --help`. */
export const BUILD_USAGE = `usage: sockengine build
  Compiles the native engine from source with node-gyp (needs python3, make and a C++17
  compiler) into the package's build/Release/, used from then on before the prebuilt binary.
  -h, --help                 this help`;

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** node-gyp: the package's own (a development checkout), else the copy npm bundles. */
function findNodeGyp(): string | undefined {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // npm ships node-gyp for install scripts: next to the npm that runs us, or next to node.
  }
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((path): path is string => typeof path === 'string' && existsSync(path));
}

export async function build(argv: string[]): Promise<number> {
  const { positionals, help } = parseCommand(argv, {});
  if (help) {
    process.stdout.write(`${BUILD_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`build takes no arguments, got '${positionals[0]}'`);
  const nodeGyp = findNodeGyp();
  if (nodeGyp === undefined) {
    process.stderr.write('sockengine: node-gyp not found; install it (npm install -g node-gyp) and run sockengine build again\n');
    return 1;
  }
  process.stderr.write(`sockengine: building the native engine in ${packageRoot} with ${nodeGyp}\n`);
  const result = spawnSync(process.execPath, [nodeGyp, 'rebuild'], { cwd: packageRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    process.stderr.write(`sockengine: node-gyp failed (status ${result.status ?? result.signal}); see its output above\n`);
    return 1;
  }
  // A new process loads the new build (this one may have loaded another already).
  const check = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import('${join(packageRoot, 'dist', 'index.js').replaceAll('\\', '/')}').then((m) => process.exit(m.nativeAvailable() ? 0 : 1))`],
    { stdio: 'ignore' },
  );
  if (check.status !== 0) {
    process.stderr.write('sockengine: the build finished but the native engine does not load\n');
    return 1;
  }
  process.stdout.write(`native engine built: ${join(packageRoot, 'build', 'Release', 'sockengine.node')}\n`);
  return 0;
}
