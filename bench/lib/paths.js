// Where things are, relative to the package root.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const benchDir = join(root, 'bench');
export const releaseDir = join(root, 'build', 'Release');

/**
 * The C reference server: SOCKENGINE_BENCH_REFERENCE (a build of bench/reference/uppercase_server.c
 * of your own, e.g. gcc -O2 -o /tmp/uppercase_server bench/reference/uppercase_server.c), else
 * node-gyp's build/Release/uppercase_server.
 */
export function cReferencePath() {
  return process.env.SOCKENGINE_BENCH_REFERENCE || join(releaseDir, 'uppercase_server');
}
