/** The UDP conformance suite: every datagram behaviour, on every backend. */
import * as dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connect,
  listen,
  type DatagramSocket,
  type RemoteInfo,
  type UdpHandler,
  type UdpServer,
} from '../lib/index.js';
import { backends, sleep, waitFor } from './helpers.js';

/** A plain node:dgram peer: independent of either backend. */
class Peer {
  readonly socket: dgram.Socket;
  readonly received: Array<{ data: Buffer; port: number }> = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (data, rinfo) => this.received.push({ data, port: rinfo.port }));
  }

  static async open(type: 'udp4' | 'udp6' = 'udp4', host = type === 'udp4' ? '127.0.0.1' : '::1'): Promise<Peer> {
    const socket = dgram.createSocket(type);
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return new Peer(socket);
  }

  send(data: Buffer | string, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, host, (error) => (error ? reject(error) : resolve())));
  }

  async take(count: number, timeoutMs = 5000): Promise<Buffer[]> {
    await waitFor(() => this.received.length >= count, `${count} datagrams (got ${this.received.length})`, timeoutMs);
    return this.received.splice(0, count).map((entry) => entry.data);
  }

  get port(): number {
    return this.socket.address().port;
  }
}

const upper = (text: string) => text.replace(/[a-z]/g, (c) => c.toUpperCase());

