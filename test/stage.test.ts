/**
 * Small writes go to the engine through the stage (lib/native/stage.ts): up to 64 bytes
 * are copied into one Buffer per thread that the engine knows, and the *Staged bindings
 * pass only their length. Every size on both sides of that boundary must arrive exactly,
 * whether written alone, several in one handler call (the stage is reused at once), or in
 * a batch whose writes are gathered; by write(), send() of a frame, and UDP send() on an
 * unconnected and a connected socket.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../lib/binding.js';
import { connect, listen, nativeAvailable, type DatagramSocket, type Server, type UdpServer } from '../lib/index.js';
import { RawClient, waitFor } from './helpers.js';

const SIZES = [1, 2, 63, 64, 65, 100, 4000];

/** `size` bytes whose values depend on their position and on `seed`, so a mixed-up or clobbered copy shows. */
function pattern(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + seed * 31) % 251;
  return bytes;
}

describe.runIf(nativeAvailable())('the stage: small writes by length (native backend)', () => {
  const servers: (Server | UdpServer)[] = [];
  const sockets: DatagramSocket[] = [];
  const clients: RawClient[] = [];
  const open = async (port: number) => {
    const client = await RawClient.connect(port);
    clients.push(client);
    return client;
  };
  afterEach(async () => {
    for (const client of clients.splice(0)) client.socket.destroy();
    for (const socket of sockets.splice(0)) socket.close();
    for (const server of servers.splice(0)) await server.close();
  });

  it('write() delivers every size around 64 bytes, several per handler call and per batch', async () => {
    // Each request is `size,seed;`; the handler answers every request of a chunk with three
    // writes of its size: the pattern, a one-byte marker, the pattern again with seed + 1.
    const server = await listen({
      port: 0,
      backend: 'native',
      handler: {
        data(connection, chunk) {
          for (const request of chunk.toString().split(';').filter(Boolean)) {
            const [size, seed] = request.split(',').map(Number) as [number, number];
            connection.write(pattern(size, seed));
            connection.write(Buffer.from('|'));
            connection.write(pattern(size, seed + 1));
          }
        },
      },
    });
    servers.push(server);
    const client = await open(server.address().port);
    const expected = (size: number, seed: number) => Buffer.concat([pattern(size, seed), Buffer.from('|'), pattern(size, seed + 1)]);
    for (const size of SIZES) {
      client.socket.write(`${size},${size};`);
      const want = expected(size, size);
      expect((await client.read(want.length)).equals(want), `size ${size}`).toBe(true);
    }
    // All sizes in one chunk: one handler call writes all of them back to back.
    client.socket.write(SIZES.map((size) => `${size},${size + 1};`).join(''));
    const all = Buffer.concat(SIZES.map((size) => expected(size, size + 1)));
    expect((await client.read(all.length)).equals(all)).toBe(true);
  });

  it('writes gathered in a batch of several connections keep their own bytes', async () => {
    const server = await listen({
      port: 0,
      backend: 'native',
      handler: { data: (connection, chunk) => connection.write(pattern(Number(chunk.toString()), Number(chunk.toString()))) },
    });
    servers.push(server);
    const clients = await Promise.all(SIZES.map(() => open(server.address().port)));
    // Sent together, so that several arrive in one wake-up and their replies are gathered.
    clients.forEach((client, i) => client.socket.write(String(SIZES[i])));
    for (const [i, client] of clients.entries()) {
      const size = SIZES[i]!;
      expect((await client.read(size)).equals(pattern(size, size)), `size ${size}`).toBe(true);
      }
  });

  it('send() of a line frame carries every size around 64 bytes', async () => {
    const server = await listen({
      port: 0,
      backend: 'native',
      framing: 'line',
      handler: { data: (connection, frame) => connection.send('x'.repeat(Number(frame.toString()))) },
    });
    servers.push(server);
    const client = await open(server.address().port);
    for (const size of SIZES) {
      client.socket.write(`${size}\n`);
      expect((await client.read(size + 1)).toString(), `size ${size}`).toBe(`${'x'.repeat(size)}\n`);
    }
  });

  it('UDP send() from an unconnected and a connected socket carries every size around 64 bytes', async () => {
    const server = await listen({
      transport: 'udp',
      port: 0,
      host: '127.0.0.1',
      backend: 'native',
      handler: { message: (socket, data, rinfo) => socket.send(pattern(Number(data.toString()), 3), rinfo.port, rinfo.address) },
    });
    servers.push(server);
    const peer = dgram.createSocket('udp4');
    const received: Buffer[] = [];
    peer.on('message', (message) => received.push(message));
    await new Promise<void>((resolve) => peer.bind(0, '127.0.0.1', resolve));
    try {
      for (const size of SIZES) {
        peer.send(String(size), server.address().port, '127.0.0.1');
        await waitFor(() => received.length > 0, `the ${size} B reply`);
        expect(received.shift()!.equals(pattern(size, 3)), `size ${size}`).toBe(true);
      }
      // A connected native socket sends to the peer without an address.
      const connected = await connect({ transport: 'udp', host: '127.0.0.1', port: peer.address().port, backend: 'native', handler: {} });
      sockets.push(connected);
      for (const size of SIZES) {
        connected.send(pattern(size, 5));
        await waitFor(() => received.length > 0, `the ${size} B datagram`);
        expect(received.shift()!.equals(pattern(size, 5)), `size ${size}`).toBe(true);
      }
    } finally {
      peer.close();
    }
  });

  it('a staged length beyond the stage is a RangeError, not a read past it', () => {
    const loaded = loadBinding();
    if (!('binding' in loaded)) throw new Error(loaded.error);
    expect(() => loaded.binding.writeStaged(1, 65)).toThrow(/65 staged bytes exceed the stage/);
    expect(() => loaded.binding.sendDatagramStaged(1, 1_000_000)).toThrow(RangeError);
  });
});
