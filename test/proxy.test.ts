/**
 * The PROXY protocol on both backends: each header below is sent to a native and a node
 * server over loopback and both must answer it the same way (the client it names, the
 * socket's own address, or a close); split headers; the deadline; built-ins; the parser's
 * prefix rule. test/haproxy.test.ts puts a real HAProxy in front.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { listen, type Connection, type Server } from '../lib/index.js';
import { parseProxyHeader } from '../lib/proxy.js';
import { join } from 'node:path';
import { backends, root, sleep, waitFor } from './helpers.js';

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A v2 header: version/command byte, family/protocol byte, then the address block (and TLVs). */
function v2(command: number, family: number, block: number[]): Buffer {
  return Buffer.from([...SIGNATURE, command, family, block.length >> 8, block.length & 0xff, ...block]);
}
const inet4 = [192, 0, 2, 7, 10, 0, 0, 1, 0x30, 0x39, 0, 80];
const inet6 = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1, ...Array(15).fill(0), 1, 0xc3, 0x50, 0x01, 0xbb];
const mapped = [...Array(10).fill(0), 0xff, 0xff, 198, 51, 100, 9, ...Array(15).fill(0), 1, 0, 7, 0, 8];
const tlv = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63]; // PP2_TYPE_NOOP with 3 bytes

/** [what, bytes sent, what a server that writes `remoteAddress:remotePort|data` answers]. */
const cases: [string, Buffer, string][] = [
  ['v1 TCP4', Buffer.from('PROXY TCP4 203.0.113.5 127.0.0.1 40000 80\r\nping'), '203.0.113.5:40000|ping'],
  ['v1 TCP6, written long-hand', Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 65535\r\nping'), '2001:db8::1:1|ping'],
  ['v1 TCP6, IPv4-mapped', Buffer.from('PROXY TCP6 ::ffff:198.51.100.9 ::1 7 8\r\nping'), '::ffff:198.51.100.9:7|ping'],
  ['v1 UNKNOWN keeps the socket address', Buffer.from('PROXY UNKNOWN ffff::1 ::1 1 2\r\nping'), 'SELF|ping'],
  ['v1 header alone, data later', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 9 10\r\n'), '1.2.3.4:9|'],
  ['v2 INET', Buffer.concat([v2(0x21, 0x11, inet4), Buffer.from('ping')]), '192.0.2.7:12345|ping'],
  ['v2 INET6', Buffer.concat([v2(0x21, 0x21, inet6), Buffer.from('ping')]), '2001:db8::1:50000|ping'],
  ['v2 INET6, IPv4-mapped', Buffer.concat([v2(0x21, 0x21, mapped), Buffer.from('ping')]), '::ffff:198.51.100.9:7|ping'],
  ['v2 INET with TLVs after', Buffer.concat([v2(0x21, 0x11, [...inet4, ...tlv]), Buffer.from('ping')]), '192.0.2.7:12345|ping'],
  ['v2 LOCAL keeps the socket address', Buffer.concat([v2(0x20, 0x11, inet4), Buffer.from('ping')]), 'SELF|ping'],
  ['v2 UNSPEC keeps the socket address', Buffer.concat([v2(0x21, 0x00, []), Buffer.from('ping')]), 'SELF|ping'],
  ['v2 UNIX names no address', Buffer.concat([v2(0x21, 0x31, Array(216).fill(0x61)), Buffer.from('ping')]), ':0|ping'],
  ['no header at all', Buffer.from('GET / HTTP/1.0\r\n\r\n'), 'CLOSED'],
  ['v1 without CR', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 9 10\nping'), 'CLOSED'],
  ['v1 port out of range', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 10\r\n'), 'CLOSED'],
  ['v1 IPv6 address under TCP4', Buffer.from('PROXY TCP4 ::1 ::1 1 2\r\n'), 'CLOSED'],
  ['v1 double space', Buffer.from('PROXY TCP4  1.2.3.4 5.6.7.8 9 10\r\n'), 'CLOSED'],
  ['v1 line past 107 bytes', Buffer.from(`PROXY TCP6 ${'1'.repeat(110)}`), 'CLOSED'],
  ['v1 unknown protocol', Buffer.from('PROXY UDP4 1.2.3.4 5.6.7.8 9 10\r\n'), 'CLOSED'],
  ['v2 version 1', Buffer.concat([v2(0x11, 0x11, inet4), Buffer.from('ping')]), 'CLOSED'],
  ['v2 command 2', Buffer.concat([v2(0x22, 0x11, inet4), Buffer.from('ping')]), 'CLOSED'],
  ['v2 family 4', Buffer.concat([v2(0x21, 0x41, inet4), Buffer.from('ping')]), 'CLOSED'],
  ['v2 INET block too short', Buffer.concat([v2(0x21, 0x11, inet4.slice(0, 8)), Buffer.from('ping')]), 'CLOSED'],
  ['v2 longer than 4096', v2(0x21, 0x11, [...inet4, ...Array(4096).fill(0)]), 'CLOSED'],
  ['v2 signature broken', Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51]), Buffer.from('XXXXXXXX')]), 'CLOSED'],
];