describe.each(backends)('%s backend, UDP', (backend) => {
  const servers: UdpServer[] = [];
  const peers: Peer[] = [];
  const sockets: DatagramSocket[] = [];

  async function serve(handler: UdpHandler | 'uppercase' | 'echo' | `reply:${string}`, extra: object = {}) {
    const server = await listen({ transport: 'udp', port: 0, backend, handler, ...extra });
    servers.push(server);
    return server;
  }

  async function peer(type: 'udp4' | 'udp6' = 'udp4', host?: string) {
    const p = await Peer.open(type, host);
    peers.push(p);
    return p;
  }

  afterEach(async () => {
    for (const p of peers.splice(0)) p.socket.close();
    for (const socket of sockets.splice(0)) socket.close();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  describe('built-in handlers', () => {
    it('uppercase answers each datagram to its sender, ASCII a-z only', async () => {
      const server = await serve('uppercase');
      expect(server.backend).toBe(backend);
      const p = await peer();
      const bytes = Buffer.from([...Array(256).keys()]);
      await p.send(bytes, server.address().port);
      await p.send('hello udp', server.address().port);
      const [first, second] = await p.take(2);
      expect(first).toEqual(Buffer.from(bytes.map((c) => (c >= 0x61 && c <= 0x7a ? c - 32 : c))));
      expect(second!.toString()).toBe('HELLO UDP');
    });

    it('echo and reply:TEXT answer each datagram', async () => {
      const echo = await serve('echo');
      const reply = await serve('reply:Message received.');
      const p = await peer();
      await p.send('same', echo.address().port);
      expect((await p.take(1))[0]!.toString()).toBe('same');
      await p.send('anything', reply.address().port);
      expect((await p.take(1))[0]!.toString()).toBe('Message received.');
    });

    it('answers every one of many datagrams from many senders', async () => {
      const server = await serve('uppercase');
      const senders = await Promise.all([...Array(16).keys()].map(() => peer()));
      for (let round = 0; round < 8; round++) {
        await Promise.all(senders.map((p, i) => p.send(`msg-${i}-${round}-abc`, server.address().port)));
      }
      for (const [i, p] of senders.entries()) {
        const got = (await p.take(8)).map(String).sort();
        expect(got).toEqual([...Array(8).keys()].map((round) => `MSG-${i}-${round}-ABC`).sort());
      }
      const stats = server.stats();
      expect(stats.datagramsIn).toBe(128);
      expect(stats.datagramsOut).toBe(128);
    });

    it('empty datagrams are answered', async () => {
      const server = await serve('uppercase');
      const p = await peer();
      await p.send(Buffer.alloc(0), server.address().port);
      expect((await p.take(1))[0]!.length).toBe(0);
    });
  });

  describe('JavaScript handlers', () => {
    it('message() gets data and rinfo, and send() replies', async () => {
      const seen: RemoteInfo[] = [];
      const server = await serve({
        message(socket, data, rinfo) {
          seen.push(rinfo);
          socket.send(upper(data.toString()), rinfo.port, rinfo.address);
        },
      });
      const p = await peer();
      await p.send('ping', server.address().port);
      expect((await p.take(1))[0]!.toString()).toBe('PING');
      expect(seen).toEqual([{ address: '127.0.0.1', port: p.port, family: 'IPv4', size: 4, truncated: false }]);
    });

    it('rinfo names every sender exactly, and a datagram the handler keeps stays as it came', async () => {
      const seen: Array<{ text: string; address: string; family: string }> = [];
      const kept: Buffer[] = [];
      const server = await serve({
        message(socket, data, rinfo) {
          kept.push(data);
          seen.push({ text: data.toString(), address: rinfo.address, family: rinfo.family });
          socket.send(data, rinfo.port, rinfo.address);
        },
      });
      // Bytes of one, two and three digits, zeros and 255: each address is written out anew.
      const hosts = ['127.0.0.1', '127.10.200.5', '127.255.0.99', '127.1.23.0', '127.100.9.255'];
      for (const host of hosts) {
        const socket = dgram.createSocket('udp4');
        await new Promise<void>((resolve) => socket.bind(0, host, resolve));
        const reply = new Promise<Buffer>((resolve) => socket.once('message', resolve));
        socket.send(`from ${host}`, server.address().port, '127.0.0.1');
        expect((await reply).toString()).toBe(`from ${host}`);
        socket.close();
      }
      expect(seen).toEqual(hosts.map((host) => ({ text: `from ${host}`, address: host, family: 'IPv4' })));
      expect(kept.map((data) => data.toString())).toEqual(hosts.map((host) => `from ${host}`));

      const six = await listen({ transport: 'udp', host: '::1', port: 0, backend, handler: { message: (_s, data, rinfo) => seen.push({ text: data.toString(), address: rinfo.address, family: rinfo.family }) } });
      servers.push(six);
      const p = await peer('udp6');
      await p.send('six', six.address().port, '::1');
      await waitFor(() => seen.length === hosts.length + 1, 'the IPv6 datagram');
      expect(seen.at(-1)).toEqual({ text: 'six', address: '::1', family: 'IPv6' });
    });

    it('interleaved senders each get their own address in rinfo and their own replies, now and later', async () => {
      // The native engine names a request-reply peer's address once, not per datagram, and
      // keeps the last destination a send named: senders that alternate, share an address
      // (another port) or are answered late must still be told apart.
      const seen: string[] = [];
      const server = await serve({
        message(socket, data, rinfo) {
          seen.push(`${rinfo.address}:${rinfo.port} ${data}`);
          const reply = `${data} for ${rinfo.address}:${rinfo.port}`;
          if (data.toString().startsWith('later')) setTimeout(() => socket.send(reply, rinfo.port, rinfo.address), 30);
          else socket.send(reply, rinfo.port, rinfo.address);
        },
      });
      const port = server.address().port;
      const a = await peer();
      const b = await peer('udp4', '127.0.0.2');
      const c = await peer(); // the same address as a, another port
      const name = (p: Peer) => `${p.socket.address().address}:${p.port}`;
      const order: Array<[Peer, string]> = [
        [a, 'one'], [a, 'two'], [b, 'three'], [b, 'four'], [a, 'later-five'], [c, 'six'], [c, 'seven'], [a, 'eight'], [b, 'nine'],
      ];
      for (const [p, text] of order) {
        await p.send(text, port);
        // One at a time, so each is its own batch: the shapes the engine shortens.
        await waitFor(() => seen.length > 0 && seen.at(-1)!.endsWith(text), `the server to get ${text}`);
      }
      expect(seen).toEqual(order.map(([p, text]) => `${name(p)} ${text}`));
      const replies = async (p: Peer, texts: string[]) =>
        (await p.take(texts.length)).map((data) => data.toString()).sort();
      const expected = (p: Peer) =>
        order.filter(([q]) => q === p).map(([, text]) => `${text} for ${name(p)}`).sort();
      expect(await replies(a, expected(a))).toEqual(expected(a));
      expect(await replies(b, expected(b))).toEqual(expected(b));
      expect(await replies(c, expected(c))).toEqual(expected(c));
      await sleep(50);
      expect([a, b, c].map((p) => p.received.length)).toEqual([0, 0, 0]);
    });

    it('sendMany() sends every datagram, in order', async () => {
      const server = await serve({
        message(socket, data, rinfo) {
          const count = Number(data.toString());
          socket.sendMany([...Array(count).keys()].map((i) => ({ data: `part-${i}`, port: rinfo.port, address: rinfo.address })));
        },
      });
      const p = await peer();
      // More than one sendmmsg batch (64): each datagram leaves exactly once, in order.
      await p.send('150', server.address().port);
      const got = (await p.take(150)).map(String);
      expect(got).toEqual([...Array(150).keys()].map((i) => `part-${i}`));
      await sleep(50);
      expect(p.received).toEqual([]);
      expect(server.stats().datagramsOut).toBe(150);
    });

    it('a datagram sent just before close() still leaves', async () => {
      let closes = 0;
      const server = await listen({
        transport: 'udp',
        port: 0,
        backend,
        handler: {
          message(socket, data, rinfo) {
            socket.send(`last:${data}`, rinfo.port, rinfo.address);
            socket.close();
          },
          close: () => closes++,
        },
      });
      const p = await peer();
      await p.send('x', server.address().port);
      expect((await p.take(1))[0]!.toString()).toBe('last:x');
      await waitFor(() => closes === 1, 'close');
      expect(server.stats().datagramsOut).toBe(1);
    });

    it('a 65,507-byte datagram arrives whole', async () => {
      const sizes: number[] = [];
      const server = await serve({
        message(socket, data, rinfo) {
          sizes.push(data.length);
          socket.send(data, rinfo.port, rinfo.address);
        },
      });
      const p = await peer();
      const big = Buffer.alloc(65507, 'q');
      await p.send(big, server.address().port);
      const [reply] = await p.take(1);
      expect(sizes).toEqual([65507]);
      expect(reply!.equals(big)).toBe(true);
    });

    it('a datagram longer than maxDatagramSize is delivered cut, flagged and counted', async () => {
      const seen: Array<{ length: number; rinfo: RemoteInfo }> = [];
      const server = await serve(
        { message: (_socket, data, rinfo) => seen.push({ length: data.length, rinfo }) },
        { maxDatagramSize: 1000 },
      );
      const p = await peer();
      await p.send(Buffer.alloc(2500, 'x'), server.address().port);
      await p.send(Buffer.alloc(1000, 'y'), server.address().port);
      await waitFor(() => seen.length === 2, 'two datagrams');
      expect(seen[0]).toMatchObject({ length: 1000, rinfo: { size: 2500, truncated: true } });
      expect(seen[1]).toMatchObject({ length: 1000, rinfo: { size: 1000, truncated: false } });
      expect(server.stats()).toMatchObject({ datagramsIn: 2, bytesIn: 3500, truncated: 1 });
    });

    it('a built-in does not answer a truncated datagram, and counts it', async () => {
      const server = await serve('uppercase', { maxDatagramSize: 100 });
      const p = await peer();
      await p.send(Buffer.alloc(200, 'a'), server.address().port);
      await p.send('short', server.address().port);
      expect((await p.take(1))[0]!.toString()).toBe('SHORT');
      await sleep(50);
      expect(p.received).toEqual([]);
      expect(server.stats()).toMatchObject({ datagramsIn: 2, datagramsOut: 1, truncated: 1 });
    });

    it('sending more than the maximum gives EMSGSIZE to error(), and the socket keeps working', async () => {
      const errors: Error[] = [];
      const server = await serve({
        message(socket, data, rinfo) {
          if (data.toString() === 'big') socket.send(Buffer.alloc(70000), rinfo.port, rinfo.address);
          else socket.send(data, rinfo.port, rinfo.address);
        },
        error: (_socket, error) => errors.push(error),
      });
      const p = await peer();
      await p.send('big', server.address().port);
      await waitFor(() => errors.length === 1, 'the EMSGSIZE error');
      expect(errors[0]).toMatchObject({ code: 'EMSGSIZE', syscall: 'send' });
      expect(server.stats().sendErrors).toBe(1);
      await p.send('after', server.address().port);
      expect((await p.take(1))[0]!.toString()).toBe('after');
    });

    it('empty datagrams are delivered to JavaScript', async () => {
      const sizes: number[] = [];
      const server = await serve({ message: (_socket, data, rinfo) => sizes.push(data.length, rinfo.size) });
      const p = await peer();
      await p.send(Buffer.alloc(0), server.address().port);
      await waitFor(() => sizes.length === 2, 'the empty datagram');
      expect(sizes).toEqual([0, 0]);
    });

    it('counts datagrams and bytes in and out', async () => {
      const server = await serve({ message: (socket, data, rinfo) => socket.send(data, rinfo.port, rinfo.address) });
      const p = await peer();
      for (const text of ['a', 'bb', 'ccc']) await p.send(text, server.address().port);
      await p.take(3);
      await waitFor(() => server.stats().datagramsOut === 3, 'three sends counted');
      expect(server.stats()).toEqual({ datagramsIn: 3, bytesIn: 6, datagramsOut: 3, bytesOut: 6, truncated: 0, sendErrors: 0 });
    });

    it('bad send() arguments throw, naming what was wrong', async () => {
      const thrown: unknown[] = [];
      const server = await serve({
        message(socket, _data, rinfo) {
          for (const attempt of [
            () => socket.send(42 as never, rinfo.port, rinfo.address),
            () => socket.send('x', 0, rinfo.address),
            () => socket.send('x', rinfo.port),
            () => socket.send('x', rinfo.port, 'fe80::1%lo'),
          ]) {
            try {
              attempt();
            } catch (error) {
              thrown.push(error);
            }
          }
        },
      });
      const p = await peer();
      await p.send('go', server.address().port);
      await waitFor(() => thrown.length === 4, 'four errors');
      expect(thrown[0]).toBeInstanceOf(TypeError);
      expect(thrown[1]).toBeInstanceOf(RangeError);
      expect(String(thrown[2])).toMatch(/address must be a non-empty string/);
      expect(String(thrown[3])).toMatch(/zone ids/);
    });

    it('works on IPv6 loopback', async () => {
      const server = await listen({ transport: 'udp', host: '::1', port: 0, backend, handler: 'uppercase' });
      servers.push(server);
      expect(server.address()).toMatchObject({ address: '::1', family: 'IPv6' });
      const p = await peer('udp6');
      await p.send('six', server.address().port, '::1');
      expect((await p.take(1))[0]!.toString()).toBe('SIX');
    });
  });

  describe('connected client', () => {
    it('sends to its peer and hears the reply, resolving a host name', async () => {
      const server = await serve('uppercase');
      const replies: string[] = [];
      const socket = await connect({
        transport: 'udp',
        host: 'localhost',
        port: server.address().port,
        backend,
        handler: { message: (_socket, data) => replies.push(data.toString()) },
      }).catch(() =>
        // localhost may resolve to ::1 first; the server is on 127.0.0.1.
        connect({ transport: 'udp', host: '127.0.0.1', port: server.address().port, backend, handler: { message: (_s, d) => replies.push(d.toString()) } }),
      );
      sockets.push(socket);
      expect(socket.backend).toBe(backend);
      socket.send('hello');
      socket.sendMany([{ data: 'one' }, { data: 'two' }]);
      await waitFor(() => replies.length === 3, 'three replies');
      expect(replies).toEqual(['HELLO', 'ONE', 'TWO']);
      expect(() => socket.send('x', 1, '127.0.0.1')).toThrow(/connected socket/);
    });

    it('ICMP port unreachable surfaces as an ECONNREFUSED error event', async () => {
      const probe = await peer();
      const port = probe.port;
      probe.socket.close();
      peers.splice(peers.indexOf(probe), 1);
      const errors: Error[] = [];
      const socket = await connect({
        transport: 'udp',
        host: '127.0.0.1',
        port,
        backend,
        handler: { error: (_socket, error) => errors.push(error) },
      });
      sockets.push(socket);
      socket.send('anyone?');
      await waitFor(() => errors.length > 0, 'the ECONNREFUSED error');
      expect(errors[0]).toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('close() calls the handler close once and send() after it throws', async () => {
      const server = await serve('echo');
      let closes = 0;
      const socket = await connect({ transport: 'udp', port: server.address().port, backend, handler: { close: () => closes++ } });
      socket.close();
      socket.close();
      expect(socket.closed).toBe(true);
      expect(() => socket.send('late')).toThrow(/closed/);
      await sleep(20);
      expect(closes).toBe(1);
    });
  });
});
