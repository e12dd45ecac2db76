#!/usr/bin/env node
// The JavaScript uppercase loop of the benchmark handlers (lib/builtin.ts uppercaseAscii, which
// bench/servers/*.js import too) at 16 KiB, in whichever runtime runs this file:
//   node bench/kernel-js.js; bun bench/kernel-js.js
// It explains part of the tcp 10 x 16 KiB x 4 results: the same JavaScript costs different
// time in V8 and in JavaScriptCore. Three rounds of 20,000 calls, each restoring the input.
import { uppercaseAscii as uppercase } from '../dist/builtin.js';

const size = 16384;
const source = Buffer.alloc(size);
const alphabet = Buffer.from('the quick brown fox JUMPS over 13 lazy dogs {`@[}\xe9\xff\n', 'latin1');
for (let i = 0; i < size; i++) source[i] = alphabet[i % alphabet.length];
const work = Buffer.alloc(size);
const runtime = typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.version}`;
for (let round = 1; round <= 3; round++) {
  const calls = 20000;
  const t0 = performance.now();
  for (let k = 0; k < calls; k++) {
    work.set(source);
    uppercase(work);
  }
  const ns = ((performance.now() - t0) * 1e6) / calls;
  console.log(`${runtime}: round ${round}: ${(ns / 1000).toFixed(1)} us per 16 KiB call (input copy included), ${(size / ns).toFixed(2)} GB/s`);
}
