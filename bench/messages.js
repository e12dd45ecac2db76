#!/usr/bin/env node
// JSON action messages: requests per second of an `echo` action, served by
//   native   serveMessages({ backend: 'native' })
//   node     serveMessages({ backend: 'node' })
//   net      a hand-written node:net server: split('\n'), JSON.parse, JSON.stringify, write
//            (what a user writes without a library; no size cap, no error answers)
// for two shapes: 1 connection x 100 requests in flight, 50 connections x 1 in flight.
//
// `npm run bench:messages [-- --rounds N --duration S --no-pin]`. Each measurement starts a
// fresh server process and a load-generator process (this file with --load), pinned to
// cores 1 and 0 when taskset works (--no-pin: left to the scheduler). The generator keeps each connection's window full: for every
// answer line that comes back it writes one more request, and it checks every 64th answer
// against the JSON it expects. It also reads the server's CPU time (user + system, from
// /proc/PID/stat) at the start and end of the measured seconds: with a Node generator the
// generator can be the limit, and CPU per request still tells the servers apart. Rounds are interleaved (every server, then again), and each
// figure is the median of the rounds. Every run is bounded: warmup + duration per
// measurement, and a hard kill after 30 s.
import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const SERVERS = ['native', 'node', 'net'];
const SHAPES = [
  { id: '1x100', connections: 1, inflight: 100 },
  { id: '50x1', connections: 50, inflight: 1 },
];
const MESSAGE = { text: 'hello, server', n: 42, tags: ['a', 'b'] };

async function runServer(kind) {
  let port;
  if (kind === 'net') {
    const server = net.createServer((socket) => {
      let buffered = '';
      socket.setEncoding('utf8');
      socket.on('data', (text) => {
        buffered += text;
        const lines = buffered.split('\n');
        buffered = lines.pop();
        for (const line of lines) {
          if (line === '') continue;
          const request = JSON.parse(line);
          socket.write(JSON.stringify({ id: request.id, answer: request.message }) + '\n');
        }
      });
      socket.on('error', () => {});
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
  } else {
    const { serveMessages } = await import('../dist/index.js');
    const server = await serveMessages({ port: 0, backend: kind, actions: { echo: (message) => message } });
    port = server.address().port;
  }
  process.stdout.write(`listening messages 127.0.0.1:${port} backend=${kind}\n`);
}

/** CPU time (user + system) of process `pid` so far, in seconds, from /proc (Linux). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** The load generator: prints one JSON line { requests, seconds, errors, serverCpu }. */
async function runLoad(port, connections, inflight, warmup, duration, serverPid) {
  const expected = JSON.stringify(MESSAGE);
  let counting = false;
  let answered = 0;
  let errors = 0;
  let nextId = 1;
  const request = () => `{"id":${nextId++},"action":"echo","message":${expected}}\n`;
  const sockets = [];
  for (let c = 0; c < connections; c++) {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    sockets.push(socket);
    let rest = '';
    let checked = 0;
    socket.setEncoding('utf8');
    socket.on('data', (text) => {
      rest += text;
      let at;
      let start = 0;
      let count = 0;
      while ((at = rest.indexOf('\n', start)) >= 0) {
        // Every 64th answer is parsed and compared; the rest are counted.
        if ((checked++ & 63) === 0) {
          const answer = JSON.parse(rest.slice(start, at));
          if (typeof answer.id !== 'number' || JSON.stringify(answer.answer) !== expected) errors++;
        }
        start = at + 1;
        count++;
      }
      rest = rest.slice(start);
      if (counting) answered += count;
      let more = '';
      for (let i = 0; i < count; i++) more += request();
      socket.write(more);
    });
    let first = '';
    for (let i = 0; i < inflight; i++) first += request();
    socket.write(first);
  }
  await new Promise((resolve) => setTimeout(resolve, warmup * 1000));
  counting = true;
  const started = process.hrtime.bigint();
  const cpuBefore = cpuSeconds(serverPid);
  await new Promise((resolve) => setTimeout(resolve, duration * 1000));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const requests = answered;
  const serverCpu = cpuSeconds(serverPid) - cpuBefore;
  counting = false;
  for (const socket of sockets) socket.destroy();
  process.stdout.write(`${JSON.stringify({ requests, seconds, errors, serverCpu })}\n`);
  process.exit(0);
}

function pinned(cpu, args, pin) {
  return pin ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args];
}

/** Spawns a process and resolves with its first stdout line matching `pattern` (killed after limitMs). */
function firstLine(child, pattern, limitMs) {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no output within ${limitMs} ms: ${err}`));
    }, limitMs);
    child.stderr.on('data', (chunk) => (err += chunk));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} first: ${err}`));
    });
  });
}

