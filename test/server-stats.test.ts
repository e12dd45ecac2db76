/**
 * server.stats() and a connection's local address, the same on both backends: counts a user
 * reading them would check against what the peers did.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, listen, type Connection } from '../lib/index.js';
import { backends, RawClient, waitFor } from './helpers.js';

describe.each(backends)('%s backend: server.stats()', (backend) => {
  it('counts bytes in and out, accepted and open connections, with a built-in handler', async () => {
    await using server = await listen({ port: 0, backend, handler: 'echo' });
    const port = server.address().port;
    const a = await RawClient.connect(port);
    const b = await RawClient.connect(port);
    a.socket.write('x'.repeat(1000));
    b.socket.write('hello');
    await a.read(1000);
    await b.read(5);
    await waitFor(() => server.stats().bytesOut === 1005, 'the replies counted');
    expect(server.stats()).toMatchObject({ connections: 2, accepted: 2, rejected: 0, bytesIn: 1005, bytesOut: 1005, closedWithError: 0 });
    a.socket.end();
    b.socket.end();
    await a.waitClosed();
    await b.waitClosed();
    await waitFor(() => server.stats().connections === 0, 'both closed');
    expect(server.stats()).toMatchObject({ accepted: 2, bytesIn: 1005, bytesOut: 1005, closedWithError: 0 });
  });

  it('counts connections over maxConnections as rejected', async () => {
    await using server = await listen({ port: 0, backend, handler: 'echo', maxConnections: 1 });
    const port = server.address().port;
    const first = await RawClient.connect(port);
    first.socket.write('a');
    await first.read(1);
    const second = await RawClient.connect(port);
    await second.waitClosed();
    expect(server.stats()).toMatchObject({ accepted: 1, rejected: 1, connections: 1 });
    first.socket.destroy();
  });

  it('counts a reset, an idle timeout and a handler that threw as closed with an error', async () => {
    await using server = await listen({
      port: 0,
      backend,
      idleTimeout: 150,
      handler: {
        data(conn, chunk) {
          if (`${chunk}` === 'throw') throw new Error('handler bug');
          conn.write(chunk);
        },
        error() {},
      },
    });
    const port = server.address().port;
    const reset = await RawClient.connect(port);
    reset.socket.write('hi');
    await reset.read(2);
    reset.socket.resetAndDestroy();
    const thrower = await RawClient.connect(port);
    thrower.socket.write('throw');
    await thrower.waitClosed();
    const idle = await RawClient.connect(port);
    await idle.waitClosed(5000);
    await waitFor(() => server.stats().connections === 0, 'all three closed');
    expect(server.stats()).toMatchObject({ accepted: 3, closedWithError: 3, timedOut: 1 });
  });

  it('gives a connection its local address and port, on the server and the client side', async () => {
    const seen: Array<[string, number, string, number]> = [];
    await using server = await listen({
      port: 0,
      backend,
      handler: {
        open(conn) {
          seen.push([conn.localAddress, conn.localPort, conn.remoteAddress, conn.remotePort]);
        },
      },
    });
    const port = server.address().port;
    const client: Connection = await connect({ port, backend, handler: {} });
    await waitFor(() => seen.length === 1, 'the server side open');
    expect(seen[0]).toEqual(['127.0.0.1', port, '127.0.0.1', client.localPort]);
    expect(client.localAddress).toBe('127.0.0.1');
    expect(client.localPort).toBeGreaterThan(0);
    expect([client.remoteAddress, client.remotePort]).toEqual(['127.0.0.1', port]);
    client.destroy();
  });
});

describe('both backends agree', () => {
  it('the same exchange gives the same counters', async () => {
    const results = [];
    for (const backend of backends) {
      await using server = await listen({ port: 0, backend, handler: 'uppercase' });
      const socket = net.connect(server.address().port, '127.0.0.1');
      socket.end('abc');
      await new Promise((resolve) => socket.on('close', resolve).resume());
      await waitFor(() => server.stats().connections === 0, 'closed');
      results.push(server.stats());
    }
    expect(results[0]).toEqual(results[1]);
  });
});
