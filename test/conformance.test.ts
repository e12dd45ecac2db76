/**
 * One suite, run against every backend: what a user of listen()/connect() can observe must
 * not depend on which backend serves it.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, type Connection, type Server, type TcpHandler } from '../lib/index.js';
import { backends, openFds, RawClient, sleep, waitFor } from './helpers.js';

/** Every byte value, twice: the uppercase handler must change a-z and nothing else. */
const allBytes = Buffer.from([...Array(512).keys()].map((i) => i % 256));
const upperAscii = (bytes: Buffer) => Buffer.from(bytes.map((c) => (c >= 0x61 && c <= 0x7a ? c - 32 : c)));

describe.each(backends)('%s backend', (backend) => {
  const servers: Server[] = [];
  const clients: RawClient[] = [];

  async function serve(handler: TcpHandler | 'uppercase' | 'echo' | `reply:${string}`, extra: object = {}) {
    const server = await listen({ port: 0, backend, handler, ...extra });
    servers.push(server);
    return server;
  }

  async function client(server: Server) {
    const raw = await RawClient.connect(server.address().port);
    clients.push(raw);
    return raw;
  }

  afterEach(async () => {
    for (const raw of clients.splice(0)) raw.socket.destroy();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  describe('built-in handlers', () => {
    it('uppercase changes ASCII a-z only and keeps every other byte', async () => {
      const server = await serve('uppercase');
      expect(server.backend).toBe(backend);
      const raw = await client(server);
      raw.socket.write(allBytes);
      expect(await raw.read(allBytes.length)).toEqual(upperAscii(allBytes));
    });

    it('echo sends every byte back unchanged', async () => {
      const raw = await client(await serve('echo'));
      raw.socket.write(allBytes);
      expect(await raw.read(allBytes.length)).toEqual(allBytes);
    });

    it('reply:TEXT answers a chunk with TEXT', async () => {
      const raw = await client(await serve('reply:Message received.'));
      raw.socket.write('anything');
      expect((await raw.read(17)).toString()).toBe('Message received.');
    });

    it('a built-in server counts its connections and close() waits for them', async () => {
      const server = await serve('uppercase');
      const raw = await client(server);
      raw.socket.write('x');
      await raw.read(1);
      expect(server.connections).toBe(1);
      let closed = false;
      const closing = server.close().then(() => (closed = true));
      await sleep(50);
      expect(closed).toBe(false);
      raw.socket.end();
      await closing;
      expect(server.connections).toBe(0);
    });
  });

  describe('JavaScript handlers', () => {
    it('get open, data, end and close in that order, with the peer address', async () => {
      const events: string[] = [];
      let seen: Connection | undefined;
      let peer: [string, number] | undefined;
      const server = await serve({
        open(connection) {
          seen = connection;
          peer = [connection.remoteAddress, connection.remotePort];
          events.push('open');
        },
        data(connection, chunk) {
          events.push(`data:${chunk}`);
          connection.write(chunk.toString().toUpperCase());
        },
        end: () => events.push('end'),
        close: (_connection, error) => events.push(`close:${error ?? 'none'}`),
      });
      const raw = await client(server);
      const localPort = raw.socket.localPort;
      raw.socket.write('ping');
      expect((await raw.read(4)).toString()).toBe('PING');
      raw.socket.end();
      await raw.waitClosed();
      await waitFor(() => events.includes('close:none'), 'close');
      expect(events).toEqual(['open', 'data:ping', 'end', 'close:none']);
      expect(peer).toEqual(['127.0.0.1', localPort]);
      // Read once while open, the address stays readable after close.
      expect(seen!.remoteAddress).toBe('127.0.0.1');
      expect(seen!.closed).toBe(true);
    });

    it('a handler with only close() hears each connection close, with the error of a reset', async () => {
      const closes: Array<string | undefined> = [];
      const server = await serve({ close: (_connection, error) => closes.push((error as NodeJS.ErrnoException)?.code) });
      const quiet = await client(server);
      quiet.socket.end();
      await waitFor(() => closes.length === 1, 'the first close');
      const reset = await client(server);
      reset.socket.write('x');
      await sleep(20);
      reset.socket.resetAndDestroy();
      await waitFor(() => closes.length === 2, 'the second close');
      expect(closes).toEqual([undefined, 'ECONNRESET']);
    });

    it('keep per-connection state in the state slot', async () => {
      const server = await serve({
        open(connection: Connection<{ count: number }>) {
          connection.state = { count: 0 };
        },
        data(connection: Connection<{ count: number }>, chunk) {
          connection.state.count += chunk.length;
          connection.write(`${connection.state.count};`);
        },
      });
      const a = await client(server);
      const b = await client(server);
      a.socket.write('aaa');
      expect((await a.read(2)).toString()).toBe('3;');
      b.socket.write('b');
      expect((await b.read(2)).toString()).toBe('1;');
      a.socket.write('aa');
      expect((await a.read(2)).toString()).toBe('5;');
    });

    it('small writes in a row each arrive as written, whatever their size and wherever they came from', async () => {
      // Writes of up to 64 bytes cross from a shared staging buffer on the native backend;
      // each must be taken before the next overwrites it, outside a batch and inside one.
      const pieces = [
        ...Array.from({ length: 66 }, (_, n) => Buffer.alloc(n, 0x41 + (n % 26))),
        Buffer.from('a string is bytes too'),
        new Uint8Array([1, 2, 3]),
        Buffer.alloc(200, 0x7a).subarray(100, 164),
      ];
      const expected = Buffer.concat([...pieces, ...pieces].map((piece) => Buffer.from(piece)));
      const server = await serve({
        open(connection) {
          for (const piece of pieces) connection.write(piece);
        },
        data(connection) {
          for (const piece of pieces) connection.write(piece);
        },
      });
      const raw = await client(server);
      raw.socket.write('go');
      expect((await raw.read(expected.length)).equals(expected)).toBe(true);
    });

    it('end() inside data sends the reply and then closes', async () => {
      let closes = 0;
      const server = await serve({
        data(connection, chunk) {
          connection.write(chunk);
          connection.end();
        },
        close: () => closes++,
      });
      const raw = await client(server);
      raw.socket.write('bye');
      await raw.waitClosed();
      expect(raw.received.toString()).toBe('bye');
      expect(raw.ended).toBe(true);
      await waitFor(() => closes === 1, 'close');
    });

    it('a write in end() still reaches the peer, then the connection closes', async () => {
      const events: string[] = [];
      const server = await serve({
        end(connection) {
          events.push('end');
          expect(connection.write('last words')).toBe(true);
        },
        close: () => events.push('close'),
      });
      const raw = await client(server);
      raw.socket.end('bye');
      await raw.waitClosed();
      expect(raw.received.toString()).toBe('last words');
      await waitFor(() => events.length === 2, 'close');
      expect(events).toEqual(['end', 'close']);
    });

    // Ending our side after the peer's end, with nothing queued, closes the connection at
    // once (native: binding.end answers CLOSED_NOW and no close record follows); each way
    // there, the handler hears end and close once each, in that order, after its replies.
    it('data and the peer end in one read: the reply leaves, then end and close, once each', async () => {
      const events: string[] = [];
      const server = await serve({
        data(connection, chunk) {
          events.push(`data:${chunk}`);
          connection.write(chunk.toString().toUpperCase());
        },
        end: () => events.push('end'),
        close: (_connection, error) => events.push(`close:${error ?? 'none'}`),
      });
      for (let round = 0; round < 20; round++) {
        const raw = await client(server);
        raw.socket.end(`bye${round}`);
        await raw.waitClosed();
        expect(raw.received.toString()).toBe(`BYE${round}`);
      }
      await waitFor(() => events.length === 60, `60 events (got ${events.length})`);
      expect(events).toEqual(Array.from({ length: 20 }, (_, i) => [`data:bye${i}`, 'end', 'close:none']).flat());
      await waitFor(() => server.connections === 0, 'no connections left');
    });

    it('end() in data() after the peer ended in the same read: end() still runs, close follows once', async () => {
      const events: string[] = [];
      const server = await serve({
        data(connection, chunk) {
          events.push('data');
          connection.write(chunk);
          connection.end();
          events.push(`ending:${connection.closed}`);
        },
        end: () => events.push('end'),
        close: () => events.push('close'),
      });
      const raw = await client(server);
      raw.socket.end('last');
      await raw.waitClosed();
      expect(raw.received.toString()).toBe('last');
      await waitFor(() => events.includes('close'), 'close');
      await sleep(50);
      expect(events).toEqual(['data', 'ending:false', 'end', 'close']);
    });

    it('with allowHalfOpen, end() from a timer after the peer ended closes: close once, after end', async () => {
      const events: string[] = [];
      const server = await serve(
        {
          end(connection) {
            events.push('end');
            setTimeout(() => {
              connection.end();
              events.push(`ended, closed:${connection.closed}`);
              expect(connection.write('too late')).toBe(false);
            }, 30);
          },
          close: (_connection, error) => events.push(`close:${error ?? 'none'}`),
        },
        { allowHalfOpen: true },
      );
      const raw = await client(server);
      raw.socket.end();
      await raw.waitClosed();
      await waitFor(() => events.length === 3, `3 events (got ${events.join()})`);
      await sleep(50);
      expect(events).toEqual(['end', 'ended, closed:false', 'close:none']);
      expect(raw.received.length).toBe(0);
      await waitFor(() => server.connections === 0, 'no connections left');
    });

    it('end() and then a throw in end(): error and close both carry the handler failure', async () => {
      const events: string[] = [];
      const server = await serve({
        end(connection) {
          connection.end();
          throw new Error('boom after end');
        },
        error: (_connection, error) => events.push(`error:${error.code}`),
        close: (_connection, error) => events.push(`close:${(error as NodeJS.ErrnoException | undefined)?.code ?? 'none'}`),
      });
      const raw = await client(server);
      raw.socket.end();
      await raw.waitClosed();
      await waitFor(() => events.some((e) => e.startsWith('close')), 'close');
      await sleep(50);
      expect(events).toEqual(['error:ERR_SOCKENGINE_HANDLER', 'close:ERR_SOCKENGINE_HANDLER']);
    });

    it('end() from other JavaScript in the turn the peer end was read: end, then close, on one object', async () => {
      // A node:net socket in this process is the trigger. A Python peer makes three round trips
      // (so the engine's connection is watched by Node's own poller, native/addon/host_poll.h),
      // then, told to go while this thread is busy, ends its connection and writes to the
      // trigger, so both are ready at the next poll: the trigger's callback calls end() after
      // the engine read the FIN and before that end reached the handler (in the check phase).
      const seen: Connection[] = [];
      const events: string[] = [];
      const server = await serve(
        {
          open: (connection) => void seen.push(connection),
          data: (connection, chunk) => void connection.write(chunk),
          end: (connection) => events.push(`end:${seen.indexOf(connection)}`),
          close: (connection) => events.push(`close:${seen.indexOf(connection)}`),
        },
        { allowHalfOpen: true },
      );
      const trigger = net.createServer((socket) => socket.on('data', () => seen.at(-1)?.end()));
      await new Promise<void>((resolve) => trigger.listen(0, '127.0.0.1', resolve));
      const script = [
        'import socket, sys',
        `poke = socket.create_connection(('127.0.0.1', ${(trigger.address() as net.AddressInfo).port}))`,
        'for line in sys.stdin:',
        `    main = socket.create_connection(('127.0.0.1', ${server.address().port}))`,
        '    for ask in (b"a", b"b", b"c"):',
        '        main.sendall(ask)',
        '        main.recv(100)',
        '    print("connected", flush=True)',
        '    sys.stdin.readline()',
        '    main.shutdown(socket.SHUT_WR)',
        '    poke.sendall(b"x")',
        '    while main.recv(100): pass',
        '    main.close()',
        '    print("closed", flush=True)',
      ].join('\n');
      const peer = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      peer.stdout!.on('data', (chunk) => (out += chunk));
      try {
        for (let round = 0; round < 3; round++) {
          peer.stdin!.write('open\n');
          await waitFor(() => seen.length === round + 1 && out.split('connected').length === round + 2, 'open');
          peer.stdin!.write('go\n');
          const until = Date.now() + 100;
          while (Date.now() < until); // Busy: the FIN and the trigger's byte arrive meanwhile.
          await waitFor(() => out.split('closed').length === round + 2, `the peer's close ${round}`);
          await waitFor(() => events.includes(`close:${round}`), `close of connection ${round}`);
        }
        await sleep(50);
        expect(events).toEqual(Array.from({ length: 3 }, (_, i) => [`end:${i}`, `close:${i}`]).flat());
        expect(seen).toHaveLength(3);
        await waitFor(() => server.connections === 0, 'no connections left');
      } finally {
        peer.kill();
        trigger.close();
      }
    });

    it('a paused connection hears the peer end only after resume()', async () => {
      const events: string[] = [];
      let conn: Connection | undefined;
      const server = await serve({
        data(connection, chunk) {
          events.push(`data:${chunk}`);
          conn = connection;
          connection.pause();
        },
        end: () => events.push('end'),
        close: () => events.push('close'),
      });
      const raw = await client(server);
      raw.socket.write('one');
      await waitFor(() => events.length === 1, 'data');
      raw.socket.end();
      await sleep(100);
      expect(events).toEqual(['data:one']);
      conn!.resume();
      await waitFor(() => events.includes('close'), 'close');
      expect(events).toEqual(['data:one', 'end', 'close']);
      await raw.waitClosed();
    });

    it('destroy() inside open closes at once, with close and nothing else', async () => {
      const events: string[] = [];
      const server = await serve({
        open(connection) {
          events.push('open');
          connection.destroy();
          expect(connection.write('late')).toBe(false);
        },
        data: () => events.push('data'),
        end: () => events.push('end'),
        close: (_connection, error) => events.push(`close:${error ?? 'none'}`),
      });
      const raw = await client(server);
      raw.socket.write('ignored');
      await raw.waitClosed();
      await waitFor(() => events.length === 2, 'close');
      await sleep(50);
      expect(events).toEqual(['open', 'close:none']);
      expect(raw.received.length).toBe(0);
    });

    it('destroy() inside data stops further data and closes once', async () => {
      const events: string[] = [];
      const server = await serve({
        data(connection) {
          events.push('data');
          connection.destroy();
          connection.destroy();
        },
        close: () => events.push('close'),
      });
      const raw = await client(server);
      raw.socket.write('one');
      await raw.waitClosed();
      await waitFor(() => events.includes('close'), 'close');
      await sleep(50);
      expect(events).toEqual(['data', 'close']);
    });

    it('closing B from A, while B has an event waiting, drops B cleanly; a new connection is unaffected', async () => {
      const byName = new Map<string, Connection<string>>();
      const log: string[] = [];
      const server = await serve({
        open(connection: Connection<string>) {
          connection.state = '';
        },
        data(connection: Connection<string>, chunk) {
          const text = chunk.toString();
          if (connection.state === '') {
            connection.state = text.slice(0, 1);
            byName.set(connection.state, connection);
          }
          log.push(`${connection.state}:data`);
          if (text.includes('kill-b')) byName.get('b')?.destroy();
          connection.write(text.toUpperCase());
        },
        close(connection: Connection<string>) {
          log.push(`${connection.state}:close`);
        },
      });
      const a = await client(server);
      const b = await client(server);
      b.socket.write('b-hello');
      expect((await b.read(7)).toString()).toBe('B-HELLO');
      // Both writes go out back to back, so the engine usually sees them in one wake-up.
      a.socket.write('a-kill-b');
      b.socket.write('b-after');
      await a.read(8);
      await b.waitClosed();
      await waitFor(() => log.includes('b:close'), 'b close');
      const afterClose = log.slice(log.indexOf('b:close') + 1);
      expect(afterClose.filter((entry) => entry.startsWith('b:'))).toEqual([]);
      expect(log.filter((entry) => entry === 'b:close')).toHaveLength(1);
      // A new connection may get B's descriptor number; it must get its own events only.
      const c = await client(server);
      c.socket.write('c-new');
      expect((await c.read(5)).toString()).toBe('C-NEW');
      a.socket.write('a-again');
      expect((await a.read(7)).toString()).toBe('A-AGAIN');
      expect(log.filter((entry) => entry.startsWith('b:'))).toEqual(['b:data', 'b:close']);
    });

    it('a paused connection whose peer resets hears error() and close() once; write() and destroy() after it do nothing', async () => {
      const seen = new Set<Connection>();
      const events: string[] = [];
      let first: Connection | undefined;
      const server = await serve({
        data(connection) {
          seen.add(connection);
          first ??= connection;
          connection.pause(); // Pause holds data, not failures: the reset is still heard.
        },
        error(connection) {
          seen.add(connection);
          events.push('error');
        },
        close(connection) {
          seen.add(connection);
          events.push('close');
        },
      });
      const raw = await client(server);
      raw.socket.write('x');
      await waitFor(() => first !== undefined, 'data');
      raw.socket.resetAndDestroy();
      await sleep(50);
      expect(first!.write('y')).toBe(false);
      first!.destroy();
      await sleep(100);
      expect(events).toEqual(['error', 'close']);
      expect(seen.size).toBe(1);
    });

    it('a closed connection object cannot touch the connection that reuses its slot', async () => {
      let stale: Connection | undefined;
      const server = await serve({
        data(connection, chunk) {
          stale ??= connection;
          connection.write(chunk);
        },
      });
      const first = await client(server);
      first.socket.write('a');
      await first.read(1);
      first.socket.resetAndDestroy();
      await waitFor(() => stale!.closed, 'the first close');
      // Many connections come and go, so slots (and ids) get reused.
      for (let i = 0; i < 20; i++) {
        const passer = await client(server);
        passer.socket.write('p');
        await passer.read(1);
        passer.socket.destroy();
      }
      const victim = await client(server);
      victim.socket.write('v');
      await victim.read(1);
      expect(stale!.write('INJECTED')).toBe(false);
      stale!.end();
      stale!.destroy();
      await sleep(50);
      expect(victim.received.length).toBe(0);
      expect(victim.ended).toBe(false);
      victim.socket.write('still mine');
      expect((await victim.read(10)).toString()).toBe('still mine');
    });

    it('a peer reset gives error and then close with the same error', async () => {
      const events: string[] = [];
      let closeError: Error | undefined;
      let errorSeen: Error | undefined;
      const server = await serve({
        data: () => events.push('data'),
        error(_connection, error) {
          errorSeen = error;
          events.push(`error:${(error as NodeJS.ErrnoException).code}`);
        },
        close(_connection, error) {
          closeError = error;
          events.push('close');
        },
      });
      const raw = await client(server);
      raw.socket.write('x');
      await waitFor(() => events.includes('data'), 'data');
      raw.socket.resetAndDestroy();
      await waitFor(() => events.includes('close'), 'close');
      expect(events).toEqual(['data', 'error:ECONNRESET', 'close']);
      expect(closeError).toBe(errorSeen);
      expect((closeError as NodeJS.ErrnoException).syscall).toBe('read');
    });

    it('pause() holds data until resume(), in order', async () => {
      const chunks: string[] = [];
      let paused: Connection | undefined;
      const server = await serve({
        data(connection, chunk) {
          chunks.push(chunk.toString());
          if (!paused) {
            paused = connection;
            connection.pause();
          }
        },
      });
      const raw = await client(server);
      raw.socket.write('first');
      await waitFor(() => chunks.length === 1, 'first chunk');
      raw.socket.write('second');
      await sleep(100);
      expect(chunks).toEqual(['first']);
      paused!.resume();
      await waitFor(() => chunks.join('') === 'firstsecond', 'held data');
    });

    it('write() returns false past the high-water mark, drain follows, and every byte arrives in order', async () => {
      const total = 8 * 1024 * 1024;
      const pattern = Buffer.alloc(total);
      for (let i = 0; i < total; i++) pattern[i] = (i * 7 + (i >> 10)) & 0xff;
      let sawFalse = false;
      let drains = 0;
      let sent = 0;
      let lastConnection: Connection | undefined;
      const pump = (connection: Connection) => {
        lastConnection = connection;
        while (sent < total) {
          const piece = pattern.subarray(sent, Math.min(total, sent + 65536));
          sent += piece.length;
          if (!connection.write(piece)) {
            sawFalse = true;
            expect(connection.bufferedBytes).toBeGreaterThan(0);
            return;
          }
        }
        connection.end();
      };
      const server = await serve({
        open: pump,
        drain(connection) {
          drains++;
          pump(connection);
        },
      });
      const raw = await client(server);
      raw.socket.pause(); // A peer that stops reading...
      await sleep(200);
      expect(sawFalse).toBe(true);
      expect(sent).toBeLessThan(total);
      raw.socket.resume(); // ...then reads everything.
      await raw.waitClosed(20_000);
      expect(drains).toBeGreaterThan(0);
      expect(lastConnection!.bufferedBytes).toBe(0);
      expect(raw.received.length).toBe(total);
      expect(raw.received.equals(pattern)).toBe(true);
    });

    it('many fast senders at once: every byte arrives, in order per connection', async () => {
      const perClient = 2 * 1024 * 1024;
      const pattern = (seed: number) => {
        const bytes = Buffer.alloc(perClient);
        for (let i = 0; i < perClient; i++) bytes[i] = (i * 31 + seed + (i >> 12)) & 0xff;
        return bytes;
      };
      const received = new Map<Connection<number>, Buffer[]>();
      const server = await serve({
        data(connection: Connection<number>, chunk) {
          const list = received.get(connection) ?? [];
          list.push(Buffer.from(chunk));
          received.set(connection, list);
        },
      });
      const senders = await Promise.all([...Array(24).keys()].map(() => client(server)));
      const payloads = senders.map((_sender, i) => pattern(i));
      senders.forEach((sender, i) => sender.socket.write(payloads[i]));
      const total = () => [...received.values()].reduce((sum, list) => sum + list.reduce((n, b) => n + b.length, 0), 0);
      await waitFor(() => total() === perClient * senders.length, `all ${perClient * 24} bytes (got ${total()})`, 20_000);
      const streams = [...received.values()].map((list) => Buffer.concat(list));
      for (const stream of streams) {
        expect(payloads.some((payload) => payload.equals(stream))).toBe(true);
      }
    });

    it('serves 1,000 concurrent connections', async () => {
      let open = 0;
      const server = await serve({
        open: () => open++,
        data: (connection, chunk) => connection.write(chunk.toString().toUpperCase()),
        close: () => open--,
      });
      const peers = await Promise.all([...Array(1000).keys()].map(() => client(server)));
      await waitFor(() => open === 1000, '1000 opens');
      expect(server.connections).toBe(1000);
      peers.forEach((peer, i) => peer.socket.write(`msg-${i}`));
      const replies = await Promise.all(peers.map((peer, i) => peer.read(`msg-${i}`.length, 10_000)));
      replies.forEach((reply, i) => expect(reply.toString()).toBe(`MSG-${i}`));
      peers.forEach((peer) => peer.socket.end());
      await waitFor(() => open === 0, 'all closes', 10_000);
      expect(server.connections).toBe(0);
    });

    it('handler objects stay alive when nothing else references them', async () => {
      const server = await serve(
        (() => ({ data: (connection: Connection, chunk: Buffer) => connection.write(chunk.toString().toUpperCase()) }))(),
      );
      const raw = await client(server);
      raw.socket.write('before');
      await raw.read(6);
      collectGarbage();
      await sleep(20);
      collectGarbage();
      raw.socket.write('after');
      expect((await raw.read(5)).toString()).toBe('AFTER');
    });
  });

  describe('client', () => {
    it('connect() resolves after open, and the handler gets the reply and the close', async () => {
      const server = await serve('uppercase');
      const events: string[] = [];
      const connection = await connect({
        port: server.address().port,
        backend,
        handler: {
          open: () => events.push('open'),
          data: (_connection, chunk) => events.push(`data:${chunk}`),
          close: () => events.push('close'),
        },
      });
      expect(events).toEqual(['open']);
      expect(connection.remotePort).toBe(server.address().port);
      expect(connection.remoteAddress).toBe('127.0.0.1');
      connection.write('hello');
      await waitFor(() => events.length === 2, 'reply');
      expect(events[1]).toBe('data:HELLO');
      connection.end();
      await waitFor(() => events.includes('close'), 'close');
      expect(events).toEqual(['open', 'data:HELLO', 'close']);
    });

    it('connect() to a closed port rejects with ECONNREFUSED and calls no handler member', async () => {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as net.AddressInfo).port;
      await new Promise((resolve) => probe.close(resolve));
      const calls: string[] = [];
      const handler = { open: () => calls.push('open'), close: () => calls.push('close'), error: () => calls.push('error') };
      await expect(connect({ port, backend, handler })).rejects.toMatchObject({ code: 'ECONNREFUSED', syscall: 'connect' });
      await sleep(20);
      expect(calls).toEqual([]);
    });

    it('connect() resolves host names', async () => {
      const server = await serve('echo');
      const received: string[] = [];
      const connection = await connect({
        host: 'localhost',
        port: server.address().port,
        backend,
        handler: { data: (_connection, chunk) => received.push(chunk.toString()) },
      }).catch(async () =>
        // localhost may resolve to ::1 first on some machines; the server is on 127.0.0.1.
        connect({ host: '127.0.0.1', port: server.address().port, backend, handler: { data: (_c, chunk) => received.push(chunk.toString()) } }),
      );
      connection.write('named');
      await waitFor(() => received.join('') === 'named', 'echo');
      connection.destroy();
    });

    it('writes made in open() go out, and a server-side end reaches the client', async () => {
      const server = await serve({
        data(connection, chunk) {
          connection.write(chunk);
          connection.end();
        },
      });
      const events: string[] = [];
      await connect({
        port: server.address().port,
        backend,
        handler: {
          open: (connection) => connection.write('early'),
          data: (_connection, chunk) => events.push(`data:${chunk}`),
          end: () => events.push('end'),
          close: () => events.push('close'),
        },
      });
      await waitFor(() => events.includes('close'), 'close');
      expect(events).toEqual(['data:early', 'end', 'close']);
    });
  });

  describe('servers', () => {
    it('close() stops accepting, lets open connections finish, and resolves when they have', async () => {
      const server = await listen({ port: 0, backend, handler: { data: (c, chunk) => c.write(chunk) } });
      const port = server.address().port;
      const raw = await RawClient.connect(port);
      raw.socket.write('a');
      await raw.read(1);
      let resolved = false;
      const closing = server.close();
      expect(server.close()).toBe(closing);
      void closing.then(() => (resolved = true));
      await expect(RawClient.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      raw.socket.write('still served');
      expect((await raw.read(12)).toString()).toBe('still served');
      expect(resolved).toBe(false);
      raw.socket.end();
      await closing;
      expect(resolved).toBe(true);
    });

    it('a taken port fails with EADDRINUSE', async () => {
      const server = await serve('echo');
      await expect(listen({ port: server.address().port, backend, handler: 'echo' })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    });

    it('listens on IPv6 loopback', async () => {
      const server = await listen({ host: '::1', port: 0, backend, handler: 'uppercase' });
      servers.push(server);
      expect(server.address()).toMatchObject({ address: '::1', family: 'IPv6' });
      const raw = await RawClient.connect(server.address().port, '::1');
      clients.push(raw);
      raw.socket.write('six');
      expect((await raw.read(3)).toString()).toBe('SIX');
    });

    it('leaks no descriptor across many connections and a close', async () => {
      const before = openFds();
      const server = await listen({ port: 0, backend, handler: 'echo' });
      for (let round = 0; round < 5; round++) {
        const peers = await Promise.all([...Array(40).keys()].map(() => RawClient.connect(server.address().port)));
        peers.forEach((peer) => peer.socket.write('x'));
        await Promise.all(peers.map((peer) => peer.read(1)));
        peers.forEach((peer) => peer.socket.destroy());
        await Promise.all(peers.map((peer) => peer.waitClosed()));
      }
      await server.close();
      await waitFor(() => openFds() <= before, `descriptors back to ${before} (now ${openFds()})`);
    });
  });
});

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