async function measure(kind, shape, options) {
  const [serverCmd, serverArgs] = pinned(1, [self, '--server', kind], options.pin);
  const server = spawn(serverCmd, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await firstLine(server, /^listening /, 10_000);
    const port = /:(\d+) /.exec(line)[1];
    const loadArgs = [self, '--load', port, shape.connections, shape.inflight, options.warmup, options.duration, server.pid];
    const [loadCmd, loadArgv] = pinned(0, loadArgs, options.pin);
    const load = spawn(loadCmd, loadArgv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const result = JSON.parse(await firstLine(load, /^\{/, 30_000));
    return { ...result, perSecond: result.requests / result.seconds, cpuPerRequest: (result.serverCpu / result.requests) * 1e6 };
  } finally {
    server.kill('SIGKILL');
  }
}

function tasksetWorks() {
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore', timeout: 5000 });
    return cpus().length >= 2;
  } catch {
    return false;
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

async function main(argv) {
  if (argv[0] === '--server') return runServer(argv[1]);
  if (argv[0] === '--load') return runLoad(...argv.slice(1, 7).map(Number));
  const options = { rounds: 3, duration: 2, warmup: 0.5, pin: tasksetWorks() };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--no-pin' || argv[i] === '--pin') {
      options.pin = argv[i] === '--pin';
      i--;
      continue;
    }
    const name = argv[i].replace(/^--/, '');
    if (!['rounds', 'duration', 'warmup'].includes(name) || argv[i + 1] === undefined) throw new Error(`usage: bench/messages.js [--rounds N] [--duration S] [--warmup S] [--pin | --no-pin]`);
    options[name] = Number(argv[i + 1]);
  }
  const results = new Map();
  for (let round = 1; round <= options.rounds; round++) {
    for (const shape of SHAPES) {
      for (const kind of SERVERS) {
        const run = await measure(kind, shape, options);
        if (run.errors > 0) throw new Error(`${kind} ${shape.id}: ${run.errors} wrong answers`);
        const key = `${kind} ${shape.id}`;
        results.set(key, [...(results.get(key) ?? []), run]);
        process.stderr.write(`round ${round} ${key}: ${Math.round(run.perSecond)} requests/s, server ${run.cpuPerRequest.toFixed(2)} us CPU per request\n`);
      }
    }
  }
  const when = new Date().toISOString().slice(0, 10);
  console.log(
    `JSON action messages, echo: requests/s (ratio to net) and the server's CPU per request; median of ${options.rounds} rounds of ${options.duration} s; ${options.pin ? 'pinned' : 'not pinned'}; ${when}`,
  );
  console.log('| server | ' + SHAPES.map((s) => `${s.connections} conn x ${s.inflight} in flight`).join(' | ') + ' |');
  console.log('|---|' + SHAPES.map(() => '---|').join(''));
  for (const kind of SERVERS) {
    const cells = SHAPES.map((shape) => {
      const runs = results.get(`${kind} ${shape.id}`);
      const value = median(runs.map((run) => run.perSecond));
      const plain = median(results.get(`net ${shape.id}`).map((run) => run.perSecond));
      const cpu = median(runs.map((run) => run.cpuPerRequest));
      return `${Math.round(value).toLocaleString('en-US')} (${(value / plain).toFixed(2)}), ${cpu.toFixed(1)} us CPU`;
    });
    console.log(`| ${kind} | ${cells.join(' | ')} |`);
  }
}

await main(process.argv.slice(2));
