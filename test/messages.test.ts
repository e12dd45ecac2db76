/**
 * JSON action messages over real loopback sockets, on both backends: the wire format as a
 * plain node:net peer sees it, and messageClient's behaviour (ids, order, errors, timeouts,
 * reconnects, drops).
 */
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  messageClient,
  serveMessages,
  type MessageClient,
  type MessageServer,
  type MessageServerOptions,
} from '../lib/index.js';
import { backends, waitFor } from './helpers.js';

/** A plain node:net peer that writes raw lines and collects the lines it gets back. */
class LinePeer {
  readonly lines: string[] = [];
  ended = false;
  closed = false;
  private partial = '';

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const parts = (this.partial + text).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
    });
    socket.on('end', () => (this.ended = true));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static connect(port: number): Promise<LinePeer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(new LinePeer(socket)));
      socket.once('error', reject);
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Waits for `count` lines in all and returns them parsed. */
  async answers(count: number): Promise<Array<Record<string, any>>> {
    await waitFor(() => this.lines.length >= count, `${count} answer lines (have ${JSON.stringify(this.lines)})`);
    return this.lines.slice(0, count).map((line) => JSON.parse(line));
  }
}

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe.each(backends)('%s backend', (backend) => {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(options: Omit<MessageServerOptions, 'backend' | 'port'> & { port?: number }): Promise<MessageServer> {
    const server = await serveMessages({ port: 0, backend, ...options });
    cleanups.push(() => server.close({ timeout: 500 }));
    expect(server.backend).toBe(backend);
    return server;
  }

  function client(port: number, options: Record<string, unknown> = {}): MessageClient {
    const created = messageClient({ port, backend, ...options });
    cleanups.push(() => created.close());
    return created;
  }

  async function peer(server: MessageServer): Promise<LinePeer> {
    const created = await LinePeer.connect(server.address().port);
    cleanups.push(() => void created.socket.destroy());
    return created;
  }

  const actions = {
    echo: (message: unknown) => message,
    delay: ({ ms, value }: { ms: number; value: unknown }) => later(ms, value),
    nothing: () => undefined,
    boom: () => {
      throw new Error('the handler broke');
    },
    reject: () => Promise.reject(new Error('rejected on purpose')),
    hangup: (_message: unknown, context: { connection: { destroy(): void } }) => {
      context.connection.destroy();
      return new Promise(() => {});
    },
  };

  it('answers many requests in flight on one connection by id, in the order they finish', async () => {
    const server = await start({ actions });
    const raw = await peer(server);
    // Sent 1..6; the slowest first, so they finish in the opposite order.
    const delays = [120, 100, 80, 60, 40, 20];
    raw.write(delays.map((ms, i) => JSON.stringify({ id: i + 1, action: 'delay', message: { ms, value: `v${i + 1}` } }) + '\n').join(''));
    const answers = await raw.answers(6);
    expect(answers.map((a) => a.id)).toEqual([6, 5, 4, 3, 2, 1]);
    for (const answer of answers) expect(answer).toEqual({ id: answer.id, answer: `v${answer.id}` });
    // String ids come back as given, and the same works through messageClient.
    raw.write('{"id":"x-1","action":"echo","message":{"deep":[1,{"a":null}]}}\n');
    expect((await raw.answers(7))[6]).toEqual({ id: 'x-1', answer: { deep: [1, { a: null }] } });
    const c = client(server.address().port);
    const results = await Promise.all(delays.map((ms, i) => c.request('delay', { ms, value: i })));
    expect(results).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('answers requests without an id in request order, even when later ones finish first', async () => {
    const server = await start({ actions });
    const raw = await peer(server);
    raw.write(
      [
        { action: 'delay', message: { ms: 100, value: 'first' } },
        { action: 'echo', message: 'second' },
        { id: 9, action: 'echo', message: 'has an id' },
        { action: 'delay', message: { ms: 30, value: 'third' } },
        { action: 'nope' },
        { action: 'nothing' },
      ]
        .map((request) => JSON.stringify(request) + '\n')
        .join(''),
    );
    const answers = await raw.answers(6);
    // The request with an id does not wait for the ordered ones.
    expect(answers[0]).toEqual({ id: 9, answer: 'has an id' });
    expect(answers.slice(1)).toEqual([
      { answer: 'first' },
      { answer: 'second' },
      { answer: 'third' },
      { error: { code: 'UNKNOWN_ACTION', message: "no handler for action 'nope'" } },
      { answer: null },
    ]);
  });

  it('answers an unknown action with UNKNOWN_ACTION, including names on the prototype of an object', async () => {
    const server = await start({ actions });
    const raw = await peer(server);
    raw.write('{"id":1,"action":"Telegram","message":"hi"}\n{"id":2,"action":"constructor"}\n{"id":3,"action":"toString"}\n');
    const answers = await raw.answers(3);
    expect(answers.map((a) => a.error.code)).toEqual(['UNKNOWN_ACTION', 'UNKNOWN_ACTION', 'UNKNOWN_ACTION']);
    expect(Object.keys(answers[0]!).sort()).toEqual(['error', 'id']);
    const c = client(server.address().port);
    await expect(c.request('Telegram', 'hi')).rejects.toMatchObject({
      code: 'ERR_SOCKENGINE_REMOTE',
      remoteCode: 'UNKNOWN_ACTION',
      remoteMessage: "no handler for action 'Telegram'",
    });
  });

  it('answers a line that is not a request with BAD_MESSAGE and keeps the connection', async () => {
    const server = await start({ actions });
    const raw = await peer(server);
    raw.write('{not json\n[1,2]\n{"id":4,"message":1}\n{"id":{"x":1},"action":"echo"}\n{"id":5,"action":""}\r\n\n');
    raw.socket.write(Buffer.from([0xff, 0xfe, 0x0a]));
    raw.write('{"id":6,"action":"echo","message":"still here"}\r\n');
    const answers = await raw.answers(7);
    expect(answers.slice(0, 6).map((a) => [a.id, a.error?.code])).toEqual([
      [undefined, 'BAD_MESSAGE'],
      [undefined, 'BAD_MESSAGE'],
      [4, 'BAD_MESSAGE'],
      [undefined, 'BAD_MESSAGE'],
      [5, 'BAD_MESSAGE'],
      [undefined, 'BAD_MESSAGE'],
    ]);
    expect(answers[2]!.error.message).toBe('the request has no action');
    expect(answers[6]).toEqual({ id: 6, answer: 'still here' });
    expect(raw.closed).toBe(false);
  });

  it('answers a line longer than maxMessageSize with TOO_LARGE and closes that connection only', async () => {
    const server = await start({ actions, maxMessageSize: 1000 });
    const bystander = await peer(server);
    // A line of exactly maxMessageSize bytes is fine (a CR before the LF not counted).
    const fits = JSON.stringify({ id: 1, action: 'echo', message: 'a'.repeat(1000 - 37) });
    expect(Buffer.byteLength(fits)).toBe(1000);
    bystander.write(fits + '\r\n');
    expect((await bystander.answers(1))[0]).toMatchObject({ id: 1 });

    const oneTooMany = fits.replace('"a', '"aa');
    for (const line of [`${oneTooMany}\n`, `{"id":2,"action":"echo","message":"${'x'.repeat(4 * 1024 * 1024)}`]) {
      const raw = await peer(server);
      raw.write('{"id":1,"action":"echo","message":"before"}\n');
      // The long one has no LF at all: the server must not wait for one, nor hold the whole line.
      raw.socket.write(line);
      await waitFor(() => raw.ended || raw.closed, 'the server to end the connection');
      const answers = raw.lines.map((line) => JSON.parse(line));
      expect(answers[0]).toEqual({ id: 1, answer: 'before' });
      expect(answers[1]).toEqual({ error: { code: 'TOO_LARGE', message: 'a line longer than maxMessageSize (1000 bytes); connection closed' } });
      expect(answers).toHaveLength(2);
      await waitFor(() => raw.closed, 'the connection to close');
    }
    expect(server.stats().tooLarge).toBe(2);
    bystander.write('{"id":3,"action":"echo","message":"unharmed"}\n');
    expect((await bystander.answers(2))[1]).toEqual({ id: 3, answer: 'unharmed' });
  });

  it('turns a thrown error or a rejected promise into HANDLER_ERROR, and an answer that is not JSON too', async () => {
    const reported: string[] = [];
    const server = await start({
      actions: { ...actions, bigint: () => 10n },
      onHandlerError: (error, context) => reported.push(`${context.action}: ${error.message}`),
    });
    const c = client(server.address().port);
    await expect(c.request('boom')).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_REMOTE', remoteCode: 'HANDLER_ERROR', remoteMessage: 'the handler broke' });
    await expect(c.request('reject')).rejects.toMatchObject({ remoteCode: 'HANDLER_ERROR', remoteMessage: 'rejected on purpose' });
    await expect(c.request('bigint')).rejects.toMatchObject({ remoteCode: 'HANDLER_ERROR' });
    expect(await c.request('echo', 'the connection goes on')).toBe('the connection goes on');
    expect(reported).toEqual(['boom: the handler broke', 'reject: rejected on purpose', expect.stringMatching(/^bigint: the answer cannot be sent as JSON/)]);
  });

  it('hands one function every message with the action and the client address, as in the write-up', async () => {
    const seen: string[] = [];
    const server = await start({
      actions: (action, message, context) => {
        seen.push(`${action}:${JSON.stringify(message)}`);
        return { action, from: context.remoteAddress, port: context.remotePort, id: context.id ?? null };
      },
    });
    const c = client(server.address().port);
    const answer = (await c.request('Telegram', { text: 'hi' })) as Record<string, unknown>;
    expect(answer).toMatchObject({ action: 'Telegram', from: '127.0.0.1', id: 1 });
    expect(answer.port).toBeGreaterThan(0);
    await c.send('Plot', 'x');
    await waitFor(() => seen.length === 2, 'the background message');
    expect(seen).toEqual(['Telegram:{"text":"hi"}', 'Plot:"x"']);
  });

  it('send() resolves once written and drops the answer; request() waits for it', async () => {
    const server = await start({ actions });
    const c = client(server.address().port);
    await expect(c.send('delay', { ms: 200, value: 'late' })).resolves.toBeUndefined();
    await expect(c.send('boom')).resolves.toBeUndefined();
    expect(await c.request('echo', 7)).toBe(7);
  });

  it('times out a request that gets no answer, and tells it apart from nobody listening', async () => {
    const server = await start({ actions });
    const c = client(server.address().port);
    await expect(c.request('delay', { ms: 400, value: 1 }, { timeout: 50 })).rejects.toMatchObject({
      code: 'ERR_SOCKENGINE_MESSAGE_TIMEOUT',
      timeout: 50,
    });
    // The late answer is dropped; the connection goes on.
    expect(await c.request('echo', 'next')).toBe('next');

    const port = server.address().port;
    await server.close({ timeout: 500 });
    const nobody = client(port, { connectTimeout: 200, reconnectDelay: 20 });
    const refused = await nobody.request('echo', 1, { timeout: 5000 }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'ERR_SOCKENGINE_NOT_CONNECTED' });
    expect((refused as Error & { cause: { code: string } }).cause.code).toBe('ECONNREFUSED');
    // Its own timeout shorter than connectTimeout: still NOT_CONNECTED, never TIMEOUT.
    await expect(nobody.request('echo', 1, { timeout: 50 })).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_NOT_CONNECTED' });
    // Without reconnect, nobody listening fails at once.
    const once = client(port, { reconnect: false });
    await expect(once.request('echo', 1)).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_NOT_CONNECTED' });
  });

  it('queues while connecting, within maxQueue, and reconnects after the server restarts', async () => {
    const first = await start({ actions });
    const port = first.address().port;
    const c = client(port, { reconnectDelay: 10, maxReconnectDelay: 50, maxQueue: 2, connectTimeout: 5000 });
    expect(await c.request('echo', 'before')).toBe('before');
    await first.close({ timeout: 500 });
    await waitFor(() => !c.connected, 'the client to see the close');
    const waiting = [c.request('echo', 'queued 1'), c.request('echo', 'queued 2')];
    await expect(c.request('echo', 'one too many')).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_NOT_CONNECTED' });
    await start({ actions, port });
    expect(await Promise.all(waiting)).toEqual(['queued 1', 'queued 2']);
    expect(c.connected).toBe(true);
    expect(await c.request('echo', 'after')).toBe('after');
  });

  it('rejects the requests in flight when the connection drops, then carries on', async () => {
    const server = await start({ actions });
    const c = client(server.address().port, { reconnectDelay: 10 });
    const slow = c.request('delay', { ms: 2000, value: 'never' });
    const dropping = c.request('hangup');
    await expect(slow).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_CONNECTION_DROPPED' });
    await expect(dropping).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_CONNECTION_DROPPED' });
    expect(await c.request('echo', 'reconnected')).toBe('reconnected');
  });

  it('drops the connection of a server that does not speak the format, naming the line', async () => {
    const babbler = net.createServer((socket) => socket.on('data', () => socket.write('HELLO THERE\n')));
    await new Promise<void>((resolve) => babbler.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => babbler.close(() => resolve())));
    const c = client((babbler.address() as net.AddressInfo).port, { reconnect: false });
    const error = await c.request('echo', 1).catch((e: unknown) => e as Error & { code: string; cause: Error });
    expect(error.code).toBe('ERR_SOCKENGINE_CONNECTION_DROPPED');
    expect(error.cause.message).toBe('the server sent a line that is not an answer: "HELLO THERE"');
  });

  it('close() waits for answers already asked for, then refuses new messages', async () => {
    const server = await start({ actions });
    const c = client(server.address().port);
    const answer = c.request('delay', { ms: 80, value: 'answered before the close' });
    await waitFor(() => c.connected, 'the connection');
    await c.close();
    expect(await answer).toBe('answered before the close');
    await expect(c.request('echo', 1)).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_CLIENT_CLOSED' });
    await waitFor(() => server.connections === 0, 'the server to see the close');
  });

  it('refuses a request longer than the client maxMessageSize without sending it', async () => {
    const server = await start({ actions });
    const c = client(server.address().port, { maxMessageSize: 64 });
    await expect(c.request('echo', 'y'.repeat(100))).rejects.toMatchObject({ code: 'ERR_SOCKENGINE_MESSAGE_TOO_LARGE' });
    expect(await c.request('echo', 'short')).toBe('short');
    expect(server.stats().requests).toBe(1);
  });

  it('maxInFlight: a connection with that many requests being handled is not read until one finishes', async () => {
    let started = 0;
    const release: Array<() => void> = [];
    const server = await start({
      maxInFlight: 2,
      actions: {
        hold: (n: number) => {
          started++;
          return new Promise((resolve) => release.push(() => resolve(n)));
        },
      },
    });
    const raw = await peer(server);
    raw.write([1, 2, 3, 4, 5].map((n) => `{"id":${n},"action":"hold","message":${n}}\n`).join(''));
    await waitFor(() => started === 2, 'two handlers to start');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(started).toBe(2);
    // Each one finished lets the next in.
    while (raw.lines.length < 5) {
      release.shift()?.();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect((await raw.answers(5)).map((a) => a.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops reading a client that does not read its answers, and serves it all once it does', async () => {
    const server = await start({ actions });
    const raw = await peer(server);
    raw.socket.pause();
    const big = 'z'.repeat(60_000);
    const total = 300; // 18 MB of answers: more than the kernel's buffers on both sides hold
    for (let i = 1; i <= total; i++) raw.write(`{"id":${i},"action":"echo","message":"${big}"}\n`);
    let before = -1;
    await waitFor(() => {
      const now = server.stats().requests;
      const still = now === before;
      before = now;
      return still;
    }, 'the server to stop reading', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.stats().requests).toBeLessThan(total);
    raw.socket.resume();
    await waitFor(() => raw.lines.length === total, `${total} answers`, 20_000);
    expect(server.stats()).toMatchObject({ requests: total, answers: total });
    expect(JSON.parse(raw.lines[total - 1]!)).toEqual({ id: total, answer: big });
  });

  it('serves and connects over IPv6 loopback', async () => {
    const server = await start({ host: '::1', actions });
    expect(server.address()).toMatchObject({ address: '::1', family: 'IPv6' });
    const c = client(server.address().port, { host: '::1' });
    expect(await c.request('echo', 'over ::1')).toBe('over ::1');
  });

  it('server close() answers what is in flight, then ends each connection', async () => {
    const server = await serveMessages({ port: 0, backend, actions });
    const raw = await LinePeer.connect(server.address().port);
    cleanups.push(() => void raw.socket.destroy());
    raw.write('{"id":1,"action":"delay","message":{"ms":80,"value":"finished"}}\n');
    await waitFor(() => server.stats().requests === 1, 'the request to arrive');
    await server.close({ timeout: 2000 });
    expect(raw.lines.map((line) => JSON.parse(line))).toEqual([{ id: 1, answer: 'finished' }]);
    await waitFor(() => raw.ended, 'the end of the connection');
  });
});

describe('options', () => {
  it('name the option that is wrong', async () => {
    await expect(serveMessages({ port: 0, actions: {}, maxMesageSize: 5 } as never)).rejects.toThrow(/unknown option 'maxMesageSize'/);
    await expect(serveMessages({ port: 0, actions: { a: 'x' } } as never)).rejects.toThrow(/options\.actions\.a must be a function/);
    await expect(serveMessages({ port: 0, actions: {}, maxMessageSize: 0 })).rejects.toThrow(RangeError);
    expect(() => messageClient({ port: 70000 })).toThrow(/options\.port must be from 1 to 65535/);
    expect(() => messageClient({ port: 1, timeot: 5 } as never)).toThrow(/unknown option 'timeot'/);
  });
});