/** A server whose handler writes `remoteAddress:remotePort|` then each chunk, and ends on the peer's end. */
async function reporter(backend: 'native' | 'node', opened: string[] = []): Promise<Server> {
  return listen({
    backend,
    port: 0,
    proxyProtocol: true,
    proxyTimeout: 1000,
    handler: {
      open(conn: Connection) {
        opened.push(`${conn.remoteAddress}:${conn.remotePort}`);
        conn.write(`${conn.remoteAddress}:${conn.remotePort}|`);
      },
      data(conn: Connection, chunk: Buffer) {
        conn.write(chunk);
      },
    },
  });
}

/** Sends `parts` with a pause between them, half-closes, and gives what came back (or CLOSED if nothing). */
function exchange(port: number, parts: Buffer[], gapMs = 0): Promise<{ text: string; self: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let received = '';
    let self = '';
    const timer = setTimeout(() => reject(new Error(`no close; got ${JSON.stringify(received)}`)), 5000);
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => {}); // a reset is one way to be closed
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text: received === '' ? 'CLOSED' : received, self });
    });
    socket.on('connect', async () => {
      self = `${socket.localAddress}:${socket.localPort}`;
      for (const part of parts) {
        if (socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await sleep(gapMs);
      }
      if (!socket.destroyed) socket.end();
    });
  });
}

