/**
 * The shipped declarations (dist/*.d.ts) as an app's compiler sees them, imported as
 * 'sockengine': they compile with no @types/node in the app (`types: []`, skipLibCheck off),
 * type `conn.state` from listen<State>() and connect<State>(), give error() a typed
 * SystemError | SockengineError, and accept a `'tcp' | 'udp'` transport; the mistakes a
 * user could make are refused. With node's types, chunks are node's Buffer.
 *
 * TypeScript 5.9 (the repository's). TypeScript 7 (the native preview, `tsgo`) has no
 * compiler API, but its CLI compiles the same fixtures: the last test runs it when
 * SOCKENGINE_TSGO names its binary (it is not a dependency of this repository).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const fixtures = join(root, 'test', 'fixtures', 'types');
let work: string;

function project(name: string, types: string[], files: string[], skipLibCheck = false): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const file of files) cpSync(file, join(dir, file.split('/').pop()!));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        lib: ['ES2022', 'ESNext.Disposable'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types,
        skipLibCheck,
        noEmit: true,
      },
      include: ['*.ts'],
    }),
  );
  return dir;
}

function compile(compiler: string[], dir: string) {
  const result = spawnSync(compiler[0]!, [...compiler.slice(1), '-p', dir, '--pretty', 'false'], { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.replaceAll(work, '<work>') };
}

const tsc = [process.execPath, join(root, 'node_modules', 'typescript', 'bin', 'tsc')];
let withoutNode: string;
let withNode: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sockengine-types-'));
  // node_modules/sockengine is this repository: its package.json points at dist/*.d.ts.
  mkdirSync(join(work, 'node_modules'));
  symlinkSync(root, join(work, 'node_modules', 'sockengine'), 'dir');
  withoutNode = project('without-node', [], [join(fixtures, 'consumer.ts'), join(fixtures, 'mistakes.ts')]);
  symlinkSync(join(root, 'node_modules', '@types'), join(work, 'node_modules', '@types'), 'dir');
  // @types/node is big: checking all of it again costs 15 s and tells nothing about us.
  withNode = project('with-node', ['node'], [join(fixtures, 'with-node', 'consumer-node.ts')], true);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the shipped declarations, TypeScript 5.9', () => {
  it('compile in an app without @types/node, typed as a user expects, and refuse the mistakes', () => {
    // consumer.ts uses every typed item; mistakes.ts marks each refused line with
    // @ts-expect-error, so a mistake that compiled would fail this too.
    const result = compile(tsc, withoutNode);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  }, 130_000);

  it("give node's Buffer to data() when the app has node's types", () => {
    const result = compile(tsc, withNode);
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  }, 130_000);
});

describe('the shipped declarations, TypeScript 7 (tsgo CLI)', () => {
  const tsgo = process.env.SOCKENGINE_TSGO;
  it.skipIf(!tsgo)('compile the same fixtures', () => {
    for (const dir of [withoutNode, withNode]) {
      const result = compile([tsgo!], dir);
      expect(result.output).toBe('');
      expect(result.status).toBe(0);
    }
  }, 130_000);
});
