#!/usr/bin/env node
// Micro-benchmarks with tinybench: `node bench/micro.js [--json]` (the full `npm run bench`
// runs it after the rounds and stores its figures in the results JSON).
//
// 1. The uppercase kernel, native (benchAddon.uppercase, native/handlers/uppercase.cc) against
//    JavaScript (uppercaseAscii, lib/builtin.ts), at 64 B, 4 KiB and 64 KiB. Each call first
//    restores the lowercase input (a copy), so both kernels really rewrite bytes every time;
//    the copy alone is measured too and subtracted.
// 2. The cost of one JavaScript -> native crossing: benchAddon.noop() against a plain JavaScript
//    function call (which the JIT inlines, so that row is the loop's own cost).
// 3. Event delivery at batch sizes 1 to 256, through the real engine in this process: a
//    native server with a JavaScript data() handler and 256 native client connections. One
//    iteration writes one byte on B connections (B send() calls, which land in the server's
//    sockets at once on loopback), then waits until the handler has seen all B. "delivery"
//    times from the last write to the last handler call: libuv's wake-up, one epoll_wait,
//    B recv() calls, building the batch, one crossing into JavaScript and B handler calls.
//    "cycle" adds the B writes. The engine's wake-up counter checks that a batch really
//    held B events.
import { Bench } from 'tinybench';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBinding } from '../dist/binding.js';
import { connect, listen, uppercaseAscii } from '../dist/index.js';

const json = process.argv.includes('--json');
const say = (line) => process.stdout.write(`${line}\n`);
const loaded = loadBinding();
if ('error' in loaded) {
  process.stderr.write(`micro: the native addon does not load: ${loaded.error}\n`);
  process.exit(1);
}
const binding = loaded.binding;
// The kernel and the crossing come from the benchmark-only addon (native/addon/measure.cc),
// which the product addon does not carry.
const benchAddonPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'sockengine_bench.node');
let benchAddon;
try {
  benchAddon = createRequire(import.meta.url)(benchAddonPath);
} catch (error) {
  process.stderr.write(`micro: the benchmark addon does not load (${benchAddonPath}): ${error.message}\n`);
  process.exit(1);
}
const hr = () => process.hrtime.bigint();
const ms = (from, to) => Number(to - from) / 1e6;
const TIME = 250;
const WARMUP = 50;

function taskStats(task) {
  const latency = task.result?.latency;
  if (!latency) return { p50_ns: null, mean_ns: null, samples: 0 };
  return { p50_ns: latency.p50 * 1e6, mean_ns: latency.mean * 1e6, samples: latency.samplesCount };
}

/** A task whose one iteration runs `inner` calls and reports the time per call. */
function addLooped(bench, name, inner, body) {
  bench.add(name, () => {
    const t0 = hr();
    for (let k = 0; k < inner; k++) body();
    const elapsed = ms(t0, hr());
    return { overriddenDuration: elapsed / inner, overriddenIterationCost: elapsed };
  });
}

// ------------------------------------------------------------ 1 + 2: kernel and crossing

async function kernelAndCrossing() {
  const bench = new Bench({ time: TIME, warmupTime: WARMUP });
  const sizes = [64, 4096, 65536];
  for (const size of sizes) {
    // Mixed text: lowercase, uppercase, digits, punctuation and high bytes.
    const source = Buffer.alloc(size);
    const alphabet = Buffer.from('the quick brown fox JUMPS over 13 lazy dogs {`@[}\xe9\xff\n', 'latin1');
    for (let i = 0; i < size; i++) source[i] = alphabet[i % alphabet.length];
    const work = Buffer.alloc(size);
    const inner = Math.max(1, Math.floor(32768 / size));
    addLooped(bench, `copy ${size}`, inner, () => work.set(source));
    addLooped(bench, `native ${size}`, inner, () => {
      work.set(source);
      benchAddon.uppercase(work);
    });
    addLooped(bench, `js ${size}`, inner, () => {
      work.set(source);
      uppercaseAscii(work);
    });
    // Both kernels must agree before their speed means anything.
    const a = Buffer.from(source);
    const b = Buffer.from(source);
    benchAddon.uppercase(a);
    uppercaseAscii(b);
    if (!a.equals(b)) throw new Error(`native and JavaScript uppercase disagree at ${size} B`);
  }
  function plain() {}
  addLooped(bench, 'crossing native noop', 10000, () => benchAddon.noop());
  addLooped(bench, 'crossing js call', 10000, () => plain());
  await bench.run();
  const get = (name) => taskStats(bench.getTask(name));

  const uppercase = sizes.map((size) => {
    const copy = get(`copy ${size}`).p50_ns;
    const nativeNs = get(`native ${size}`).p50_ns - copy;
    const jsNs = get(`js ${size}`).p50_ns - copy;
    return {
      size,
      copy_ns: copy,
      native_ns: nativeNs,
      js_ns: jsNs,
      native_gb_per_s: size / nativeNs,
      js_gb_per_s: size / jsNs,
      native_speedup: jsNs / nativeNs,
    };
  });
  const crossing = { native_noop_ns: get('crossing native noop').p50_ns, js_call_ns: get('crossing js call').p50_ns };
  return { uppercase, crossing };
}

