/**
 * trigger() on both backends, over real sockets on 127.0.0.1: which events start runs,
 * replies, the three kinds of workflow, failures recorded as errors, back pressure on a TCP
 * client (a Python client whose sends stall, none of its frames lost), counted UDP drops,
 * retention, debug and replay, close, and the lazy SQLite load.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { trigger, type RunRecord, type Trigger, type TriggerOptions } from '../lib/index.js';
import { backends, root, waitFor } from './helpers.js';

const HOST = '127.0.0.1';
const dir = mkdtempSync(join(tmpdir(), 'sockengine-trigger-'));
const open = new Set<Trigger>();
afterEach(async () => {
  for (const t of open) await t.close({ timeout: 0 });
  open.clear();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(options: TriggerOptions): Promise<Trigger> {
  const t = await trigger({ host: HOST, port: 0, store: ':memory:', ...options });
  open.add(t);
  return t;
}

/** Stored runs, oldest first. */
const stored = (t: Trigger) => t.runs().reverse();

/** A TCP client that sends `chunks` one at a time (waiting `gapMs` between) and ends. */
async function tcpClient(port: number, chunks: Array<string | Buffer>, gapMs = 30): Promise<string> {
  const socket = net.connect({ port, host: HOST, noDelay: true });
  let received = '';
  socket.on('data', (data) => (received += data.toString('latin1')));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  for (const chunk of chunks) {
    socket.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  socket.end();
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return received;
}

function udpSocket(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, HOST, () => resolve(socket));
  });
}

