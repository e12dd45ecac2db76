/**
 * Every ```ts block of README.md is a complete program that type-checks with `tsc --strict`
 * against the package's shipped declarations (imported as 'sockengine', as a user would) and
 * runs to completion against loopback, exit 0, on both backends. The blocks are found, not
 * listed: a section added to the README is checked as soon as it is there.
 *
 * TypeScript 5.9, the repository's own. TypeScript 7 (the native preview) has no compiler
 * API yet; test/types.test.ts says how its CLI fares on the declarations.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, root } from './helpers.js';

/** The ```ts blocks of a Markdown text, with any list indentation removed. */
export function typescriptBlocks(markdown: string): Array<{ line: number; code: string }> {
  const blocks: Array<{ line: number; code: string }> = [];
  const fence = /^([ \t]*)```ts[ \t]*\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1]!;
    const code = match[2]!
      .split('\n')
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n');
    blocks.push({ line: markdown.slice(0, match.index).split('\n').length, code });
  }
  return blocks;
}

const blocks = typescriptBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
/** Each program has this long to finish; a server left open would hang past it. */
const RUN_TIMEOUT_MS = 15_000;

let work: string;
let compile: { status: number | null; output: string };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sockengine-readme-'));
  // The package as an app sees it: node_modules/sockengine is this repository (its
  // package.json exports dist/), and node's types come from the repository's @types.
  mkdirSync(join(work, 'node_modules'));
  symlinkSync(root, join(work, 'node_modules', 'sockengine'), 'dir');
  symlinkSync(join(root, 'node_modules', '@types'), join(work, 'node_modules', '@types'), 'dir');
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'readme-examples', private: true, type: 'module' }));
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        lib: ['ES2022', 'ESNext.Disposable'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        // The declarations themselves are checked by test/types.test.ts; here, the examples.
        skipLibCheck: true,
        outDir: 'out',
      },
      include: ['*.ts'],
    }),
  );
  blocks.forEach((block, i) => writeFileSync(join(work, `example-${i + 1}.ts`), block.code));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', work, '--pretty', 'false'], { encoding: 'utf8', timeout: 120_000 });
  compile = { status: result.status, output: `${result.stdout}${result.stderr}` };
}, 150_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function runExample(file: string, backend: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.SOCKENGINE_DEBUG;
    delete env.SOCKENGINE_ADDON;
    if (backend === 'node') env.SOCKENGINE_BACKEND = 'node';
    else delete env.SOCKENGINE_BACKEND;
    const child = spawn(process.execPath, [file], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal === 'SIGKILL' ? null : code, stdout, stderr });
    });
  });
}

describe('README.md examples', () => {
  it('has TypeScript examples to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  it('every ```ts block type-checks with tsc --strict against the shipped declarations', () => {
    // Diagnostics name example-N.ts: block N of README.md, counting from the top.
    const where = blocks.map((block, i) => `example-${i + 1}.ts = README.md line ${block.line}`).join('; ');
    expect(compile.output, where).toBe('');
    expect(compile.status).toBe(0);
  });

  describe.each(backends)('%s backend', (backend) => {
    it.each(blocks.map((block, i) => [i + 1, block.line] as const))(
      'example %i (README.md line %i) runs to completion and exits 0',
      async (n) => {
        expect(compile.status).toBe(0);
        const result = await runExample(join(work, 'out', `example-${n}.js`), backend);
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        // SOCKENGINE_BACKEND=node makes `auto` pick node; nothing says native then.
        if (backend === 'node') expect(result.stdout).not.toMatch(/\bnative\b/);
      },
      RUN_TIMEOUT_MS + 5000,
    );
  });
});
