/**
 * Busy sockets of the native backend move into Node's own poll set (native/addon/host_poll.h)
 * after their second wake-up: the same server to a user, one epoll_wait per message
 * instead of two. These scenarios run a connection through that move and then through
 * everything that changes what it is watched for: pause and resume, a full write queue, a
 * reset from the peer, close, the cap on how many sockets move, and the engine's teardown.
 * The engine's own counter (`stats().hosted`) says where each socket is.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBinding } from '../lib/binding.js';
import { listen, type Connection, type Server, type UdpServer } from '../lib/index.js';
import { exited, openFds, RawClient, sleep, waitFor } from './helpers.js';

const loaded = loadBinding();
const hosted = (): number => {
  if ('error' in loaded) throw new Error(loaded.error);
  return loaded.binding.stats().hosted;
};

/** Runs `python3 -c SCRIPT ARGS...`; resolves with its stdout once it exits 0. */
async function python(script: string, ...args: string[]): Promise<string> {
  const child = spawn('python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  const { code } = await exited(child, 15_000);
  if (code !== 0) throw new Error(`python exited ${code}: ${err}`);
  return out;
}

/** Round trips of two-byte messages, each answered uppercased: three move the connection. */
async function roundTrips(client: RawClient, prefix: string, count = 3): Promise<void> {
  for (let i = 0; i < count; i++) {
    client.socket.write(`${prefix}${i}`);
    expect((await client.read(2)).toString()).toBe(`${prefix.toUpperCase()}${i}`);
  }
}

// Round trips one message at a time; with "reset", ends with an RST instead of a FIN.
const pingPong = `
import socket, struct, sys
port, count, ending = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for i in range(count):
    msg = b"ping %d" % i
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        part = s.recv(100)
        if not part: sys.exit("closed early")
        got += part
    assert got == msg.upper(), got
if ending == "reset":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print("ok", count)
`;

describe('busy sockets in the host poll set (native backend)', () => {
  const servers: (Server | UdpServer)[] = [];
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 500 })));
  });

  it('a ping-pong connection moves after its second message, answers every one, and leaves at close', async () => {
    const seen: number[] = [];
    let closedWith: unknown = 'not closed';
    const server = await listen({
      port: 0,
      backend: 'native',
      handler: {
        data(conn, chunk) {
          seen.push(hosted());
          conn.write(chunk.toString().toUpperCase());
        },
        close(_conn, err) {
          closedWith = err;
        },
      },
    });
    servers.push(server);
    expect(await python(pingPong, String(server.address().port), '40', 'fin')).toBe('ok 40\n');
    await waitFor(() => closedWith !== 'not closed', 'close()');
    expect(closedWith).toBeUndefined();
    // Read during data(): the first message arrives through the engine's own poller, and
    // the connection moves as its second is read.
    expect(seen).toHaveLength(40);
    expect(seen[0]).toBe(0);
    expect(seen.slice(2).every((count) => count === 1)).toBe(true);
    expect(hosted()).toBe(0);
  });

  it('a reset from the peer on a moved connection is reported as ECONNRESET and costs no one else', async () => {
    const errors: string[] = [];
    let closes = 0;
    const server = await listen({
      port: 0,
      backend: 'native',
      handler: {
        data(conn, chunk) {
          conn.write(chunk.toString().toUpperCase());
        },
        error(_conn, err) {
          errors.push((err as NodeJS.ErrnoException).code ?? String(err));
        },
        close() {
          closes++;
        },
      },
    });
    servers.push(server);
    const port = server.address().port;
    const bystander = await RawClient.connect(port);
    sockets.push(bystander.socket);
    for (let i = 0; i < 3; i++) {
      bystander.socket.write(`before ${i}`);
      expect((await bystander.read(8)).toString()).toBe(`BEFORE ${i}`);
    }
    expect(hosted()).toBe(1);
    expect(await python(pingPong, String(port), '5', 'reset')).toBe('ok 5\n');
    await waitFor(() => closes === 1, 'the reset connection to close');
    expect(errors).toEqual(['ECONNRESET']);
    bystander.socket.write('after');
    expect((await bystander.read(5)).toString()).toBe('AFTER');
    expect(hosted()).toBe(1);
  });

  it('pause() takes a moved connection out of the host set and resume() delivers what waited', async () => {
    const chunks: string[] = [];
    let paused: Connection | undefined;
    const server = await listen({
      port: 0,
      backend: 'native',
      handler: {
        data(conn, chunk) {
          chunks.push(chunk.toString());
          if (chunk.toString() === 'pause') {
            conn.pause();
            paused = conn;
          } else {
            conn.write(chunk.toString().toUpperCase());
          }
        },
      },
    });
    servers.push(server);
    const client = await RawClient.connect(server.address().port);
    sockets.push(client.socket);
    await roundTrips(client, 'm');
    expect(hosted()).toBe(1);
    client.socket.write('pause');
    await waitFor(() => paused !== undefined, 'the pause');
    expect(hosted()).toBe(0);
    client.socket.write('held');
    await sleep(100);
    expect(chunks).not.toContain('held');
    paused!.resume();
    expect((await client.read(4)).toString()).toBe('HELD');
    await roundTrips(client, 'n');
    expect(hosted()).toBe(1);
  });

  it('a moved connection whose peer stops reading gets drain, and every byte arrives in order', async () => {
    const total = 8 * 1024 * 1024;
    let drained = 0;
    let full = false;
    const server = await listen({
      port: 0,
      backend: 'native',
      handler: {
        data(conn, chunk) {
          if (chunk.toString() !== 'flood') {
            conn.write(chunk.toString().toUpperCase());
            return;
          }
          // A counting pattern, so a byte out of place shows.
          const block = Buffer.alloc(64 * 1024);
          for (let i = 0; i < block.length; i++) block[i] = i % 251;
          for (let sent = 0; sent < total; sent += block.length) {
            if (!conn.write(block)) full = true;
          }
        },
        drain() {
          drained++;
        },
      },
    });
    servers.push(server);
    const client = await RawClient.connect(server.address().port);
    sockets.push(client.socket);
    await roundTrips(client, 'w');
    expect(hosted()).toBe(1);
    client.socket.pause();
    client.socket.write('flood');
    await waitFor(() => full, 'write() to return false');
    await sleep(50);
    client.socket.resume();
    await waitFor(() => client.received.length >= total, `${total} bytes`, 10_000);
    expect(client.received.length).toBe(total);
    for (let i = 0; i < total; i += 4099) expect(client.received[i]).toBe((i % (64 * 1024)) % 251);
    await waitFor(() => drained === 1, 'drain');
  });

  it('a UDP socket moves too, and leaves when it closes', async () => {
    const server = await listen({
      transport: 'udp',
      port: 0,
      backend: 'native',
      handler: {
        message(socket, data, rinfo) {
          socket.send(data.toString().toUpperCase(), rinfo.port, rinfo.address);
        },
      },
    });
    const script = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for i in range(20):
    s.sendto(b"dgram %d" % i, ("127.0.0.1", int(sys.argv[1])))
    got, _ = s.recvfrom(100)
    assert got == (b"dgram %d" % i).upper(), got
print("ok")
`;
    expect(await python(script, String(server.address().port))).toBe('ok\n');
    expect(hosted()).toBe(1);
    await server.close();
    expect(hosted()).toBe(0);
  });

  it('a UDP peer that answers at once is served in order, and timers still run while it never pauses', async () => {
    // The engine reads a UDP socket again after JavaScript has answered a batch (the peer
    // has often replied by then); the rounds are bounded, so a peer that always has the
    // next datagram waiting cannot starve the rest of the process.
    const received: number[] = [];
    let timerLate = -1;
    const server = await listen({
      transport: 'udp',
      port: 0,
      backend: 'native',
      handler: {
        message(socket, data, rinfo) {
          received.push(Number(data.toString().split(' ')[1]));
          socket.send(data.toString().toUpperCase(), rinfo.port, rinfo.address);
        },
      },
    });
    servers.push(server);
    const script = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
end, i = time.monotonic() + 1.0, 0
while time.monotonic() < end:
    s.sendto(b"dgram %d" % i, ("127.0.0.1", int(sys.argv[1])))
    got, _ = s.recvfrom(100)
    assert got == (b"dgram %d" % i).upper(), got
    i += 1
print(i)
`;
    const peer = python(script, String(server.address().port));
    await sleep(200);
    const armed = Date.now();
    await new Promise<void>((resolve) => setTimeout(() => {
      timerLate = Date.now() - armed - 20;
      resolve();
    }, 20));
    const count = Number(await peer);
    expect(count).toBeGreaterThan(100);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(timerLate).toBeGreaterThanOrEqual(0);
    expect(timerLate).toBeLessThan(250);
  });

  it('a UDP socket closed by its handler while its peer keeps sending hears nothing more', async () => {
    let messages = 0;
    let closes = 0;
    const server = await listen({
      transport: 'udp',
      port: 0,
      backend: 'native',
      handler: {
        message(socket, data, rinfo) {
          messages++;
          socket.send(data, rinfo.port, rinfo.address);
          if (messages === 50) void socket.close();
        },
        close() {
          closes++;
        },
      },
    });
    const script = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
answered = unanswered = 0
for i in range(80):
    s.sendto(b"x%d" % i, ("127.0.0.1", int(sys.argv[1])))
    try:
        s.recvfrom(100); answered += 1
    except (socket.timeout, ConnectionRefusedError):
        unanswered += 1
        if unanswered == 3: break
print(answered)
`;
    expect(await python(script, String(server.address().port))).toBe('50\n');
    expect(messages).toBe(50);
    await waitFor(() => closes === 1, 'close()');
    expect(hosted()).toBe(0);
  });

  it('at most 1,024 sockets move, the rest are served where they are, and none leaks a descriptor', async () => {
    const server = await listen({
      port: 0,
      backend: 'native',
      handler: {
        data(conn, chunk) {
          conn.write(chunk);
        },
      },
    });
    servers.push(server);
    const fdsBefore = openFds();
    const clients: RawClient[] = [];
    for (let i = 0; i < 1100; i++) clients.push(await RawClient.connect(server.address().port));
    for (const client of clients) sockets.push(client.socket);
    for (let round = 0; round < 3; round++) {
      for (const client of clients) client.socket.write('x');
      for (const client of clients) expect((await client.read(1)).toString()).toBe('x');
    }
    expect(hosted()).toBe(1024);
    for (const client of clients) client.socket.destroy();
    await waitFor(() => hosted() === 0, 'every connection to leave the host set');
    await waitFor(() => openFds() <= fdsBefore, 'the descriptors to close');
  }, 30_000);

  it('a process that exits with moved connections open exits cleanly', async () => {
    // The engine's teardown closes libuv handles of its own while Node tears the loop down.
    const script = `
      import { listen } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      import * as net from 'node:net';
      const server = await listen({ port: 0, backend: 'native', handler: { data(conn, chunk) { conn.write(chunk); } } });
      const client = net.connect(server.address().port, '127.0.0.1');
      let replies = 0;
      client.on('data', () => { if (++replies < 5) client.write('again'); else process.exit(7); });
      client.write('first');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    const { code, signal } = await exited(child, 10_000);
    expect(err).toBe('');
    expect({ code, signal }).toEqual({ code: 7, signal: null });
  });
});