/** A gate a workflow waits on: closed until open() is called. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe.each(backends)('trigger on the %s backend', (backend) => {
  it('a TCP client makes connect, data and close runs sharing one session, with its address and payload', async () => {
    const t = await start({ backend, workflow: () => 'done' });
    await tcpClient(t.address().port, ['Hello TCP Server\0']);
    await waitFor(() => t.runs().length === 3, 'three runs');
    const runs = stored(t);
    expect(runs.map((r) => [r.event, r.source, r.status, r.payload.toString('latin1')])).toEqual([
      ['connect', 'client', 'ok', ''],
      ['data', 'client', 'ok', 'Hello TCP Server\0'],
      ['close', 'client', 'ok', ''],
    ]);
    expect(new Set(runs.map((r) => r.session)).size).toBe(1);
    expect(runs[0]!.session).toMatch(/^[0-9a-f-]{36}$/);
    for (const r of runs) {
      expect(r.remoteAddress).toBe(HOST);
      expect(r.remotePort).toBeGreaterThan(0);
      expect(r.localPort).toBe(t.address().port);
      expect(r.finishedAt).toBeGreaterThanOrEqual(r.startedAt!);
      expect(r.startedAt).toBeGreaterThanOrEqual(r.receivedAt);
    }
    expect(t.stats()).toMatchObject({ received: 3, ok: 3, errors: 0, connections: 0 });
  });

  it('events picks which TCP events start runs; two connections get two sessions', async () => {
    const t = await start({ backend, events: ['data'], workflow: () => undefined });
    await tcpClient(t.address().port, ['one']);
    await tcpClient(t.address().port, ['two']);
    await waitFor(() => t.runs().length === 2, 'two data runs');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const runs = stored(t);
    expect(runs.map((r) => [r.event, r.payload.toString(), r.output])).toEqual([['data', 'one', null], ['data', 'two', null]]);
    expect(runs[0]!.session).not.toBe(runs[1]!.session);

    const onlyClose = await start({ backend, events: ['connect', 'close'], workflow: () => 1 });
    await tcpClient(onlyClose.address().port, ['ignored']);
    await waitFor(() => onlyClose.runs().length === 2, 'connect and close runs');
    expect(stored(onlyClose).map((r) => [r.event, r.output])).toEqual([['connect', '1'], ['close', '1']]);
  });

  it('with framing, each frame is one data run', async () => {
    const t = await start({ backend, events: ['data'], framing: 'line', workflow: () => null });
    await tcpClient(t.address().port, ['a\nbb\n', 'cc', 'c\n'], 10);
    await waitFor(() => t.runs().length === 3, 'three frames');
    expect(stored(t).map((r) => r.payload.toString())).toEqual(['a', 'bb', 'ccc']);
  });

  it('reply sends a data run\'s output back on its connection (as a frame with framing) and a datagram run\'s to its sender', async () => {
    const tcp = await start({ backend, reply: true, framing: 'line', workflow: (run) => (run.event === 'data' ? `got ${run.payload}` : 'not sent') });
    const received = await tcpClient(tcp.address().port, ['ping\n', 'pong\n'], 100);
    expect(received).toBe('got ping\ngot pong\n');

    const udp = await start({ backend, transport: 'udp', reply: true, workflow: (run) => Buffer.from(run.payload.toString().toUpperCase()) });
    const client = await udpSocket();
    const answer = new Promise<string>((resolve) => client.once('message', (data) => resolve(data.toString())));
    client.send('Hello UDP Server', udp.address().port, HOST);
    expect(await answer).toBe('HELLO UDP SERVER');
    client.close();
    const [run] = udp.runs();
    expect(run).toMatchObject({ event: 'datagram', transport: 'udp', session: null, output: 'HELLO UDP SERVER', remoteAddress: HOST });
  });

  it('a UDP datagram is one run with its payload and sender', async () => {
    const t = await start({ backend, transport: 'udp', workflow: () => 'ok' });
    const client = await udpSocket();
    client.send('Hello UDP Server', t.address().port, HOST);
    await waitFor(() => t.runs().length === 1, 'a datagram run');
    expect(t.runs()[0]).toMatchObject({ event: 'datagram', source: 'client', remotePort: client.address().port, status: 'ok' });
    expect(t.runs()[0]!.payload.toString()).toBe('Hello UDP Server');
    client.close();
  });

  it('a workflow that throws or rejects is recorded as error with its message; the next runs go on', async () => {
    let calls = 0;
    const t = await start({
      backend,
      events: ['data'],
      framing: 'line',
      workflow: async (run) => {
        calls++;
        if (run.payload.toString() === 'bad') throw new Error('cannot handle bad');
        return 'fine';
      },
    });
    await tcpClient(t.address().port, ['bad\ngood\n']);
    await waitFor(() => t.runs().length === 2, 'two runs');
    expect(stored(t).map((r) => [r.status, r.output, r.error])).toEqual([
      ['error', null, 'cannot handle bad'],
      ['ok', 'fine', null],
    ]);
    expect(calls).toBe(2);
    expect(t.stats()).toMatchObject({ ok: 1, errors: 1 });
  });

  it('exec runs a shell command with the run as JSON on stdin; a non-zero exit is an error carrying stderr', async () => {
    const command = `node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{const r=JSON.parse(s);` +
      `if(r.payloadText==='fail'){console.error('refused '+r.event);process.exit(3)}` +
      `process.stdout.write(r.event+' '+r.source+' '+Buffer.from(r.payloadBase64,'base64').toString()+' '+r.remotePort)})"`;
    const t = await start({ backend, events: ['data'], framing: 'line', workflow: { exec: command } });
    await tcpClient(t.address().port, ['hello\nfail\n']);
    await waitFor(() => t.runs().length === 2, 'two exec runs', 15_000);
    const [ok, failed] = stored(t);
    expect(ok).toMatchObject({ status: 'ok', output: `data client hello ${ok!.remotePort}`, error: null });
    expect(failed!.status).toBe('error');
    expect(failed!.error).toBe('exec exited with status 3: refused data');

    const slow = await start({ backend, workflow: { exec: 'sleep 5', timeout: 100 } });
    const record = await slow.debug('x');
    expect(record).toMatchObject({ status: 'error', error: 'exec timed out after 100 ms: sleep 5' });
  });

  it('webhook POSTs the run as JSON; the body is the output and a non-2xx status an error', async () => {
    const requests: Array<{ method: string; type: string; body: Record<string, unknown> }> = [];
    const http: HttpServer = createServer(async (request: IncomingMessage, response) => {
      let text = '';
      for await (const chunk of request) text += chunk;
      const body = JSON.parse(text) as Record<string, unknown>;
      requests.push({ method: request.method!, type: request.headers['content-type']!, body });
      if (body.payloadText === 'teapot') {
        response.writeHead(418).end('short and stout');
      } else response.end(`hook saw ${String(body.payloadText)}`);
    });
    await new Promise<void>((resolve) => http.listen(0, HOST, resolve));
    try {
      const url = `http://${HOST}:${(http.address() as net.AddressInfo).port}/hook`;
      const t = await start({ backend, events: ['data'], framing: 'line', workflow: { webhook: url } });
      await tcpClient(t.address().port, ['kettle\nteapot\n']);
      await waitFor(() => t.runs().length === 2, 'two webhook runs');
      const [ok, failed] = stored(t);
      expect(ok).toMatchObject({ status: 'ok', output: 'hook saw kettle' });
      expect(failed).toMatchObject({ status: 'error', output: null, error: `webhook ${url} answered 418 I'm a Teapot: short and stout` });
      expect(requests[0]).toMatchObject({ method: 'POST', type: 'application/json' });
      expect(requests[0]!.body).toMatchObject({ event: 'data', source: 'client', transport: 'tcp', payloadBase64: 'a2V0dGxl' });
    } finally {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('back pressure: with a slow workflow and a small queue the client\'s sends stall, and every frame becomes a run', async () => {
    const slow = gate();
    const frames = 1024;
    const size = 16 * 1024;
    const t = await start({
      backend,
      events: ['data'],
      framing: 'line',
      concurrency: 1,
      queue: 4,
      workflow: async () => {
        await slow.opened;
      },
    });
    const client = spawn('python3', [join(root, 'test', 'python', 'trigger_flood.py'), String(t.address().port), String(frames), String(size)]);
    let out = '';
    client.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    client.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    try {
      await waitFor(() => out.includes('stalled') || client.exitCode !== null, 'the client to stall', 30_000);
      expect(out).toBe('stalled\n');
      // While it stalls the trigger holds only what it had read: the queue, the running
      // run, and the frames of the read that filled the queue.
      const held = t.stats();
      expect(held.paused).toBe(1);
      expect(held.received).toBeLessThan(frames / 4);
      slow.open();
      await waitFor(() => client.exitCode !== null, 'the client to finish', 60_000);
      expect(out).toMatch(/^stalled\nsent 1024 stalls=\d+\n$/);
      await waitFor(() => t.stats().ok === frames, 'every frame to run', 30_000);
      const runs = stored(t);
      expect(runs.length).toBe(frames);
      runs.forEach((run, number) => {
        expect(run.payload.length).toBe(size);
        expect(run.payload.subarray(0, 7).toString()).toBe(`${String(number).padStart(6, '0')} `);
      });
      expect(t.stats()).toMatchObject({ dropped: 0, errors: 0, paused: 0 });
    } finally {
      slow.open();
      client.kill('SIGKILL');
    }
  }, 120_000);

  it('UDP datagrams beyond the queue are dropped and counted, never run silently', async () => {
    const slow = gate();
    const t = await start({ backend, transport: 'udp', concurrency: 1, queue: 2, workflow: () => slow.opened });
    const client = await udpSocket();
    const sent = 50;
    for (let i = 0; i < sent; i++) client.send(`d${i}`, t.address().port, HOST);
    await waitFor(() => t.stats().received + t.stats().dropped === sent, 'every datagram to be taken or dropped');
    const stats = t.stats();
    expect(stats.received).toBe(3); // one running, two queued
    expect(stats.dropped).toBe(sent - 3);
    slow.open();
    await waitFor(() => t.stats().ok === 3, 'the three runs to finish');
    expect(stored(t).map((r) => r.payload.toString())).toEqual(['d0', 'd1', 'd2']);
    client.close();
  });

  it('debug() simulates a client event and replay() re-runs a stored payload', async () => {
    const t = await start({ backend, workflow: (run) => `${run.source}:${run.event}:${run.payload}` });
    const debugged = await t.debug('typed in');
    expect(debugged).toMatchObject({ source: 'debug', event: 'data', output: 'debug:data:typed in', remoteAddress: null, session: null });
    const connect = await t.debug('ignored', { event: 'connect' });
    expect(connect.payload.length).toBe(0);
    await tcpClient(t.address().port, ['from a client']);
    await waitFor(() => t.runs().length === 5, 'the client runs');
    const data = stored(t).find((r) => r.source === 'client' && r.event === 'data')!;
    const replayed = await t.replay(data.id);
    expect(replayed).toMatchObject({
      source: 'replay',
      event: 'data',
      replayOf: data.id,
      remoteAddress: HOST,
      output: 'replay:data:from a client',
    });
    expect(replayed.id).toBeGreaterThan(data.id);
    expect(t.run(replayed.id)).toEqual(replayed);
    await expect(t.replay(9999)).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_RUN_NOT_FOUND' });
    await expect(t.debug('x', { event: 'datagram' })).rejects.toThrow(RangeError);
  });
});

describe.each(backends)('trigger records and limits on the %s backend', (backend) => {
  it('keeps the newest maxRuns records in the file, and numbers runs after them when reopened', async () => {
    const file = join(dir, `retention-${backend}.db`);
    const first = await start({ backend, store: file, maxRuns: 5, workflow: (run) => run.payload.toString() });
    for (let i = 1; i <= 12; i++) await first.debug(`p${i}`);
    expect(stored(first).map((r) => [r.id, r.output])).toEqual([8, 9, 10, 11, 12].map((id) => [id, `p${id}`]));
    await first.close();
    const second = await start({ backend, store: file, maxRuns: 5, workflow: () => 'again' });
    expect((await second.debug('next')).id).toBe(13);
    expect(stored(second).map((r) => r.id)).toEqual([9, 10, 11, 12, 13]);
  });

  it('close() records the runs it could not wait for: queued ones as not run, running ones as not finished', async () => {
    const never = gate();
    const t = await start({ backend, concurrency: 1, workflow: () => never.opened });
    const pending = [t.debug('a'), t.debug('b'), t.debug('c')];
    await t.close({ timeout: 50 });
    const records = await Promise.all(pending);
    expect(records.map((r) => [r.status, r.error])).toEqual([
      ['error', 'not finished: the trigger closed 50 ms after it was asked to'],
      ['error', 'not run: the trigger closed before the run started'],
      ['error', 'not run: the trigger closed before the run started'],
    ]);
    never.open();
  });

  it('bad options are refused with the option named, and nothing is left listening', async () => {
    const w = () => 1;
    await expect(trigger({ port: 0 } as unknown as TriggerOptions)).rejects.toThrow(/options.workflow is required/);
    await expect(trigger({ port: 0, workflow: { exec: '' } })).rejects.toThrow(/options.workflow.exec/);
    await expect(trigger({ port: 0, workflow: { webhook: 'ftp://x' } })).rejects.toThrow(/options.workflow.webhook/);
    await expect(trigger({ port: 0, workflow: w, events: ['open' as 'data'] })).rejects.toThrow(/options.events: 'open'/);
    await expect(trigger({ port: 0, transport: 'udp', workflow: w, events: ['data'] })).rejects.toThrow(RangeError);
    await expect(trigger({ port: 0, workflow: w, concurrency: 0 })).rejects.toThrow(/options.concurrency/);
    await expect(trigger({ port: 0, workflow: w, queue: 1.5 })).rejects.toThrow(/options.queue/);
    await expect(trigger({ port: 0, workflow: w, maxRuns: 3 })).rejects.toThrow(/options.maxRuns applies with options.store/);
    await expect(trigger({ port: 0, workflow: w, reply: 'yes' as unknown as boolean })).rejects.toThrow(/options.reply/);
    await expect(trigger({ port: 0, workflow: w, colour: 'red' } as TriggerOptions)).rejects.toThrow(/unknown option 'colour'/);
    const t = await start({ backend, store: false, workflow: w });
    await expect(t.replay(1)).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_NO_STORE' });
    expect(t.runs()).toEqual([]);
  });
});

describe('better-sqlite3 is loaded only when a store is opened', () => {
  const probe = (script: string, args: string[] = []) => {
    const result = spawnSync(process.execPath, [...args, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    return { out: result.stdout.trim(), err: result.stderr, status: result.status };
  };

  it("importing 'sockengine' does not load it; opening a store does", () => {
    const script = `import { createRequire } from 'node:module';
      import { readFileSync } from 'node:fs';
      const sqliteMapped = () => readFileSync('/proc/self/maps', 'utf8').includes('better_sqlite3.node');
      const inCache = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('better-sqlite3'));
      const m = await import('sockengine');
      const before = [sqliteMapped(), inCache()];
      const store = m.openRunStore(':memory:');
      store.close();
      console.log(JSON.stringify({ before, after: [sqliteMapped(), inCache()] }));`;
    const result = probe(script);
    expect(result.err).toBe('');
    expect(JSON.parse(result.out)).toEqual({ before: [false, false], after: [true, true] });
  });

  it('without it, a store fails with a clear error saying how to install it; a trigger without a store still runs', () => {
    const script = `const { trigger } = await import('sockengine');
      const plain = await trigger({ port: 0, workflow: () => 'ok' });
      const ran = await plain.debug('x');
      await plain.close();
      try { await trigger({ port: 0, store: ':memory:', workflow: () => 1 }); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ ran: ran.output, name: e.name, code: e.code, message: e.message })); }`;
    const result = probe(script, ['--require', join(root, 'test', 'fixtures', 'hide-better-sqlite3.cjs')]);
    expect(result.err).toBe('');
    const reported = JSON.parse(result.out) as Record<string, string>;
    expect(reported).toMatchObject({ ran: 'ok', name: 'SqliteMissingError', code: 'ERR_SOCKENGINE_SQLITE_MISSING' });
    expect(reported.message).toContain('npm install better-sqlite3');
  });
});