// ----------------------------------------------------------------- 3: event delivery

async function delivery() {
  const batches = [1, 2, 4, 8, 16, 32, 64, 128, 256];
  const maxBatch = batches[batches.length - 1];
  let got = 0;
  let want = 0;
  let wake = null;
  const server = await listen({
    transport: 'tcp',
    host: '127.0.0.1',
    port: 0,
    backend: 'native',
    handler: {
      data(_connection, chunk) {
        got += chunk.length;
        if (got >= want && wake) {
          const done = wake;
          wake = null;
          done();
        }
      },
    },
  });
  const { port } = server.address();
  const clients = [];
  for (let i = 0; i < maxBatch; i++) clients.push(await connect({ host: '127.0.0.1', port, backend: 'native', handler: {} }));
  const deadline = Date.now() + 5000;
  while (server.connections < maxBatch) {
    if (Date.now() > deadline) throw new Error(`only ${server.connections} of ${maxBatch} connections were accepted`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const one = Buffer.from('x');
  const extra = new Map(batches.map((b) => [b, { cycles: [], events: 0, wakeups: 0 }]));

  const bench = new Bench({ time: TIME, warmupTime: WARMUP });
  for (const size of batches) {
    const mine = extra.get(size);
    bench.add(`batch ${size}`, async () => {
      const wakeups0 = binding.stats().wakeups;
      got = 0;
      want = size;
      const arrived = new Promise((resolve) => (wake = resolve));
      const t0 = hr();
      for (let i = 0; i < size; i++) clients[i].write(one);
      const t1 = hr();
      await arrived;
      const t2 = hr();
      mine.cycles.push(ms(t0, t2));
      mine.events += size;
      mine.wakeups += binding.stats().wakeups - wakeups0;
      return { overriddenDuration: ms(t1, t2) };
    });
  }
  await bench.run();
  for (const client of clients) client.destroy();
  await Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);

  return batches.map((size) => {
    const stats = taskStats(bench.getTask(`batch ${size}`));
    const mine = extra.get(size);
    const cycles = mine.cycles.sort((a, b) => a - b);
    const cycleMedian = cycles.length ? cycles[cycles.length >> 1] * 1e6 : null;
    return {
      batch: size,
      delivery_us_per_batch: stats.p50_ns / 1000,
      delivery_ns_per_event: stats.p50_ns / size,
      cycle_ns_per_event: cycleMedian === null ? null : cycleMedian / size,
      events_per_wakeup: mine.wakeups ? mine.events / mine.wakeups : null,
      samples: stats.samples,
    };
  });
}

// ------------------------------------------------------------------------- report

const f = (v, d = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));

say('micro 1/3: uppercase kernel and the native crossing ...');
const { uppercase, crossing } = await kernelAndCrossing();
say('micro 2/3: event delivery by batch size ...');
const events = await delivery();

say('uppercase kernel (ns per call, input copy subtracted):');
say('  size      native ns   js ns      native GB/s  js GB/s   native speed-up');
for (const u of uppercase) {
  say(`  ${String(u.size).padEnd(8)}  ${f(u.native_ns).padStart(9)}  ${f(u.js_ns).padStart(9)}  ${f(u.native_gb_per_s, 2).padStart(11)}  ${f(u.js_gb_per_s, 2).padStart(7)}   ${f(u.native_speedup, 1)}x`);
}
say(`crossing: binding.noop() ${f(crossing.native_noop_ns)} ns per call; plain JS call ${f(crossing.js_call_ns, 2)} ns (inlined by the JIT)`);
say('event delivery (engine wake-up -> handler), by batch size:');
say('  batch   us/batch   ns/event   cycle ns/event (with the writes)   events per wake-up');
for (const e of events) {
  say(`  ${String(e.batch).padEnd(6)}  ${f(e.delivery_us_per_batch, 2).padStart(8)}  ${f(e.delivery_ns_per_event, 0).padStart(9)}   ${f(e.cycle_ns_per_event, 0).padStart(10)}                          ${f(e.events_per_wakeup, 2)}`);
}
say('micro 3/3: done');
if (json) say(JSON.stringify({ uppercase, crossing, delivery: events }));