describe('hosted sockets whose peers end together', () => {
  // 1,024 hosted connections (the cap) whose peers all end while the server's JavaScript is
  // busy: libuv's wait then fills its 1,024 events and it polls again in the same phase,
  // before the batch is handled. An ended socket still watched for reading was reported
  // again and read again, and its end delivered up to 48 times (to fresh connection objects
  // for a closed id). Each end must reach the handler once.
  it('each connection gets one end() and one close()', async () => {
    const count = 1024;
    const server = spawn(process.execPath, ['test/fixtures/hosted-ends.mjs'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    server.stdout!.on('data', (chunk) => (out += chunk));
    const sockets: net.Socket[] = [];
    try {
      await waitFor(() => /ready \d+/.test(out), 'the server to print its port', 20_000);
      const port = Number(/ready (\d+)/.exec(out)![1]);
      for (let i = 0; i < count; i++) {
        const socket = net.connect(port, '127.0.0.1');
        socket.setNoDelay(true);
        sockets.push(socket);
      }
      await Promise.all(sockets.map((socket) => new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))));
      // Four round trips each: every connection reaches a second wake-up and moves.
      const ask = (socket: net.Socket, text: string) =>
        new Promise<void>((resolve, reject) => {
          socket.once('data', (data) => (data.toString() === text ? resolve() : reject(new Error(`got ${data.toString()}`))));
          socket.write(text);
        });
      for (let round = 0; round < 4; round++) await Promise.all(sockets.map((socket) => ask(socket, `r${round}`)));
      const report = async (): Promise<string> => {
        const before = out.split('\n').length;
        server.stdin!.write('?\n');
        await waitFor(() => out.split('\n').length > before, 'the server to report', 10_000);
        return out.trim().split('\n').at(-1)!;
      };
      expect(await report()).toBe(`ends=0 closes=0 hosted=${count}`);
      sockets[0]!.write('block');
      await sleep(150);
      const closed = sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve)));
      for (const socket of sockets) socket.end();
      await Promise.all(closed);
      await sleep(200);
      expect(await report()).toBe(`ends=${count} closes=${count} hosted=0`);
    } finally {
      for (const socket of sockets) socket.destroy();
      server.stdin!.end();
      await exited(server, 10_000);
    }
  }, 60_000);
});
