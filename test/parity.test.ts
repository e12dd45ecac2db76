/**
 * Both backends deliver the same event sequence for the same script (the way ws checks its
 * native and fallback implementations agree).
 */
import { describe, expect, it } from 'vitest';
import { connect, listen, type Backend, type Connection, type TcpHandler } from '../lib/index.js';
import { RawClient, waitFor } from './helpers.js';

/** Records handler calls as `name:connection[:detail]`; consecutive data merge (TCP chunking is not an event). */
function recorder(log: string[], names: Map<Connection, string>): TcpHandler {
  const name = (connection: Connection) => names.get(connection) ?? '?';
  const data = (connection: Connection, chunk: Buffer) => {
    const last = log[log.length - 1];
    const prefix = `data:${name(connection)}:`;
    if (last?.startsWith(prefix)) log[log.length - 1] = last + chunk.toString();
    else log.push(prefix + chunk.toString());
  };
  return {
    open(connection) {
      names.set(connection, `s${names.size}`);
      log.push(`open:${name(connection)}`);
    },
    data(connection, chunk) {
      data(connection, chunk);
      const text = chunk.toString();
      if (text.includes('destroy')) connection.destroy();
      else connection.write(text.toUpperCase());
    },
    drain: (connection) => log.push(`drain:${name(connection)}`),
    end: (connection) => log.push(`end:${name(connection)}`),
    error: (connection, error) => log.push(`error:${name(connection)}:${(error as NodeJS.ErrnoException).code}`),
    close: (connection, error) =>
      log.push(`close:${name(connection)}:${error ? (error as NodeJS.ErrnoException).code : 'clean'}`),
  };
}

async function script(backend: Backend): Promise<string[]> {
  const log: string[] = [];
  const names = new Map<Connection, string>();
  const server = await listen({ port: 0, backend, handler: recorder(log, names) });
  const port = server.address().port;
  const count = (entry: string) => log.filter((line) => line === entry).length;

  // 1. An orderly exchange, ended by the peer.
  const a = await RawClient.connect(port);
  a.socket.write('abc');
  await a.read(3);
  a.socket.write('def');
  await a.read(3);
  a.socket.end();
  await waitFor(() => count('close:s0:clean') === 1, 'close of s0');

  // 2. A peer that resets.
  const b = await RawClient.connect(port);
  b.socket.write('x');
  await b.read(1);
  b.socket.resetAndDestroy();
  await waitFor(() => log.some((line) => line.startsWith('close:s1')), 'close of s1');

  // 3. The server destroys the connection from its data callback.
  const c = await RawClient.connect(port);
  c.socket.write('destroy');
  await c.waitClosed();
  await waitFor(() => log.some((line) => line.startsWith('close:s2')), 'close of s2');

  // 4. A client connection of the same backend, ended by the server side.
  const clientLog: string[] = [];
  const clientNames = new Map<Connection, string>();
  const clientHandler = recorder(clientLog, clientNames);
  const client = await connect({
    port,
    backend,
    handler: { ...clientHandler, data: (connection, chunk) => clientLog.push(`data:${chunk}`) },
  });
  client.write('hello');
  await waitFor(() => clientLog.includes('data:HELLO'), 'client reply');
  client.end();
  await waitFor(() => clientLog.some((line) => line.startsWith('close:')), 'client close');
  await server.close();
  return [...log, '--client--', ...clientLog];
}

describe('backend parity', () => {
  it('native and node produce the same event sequence for the same script', async () => {
    const native = await script('native');
    const node = await script('node');
    expect(native).toEqual(node);
    expect(native).toEqual([
      'open:s0',
      'data:s0:abcdef',
      'end:s0',
      'close:s0:clean',
      'open:s1',
      'data:s1:x',
      'error:s1:ECONNRESET',
      'close:s1:ECONNRESET',
      'open:s2',
      'data:s2:destroy',
      'close:s2:clean',
      'open:s3',
      'data:s3:hello',
      'end:s3',
      'close:s3:clean',
      '--client--',
      'open:s0',
      'data:HELLO',
      'end:s0',
      'close:s0:clean',
    ]);
  });
});
