/** The two build descriptions must build the same addon from the same sources. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

function gypSources(): string[] {
  const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8')) as {
    targets: Array<{ target_name: string; sources: string[] }>;
  };
  return gyp.targets.find((target) => target.target_name === 'sockengine')!.sources.slice().sort();
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

  it('every .cc file under native/ is built', () => {
    expect(gypSources()).toEqual(nativeFiles(join(root, 'native')).sort());
  });
});