describe.each(backends)('PROXY protocol on the %s backend', (backend) => {
  it.each(cases)('%s', async (_what, bytes, expected) => {
    const server = await reporter(backend);
    const { text, self } = await exchange(server.address().port, [bytes]);
    expect(text).toBe(expected.replace('SELF', self));
    await server.close();
  });

  it('reads a header split across many reads, and a LOCAL one byte by byte', async () => {
    const server = await reporter(backend);
    const header = Buffer.from('PROXY TCP4 198.51.100.1 127.0.0.1 5555 80\r\n');
    const pieces = [header.subarray(0, 3), header.subarray(3, 17), header.subarray(17, 40), header.subarray(40), Buffer.from('after')];
    expect((await exchange(server.address().port, pieces, 20)).text).toBe('198.51.100.1:5555|after');
    const local = v2(0x20, 0x00, []);
    const bytes = [...local].map((byte) => Buffer.from([byte]));
    const { text, self } = await exchange(server.address().port, [...bytes, Buffer.from('x')], 2);
    expect(text).toBe(`${self}|x`);
    await server.close();
  });

  it('closes a connection that sends no header within proxyTimeout, unseen by the handler, and counts it', async () => {
    const opened: string[] = [];
    const server = await listen({
      backend,
      port: 0,
      proxyProtocol: true,
      proxyTimeout: 150,
      handler: { open: (conn: Connection) => void opened.push(conn.remoteAddress) },
    });
    const silent = net.connect({ port: server.address().port, host: '127.0.0.1' });
    const slow = net.connect({ port: server.address().port, host: '127.0.0.1' });
    slow.write('PROXY TCP4 1.2.3.4'); // never finished: the deadline counts from the accept
    const closed = (socket: net.Socket) => new Promise((resolve) => socket.on('close', resolve).on('error', () => {}));
    await Promise.all([closed(silent), closed(slow)]);
    expect(opened).toEqual([]);
    expect(server.stats()).toMatchObject({ accepted: 2, proxyRejected: 2, connections: 0 });
    await server.close();
  });

  it('serves a built-in handler behind the header, from the first byte after it', async () => {
    const server = await listen({ backend, port: 0, proxyProtocol: true, handler: 'uppercase' });
    const header = v2(0x21, 0x11, inet4);
    expect((await exchange(server.address().port, [Buffer.concat([header, Buffer.from('hello')])])).text).toBe('HELLO');
    expect((await exchange(server.address().port, [Buffer.from('hello')])).text).toBe('CLOSED');
    expect(server.stats()).toMatchObject({ accepted: 2, proxyRejected: 1 });
    await server.close();
  });

  it('checks its options', async () => {
    await expect(listen({ backend, port: 0, proxyTimeout: 100, handler: 'echo' })).rejects.toThrow(/proxyTimeout applies with/);
    await expect(listen({ backend, port: 0, proxyProtocol: 'yes' as never, handler: 'echo' })).rejects.toThrow(/proxyProtocol/);
    await expect(listen({ backend, port: 0, proxyProtocol: true, proxyTimeout: 0, handler: 'echo' })).rejects.toThrow(RangeError);
  });
});

describe('PROXY protocol with workers (native)', () => {
  it('built-ins on loop threads read the header first, and count a connection without one', async () => {
    const server = await listen({ backend: 'native', port: 0, workers: 2, proxyProtocol: true, proxyTimeout: 500, handler: 'uppercase' });
    const port = server.address().port;
    expect((await exchange(port, [Buffer.concat([v2(0x21, 0x11, inet4), Buffer.from('hello')])])).text).toBe('HELLO');
    expect((await exchange(port, [Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 9 10\r\nabc')])).text).toBe('ABC');
    expect((await exchange(port, [Buffer.from('no header')])).text).toBe('CLOSED');
    await waitFor(() => server.stats().proxyRejected === 1, 'the rejection to be counted');
    expect(server.stats()).toMatchObject({ accepted: 3, proxyRejected: 1 });
    await server.close();
  });

  it('a handler module in worker threads sees the client the header names', async () => {
    const server = await listen({
      backend: 'native',
      port: 0,
      workers: 2,
      proxyProtocol: true,
      handler: { module: join(root, 'test', 'fixtures', 'workers-remote.mjs') },
    });
    const header = Buffer.from('PROXY TCP6 2001:db8::7 ::1 4242 80\r\n');
    expect((await exchange(server.address().port, [header])).text).toBe('2001:db8::7:4242');
    await server.close();
  });
});

describe('the PROXY header parser (lib/proxy.ts, the node backend)', () => {
  it('answers incomplete for every proper prefix of a valid header, and complete for the header itself', () => {
    for (const [, bytes, expected] of cases) {
      if (expected === 'CLOSED') continue;
      const whole = parseProxyHeader(bytes);
      expect(whole.status).toBe('complete');
      const length = whole.status === 'complete' ? whole.length : 0;
      for (let n = 0; n < length; n++) expect(parseProxyHeader(bytes.subarray(0, n)).status).toBe('incomplete');
      expect(parseProxyHeader(bytes.subarray(0, length))).toEqual(whole);
    }
  });
});
