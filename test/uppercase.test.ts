/**
 * uppercaseAscii (lib/builtin.ts): what the node backend's `uppercase` built-in and the
 * benchmarks' JavaScript handlers run. From 128 bytes on it works four bytes at a time on
 * the 4-byte-aligned middle of its input, so every alignment, every length around the
 * switch and every byte value is checked against Python's bytes.upper() (ASCII a-z only).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { uppercaseAscii } from '../lib/index.js';

/** Python's answer for `input`: bytes.upper() changes ASCII a-z and nothing else. */
function pythonUpper(input: Uint8Array): Buffer {
  return execFileSync('python3', ['-c', 'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().upper())'], {
    input,
  });
}

describe('uppercaseAscii', () => {
  // Every byte value, in an order that puts each next to many different neighbours.
  const source = Buffer.alloc(2048);
  for (let i = 0; i < source.length; i++) source[i] = (i * 37 + (i >> 8)) & 0xff;
  const expected = pythonUpper(source);

  it('agrees with Python on every byte value', () => {
    expect(uppercaseAscii(Buffer.from(source))).toEqual(expected);
  });

  it('changes only its own bytes, at every alignment and every length around the word loop', () => {
    const failures: string[] = [];
    for (let offset = 0; offset < 8; offset++) {
      for (const length of [0, 1, 3, 4, 5, 63, 64, 126, 127, 128, 129, 130, 131, 132, 133, 143, 144, 145, 255, 256, 257, 1000, 1021]) {
        const work = Buffer.from(source);
        const view = work.subarray(offset, offset + length);
        const returned = uppercaseAscii(view);
        const want = Buffer.concat([source.subarray(0, offset), expected.subarray(offset, offset + length), source.subarray(offset + length)]);
        if (returned !== view) failures.push(`offset ${offset} length ${length}: did not return its input`);
        if (!work.equals(want)) failures.push(`offset ${offset} length ${length}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('works on a plain Uint8Array over a SharedArrayBuffer and on a Buffer from the pool', () => {
    const memory = new Uint8Array(new SharedArrayBuffer(600));
    memory.set(source.subarray(0, 600));
    uppercaseAscii(memory.subarray(1, 599));
    expect(Buffer.from(memory)).toEqual(Buffer.concat([source.subarray(0, 1), expected.subarray(1, 599), source.subarray(599, 600)]));
    const pooled = Buffer.from(source.subarray(0, 300)); // Buffer.from copies into the shared pool
    expect(uppercaseAscii(pooled)).toEqual(expected.subarray(0, 300));
  });
});
