/**
 * Unix-domain stream sockets on both backends: a Python AF_UNIX client against built-in and
 * JavaScript handlers, the abstract namespace, the socket file's permissions, stale files,
 * removal on close, and sockengine's own client.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, listen, type Connection, type Server } from '../lib/index.js';
import { backends, finished, killStarted, openFds, root, startProcess, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sockengine-unix-'));
let serial = 0;
const socketPath = () => join(dir, `s${++serial}.sock`);
// Python runs without the sanitizer's LD_PRELOAD that scripts/sanitize.sh gives this process.
const python = (script: string, args: string[]) =>
  finished(startProcess(script, 'python3', [join(root, 'test', 'python', script), ...args], { env: { LD_PRELOAD: '' } }));

afterEach(killStarted);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(backends)('Unix-domain sockets on the %s backend', (backend) => {
  it('serves a Python AF_UNIX client with a built-in handler, and removes its file on close', async () => {
    const path = socketPath();
    const server = await listen({ backend, path, handler: 'uppercase' });
    expect(server.address()).toEqual({ address: path, port: 0, family: 'unix' });
    expect(statSync(path).isSocket()).toBe(true);
    const proc = await python('unix_client.py', [path, 'hello ', 'unix']);
    expect(proc.code).toBe(0);
    expect(proc.stdout.trim()).toBe('HELLO UNIX');
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('gives a JavaScript handler the bytes, with an empty remote address', async () => {
    const path = socketPath();
    const seen: string[] = [];
    const server = await listen({
      backend,
      path,
      handler: {
        data(conn: Connection, chunk: Buffer) {
          seen.push(`${JSON.stringify(conn.remoteAddress)}:${conn.remotePort}`);
          conn.write(`got ${chunk.toString()}`);
          conn.end();
        },
      },
    });
    const proc = await python('unix_client.py', [path, 'ping']);
    expect(proc.stdout.trim()).toBe('got ping');
    expect(seen).toEqual(['"":0']);
    await server.close();
  });

  it("listens on a name in Linux's abstract namespace, with no file (native; node refuses)", async () => {
    const name = `sockengine-test-${process.pid}-${++serial}`;
    if (backend === 'node') {
      // node:net pads abstract names to 108 bytes on Node 20: a name no one else can reach.
      await expect(listen({ backend, path: `\0${name}`, handler: 'echo' })).rejects.toThrow(/pads it to 108 bytes/);
      await expect(connect({ backend, path: `\0${name}`, handler: {} })).rejects.toThrow(/pads it to 108 bytes/);
      return;
    }
    const server = await listen({ backend, path: `\0${name}`, handler: 'echo' });
    expect(server.address().address).toBe(`\0${name}`);
    const proc = await python('unix_client.py', [`@${name}`, 'abstract']);
    expect(proc.stdout.trim()).toBe('abstract');
    await server.close();
    // The name is free again at once: a second server takes it.
    const again = await listen({ backend, path: `\0${name}`, handler: 'echo' });
    await again.close();
  });

  it('sets the socket file permissions it is given', async () => {
    const path = socketPath();
    const server = await listen({ backend, path, permissions: 0o600, handler: 'echo' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await server.close();
  });

  it('names a stale socket file in EADDRINUSE, and replaces it only when asked', async () => {
    const path = socketPath();
    expect((await python('stale_unix_socket.py', [path])).code).toBe(0);
    expect(statSync(path).isSocket()).toBe(true);
    await expect(listen({ backend, path, handler: 'echo' })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      syscall: 'bind',
      message: expect.stringMatching(/stale socket file.*replaceStale/),
    });
    const server = await listen({ backend, path, replaceStale: true, handler: 'uppercase' });
    expect((await python('unix_client.py', [path, 'fresh'])).stdout.trim()).toBe('FRESH');
    await server.close();
  });

  it("never takes a live server's socket or a plain file, even with replaceStale", async () => {
    const path = socketPath();
    const live = await listen({ backend, path, handler: 'echo' });
    await expect(listen({ backend, path, replaceStale: true, handler: 'echo' })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: expect.stringContaining('another server is listening'),
    });
    expect((await python('unix_client.py', [path, 'still here'])).stdout.trim()).toBe('still here');
    await live.close();

    const file = socketPath();
    writeFileSync(file, 'not a socket');
    await expect(listen({ backend, path: file, replaceStale: true, handler: 'echo' })).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: expect.stringContaining('not a socket'),
    });
    expect(existsSync(file)).toBe(true);
  });

  it('connects to a Unix socket, and reports a missing one as ENOENT', async () => {
    const path = socketPath();
    const server = await listen({ backend, path, handler: 'uppercase' });
    let received = '';
    const client = await connect({
      backend,
      path,
      handler: {
        data(_conn: Connection, chunk: Buffer) {
          received += chunk.toString();
        },
      },
    });
    client.write('from sockengine');
    await waitFor(() => received === 'FROM SOCKENGINE', 'the reply');
    client.destroy();
    await server.close();
    await expect(connect({ backend, path: join(dir, 'missing.sock'), handler: {} })).rejects.toMatchObject({
      code: 'ENOENT',
      syscall: 'connect',
    });
  });

  it('leaves no descriptor behind after 50 clients', async () => {
    const path = socketPath();
    const before = openFds();
    const server: Server = await listen({ backend, path, handler: 'echo' });
    for (let i = 0; i < 50; i++) {
      let got = '';
      const client = await connect({ backend, path, handler: { data: (_c: Connection, b: Buffer) => void (got += b) } });
      client.write(`n${i}`);
      await waitFor(() => got === `n${i}`, `echo ${i}`);
      client.destroy();
    }
    await waitFor(() => server.connections === 0, 'connections to close');
    await server.close();
    await waitFor(() => openFds() <= before, 'descriptors to be released');
  });
});

describe('Unix-domain options are checked', () => {
  it('rejects a path with a port, a path too long, and permissions without a path', async () => {
    await expect(listen({ path: '/tmp/x.sock', port: 1, handler: 'echo' } as never)).rejects.toThrow(
      /options.path and options.port cannot be combined/,
    );
    await expect(listen({ path: `/tmp/${'x'.repeat(120)}`, handler: 'echo' })).rejects.toThrow(/at most 107/);
    await expect(listen({ permissions: 0o600, handler: 'echo' })).rejects.toThrow(/options.permissions applies to Unix sockets/);
    await expect(listen({ path: socketPath(), permissions: 0o1777, handler: 'echo' })).rejects.toThrow(RangeError);
    await expect(listen({ transport: 'udp', path: '/tmp/u.sock', handler: 'echo' } as never)).rejects.toThrow(/path/);
  });
});
