/** docs/tutorial.md stays true: every file it cites exists, and so does every function it names in one. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const tutorial = readFileSync(join(root, 'docs', 'tutorial.md'), 'utf8');
const fileReference = /\b((?:native|lib|examples|bench|test)\/[\w./-]+\.(?:cc|h|ts|c|js|mjs))\b/g;
// A cited file followed by a `Name` or `Class::member` in backticks: the name must be in that file.
const functionReference = /\b((?:native|lib|examples)\/[\w./-]+\.(?:cc|h|ts|c))\s+`([\w:]+)`/g;

describe('docs/tutorial.md', () => {
  it('cites only files that exist', () => {
    const missing = [...tutorial.matchAll(fileReference)].map((m) => m[1]!).filter((path) => !existsSync(join(root, path)));
    expect(missing).toEqual([]);
  });

  it('names only functions that exist in the files it cites for them', () => {
    const references = [...tutorial.matchAll(functionReference)];
    expect(references.length).toBeGreaterThan(10);
    const missing = references
      .filter(([, path, name]) => {
        const text = readFileSync(join(root, path!), 'utf8');
        const member = name!.split('::').pop()!;
        return !new RegExp(`\\b${member}\\b`).test(text);
      })
      .map(([, path, name]) => `${path} ${name}`);
    expect(missing).toEqual([]);
  });
});
