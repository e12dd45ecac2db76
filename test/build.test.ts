/** The two build descriptions must build the same addon from the same sources. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

type GypTarget = { target_name: string; sources: string[] };
const gyp = () =>
  JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8')) as {
    targets: GypTarget[];
    conditions: Array<[string, { targets: GypTarget[] }]>;
  };

function gypSources(): string[] {
  return gyp().targets.find((target) => target.target_name === 'sockengine')!.sources.slice().sort();
}

/** The benchmark-only addon's own files (its other sources are the product's). */
function benchAddonSources(): string[] {
  const bench = gyp().conditions[0]![1].targets.find((target) => target.target_name === 'sockengine_bench')!;
  return bench.sources.filter((source) => !gypSources().includes(source));
}

function cmakeSources(): string[] {
  const text = readFileSync(join(root, 'CMakeLists.txt'), 'utf8');
  const block = /set\(SOCKENGINE_SOURCES([^)]*)\)/.exec(text);
  expect(block, 'CMakeLists.txt defines SOCKENGINE_SOURCES').not.toBeNull();
  return block![1]!.split(/\s+/).filter(Boolean).sort();
}

function nativeFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? nativeFiles(path) : name.endsWith('.cc') ? [relative(root, path)] : [];
  });
}

describe('build descriptions', () => {
  it('binding.gyp and CMakeLists.txt list the same native sources', () => {
    expect(cmakeSources()).toEqual(gypSources());
  });

  it('every .cc file under native/ is built, into the product addon or the benchmark one', () => {
    expect([...gypSources(), ...benchAddonSources()].sort()).toEqual(nativeFiles(join(root, 'native')).sort());
  });

  it('benchmark-only code stays out of the product addon', () => {
    expect(benchAddonSources()).toEqual(['native/addon/measure.cc']);
    expect(gypSources()).not.toContain('native/addon/measure.cc');
  });
});
