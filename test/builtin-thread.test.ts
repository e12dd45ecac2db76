// A native built-in server runs on a loop thread of its own (docs/design.md section 15): it
// answers with the JavaScript thread blocked, refuses a busy port like any other server, its
// stats() count everything a client has already seen, and closing it leaves nothing behind.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { listen, type Server, type UdpServer } from '../lib/index.js';
import { openFds, RawClient, sleep, waitFor } from './helpers.js';

/** A Python client that sends `payload` and prints what comes back; run with execFileSync. */
const pythonClient = `
import socket, sys
kind, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
if kind == 'tcp':
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(payload)
    got = b''
    while len(got) < len(payload):
        chunk = s.recv(65536)
        if not chunk: break
        got += chunk
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(payload, ('127.0.0.1', port))
    got, _ = s.recvfrom(65536)
sys.stdout.write(got.decode())
`;

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

describe('native built-in servers on a loop thread of their own', () => {
  const open: Array<Server | UdpServer> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((server) => server.close()));
  });

  it('answer TCP and UDP while the JavaScript thread is blocked', async () => {
    const tcp = await listen({ port: 0, backend: 'native', handler: 'uppercase' });
    const udp = await listen({ transport: 'udp', port: 0, backend: 'native', handler: 'uppercase' });
    open.push(tcp, udp);
    // execFileSync blocks this thread until Python is done: an answer can only come from
    // another thread. (On this thread's engine Python would time out and this would throw.)
    const run = (kind: string, port: number) =>
      execFileSync('python3', ['-c', pythonClient, kind, String(port), 'hello, blocked thread'], {
        encoding: 'utf8',
        timeout: 10_000,
        // Under the sanitizer suite Python must not load the sanitizer runtime.
        env: { ...process.env, LD_PRELOAD: '' },
      });
    expect(run('tcp', tcp.address().port)).toBe('HELLO, BLOCKED THREAD');
    expect(run('udp', udp.address().port)).toBe('HELLO, BLOCKED THREAD');
    expect(tcp.stats()).toMatchObject({ accepted: 1, bytesIn: 21, bytesOut: 21 });
    expect(udp.stats()).toMatchObject({ datagramsIn: 1, datagramsOut: 1 });
  });

  it('count in stats() every byte a client has already had answered', async () => {
    const server = await listen({ port: 0, backend: 'native', handler: 'echo' });
    open.push(server);
    const client = await RawClient.connect(server.address().port);
    let total = 0;
    for (let round = 1; round <= 200; round++) {
      client.socket.write(Buffer.alloc(round, 0x61));
      total += round;
      await client.read(round);
      // The reply is here, so the thread has counted it: stats() waits for its next publish.
      const stats = server.stats();
      expect(stats.bytesIn).toBe(total);
      expect(stats.bytesOut).toBe(total);
      expect(server.connections).toBe(1);
    }
    expect(server.stats()).not.toHaveProperty('workers');
    client.socket.destroy();
  });

  it('refuse a port that is in use, unless reusePort is asked for on both', async () => {
    const first = await listen({ port: 0, backend: 'native', handler: 'uppercase' });
    open.push(first);
    const port = first.address().port;
    await expect(listen({ port, backend: 'native', handler: 'echo' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const javascript = await listen({ port: 0, backend: 'native', handler: { data: () => {} } });
    open.push(javascript);
    await expect(listen({ port: javascript.address().port, backend: 'native', handler: 'echo' })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    const udp = await listen({ transport: 'udp', port: 0, backend: 'native', handler: 'echo' });
    open.push(udp);
    await expect(listen({ transport: 'udp', port: udp.address().port, backend: 'native', handler: 'echo' })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });

    const shared = await listen({ port: 0, backend: 'native', handler: 'uppercase', reusePort: true });
    open.push(shared);
    const second = await listen({ port: shared.address().port, backend: 'native', handler: 'uppercase', reusePort: true });
    open.push(second);
    const client = await RawClient.connect(shared.address().port);
    client.socket.write('both listen');
    expect((await client.read(11)).toString()).toBe('BOTH LISTEN');
    client.socket.destroy();

    // The same for UDP, with and without workers: one worker is a single loop thread too,
    // and it must still ask for SO_REUSEPORT when told to.
    for (const workers of [undefined, 1, 2]) {
      const udpShared = await listen({ transport: 'udp', port: 0, backend: 'native', handler: 'echo', reusePort: true, workers });
      open.push(udpShared);
      const udpSecond = await listen({
        transport: 'udp',
        port: udpShared.address().port,
        backend: 'native',
        handler: 'echo',
        reusePort: true,
        workers,
      });
      open.push(udpSecond);
      expect(udpSecond.address().port).toBe(udpShared.address().port);
    }
  });

  it('leave no thread and no descriptor behind once closed', async () => {
    // The addon's own engine is made once per thread, at its first use: make it first.
    await (await listen({ port: 0, backend: 'native', handler: 'echo' })).close();
    await sleep(100); // Sockets of the tests before finish closing.
    const threadsBefore = threads();
    const fdsBefore = openFds();
    for (let i = 0; i < 20; i++) {
      const server = await listen({ port: 0, backend: 'native', handler: 'uppercase', idleTimeout: 1000 });
      const client = await RawClient.connect(server.address().port);
      client.socket.write('x');
      await client.read(1);
      client.socket.destroy();
      await client.waitClosed();
      await server.close();
    }
    expect(threads()).toBe(threadsBefore);
    // A closed server's loop (its poller, eventfd and spare descriptor) is freed once libuv
    // has closed the thread group's handle, a turn of the loop after close() resolves.
    await waitFor(() => openFds() <= fdsBefore, 'the descriptors of 20 closed servers to go', 2000);
    expect(openFds()).toBe(fdsBefore);
  });
});
