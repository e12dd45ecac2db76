/**
 * Real load balancers in front of sockengine, on loopback: Debian's HAProxy with
 * send-proxy (v1) and send-proxy-v2, and nginx's stream module with proxy_protocol on,
 * each running the configuration files of examples/deploy/ as docs/deploy.md shows them.
 * A Python client's own address and port must come back from the server, and two
 * sockengine processes behind one balancer must share the connections.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { listen, type Connection } from '../lib/index.js';
import { backends, finished, freePort, killStarted, root, startProcess, waitFor, type Proc } from './helpers.js';

const deploy = join(root, 'examples', 'deploy');
const dir = mkdtempSync(join(tmpdir(), 'sockengine-balancer-'));
afterEach(killStarted);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Resolves once something accepts connections on the port. */
async function accepting(port: number, proc: Proc): Promise<void> {
  const tryOnce = () =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  const deadline = Date.now() + 10_000;
  while (!(await tryOnce())) {
    if (proc.done) throw new Error(`${proc.name} exited: ${proc.stderr}`);
    if (Date.now() > deadline) throw new Error(`${proc.name} did not listen on ${port}: ${proc.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function haproxy(front: number, servers: [number, number], send: 'send-proxy' | 'send-proxy-v2'): Proc {
  return startProcess('haproxy', 'haproxy', ['-db', '-f', join(deploy, 'haproxy.cfg')], {
    env: {
      FRONT_PORT: String(front),
      SERVER1: `127.0.0.1:${servers[0]}`,
      SERVER2: `127.0.0.1:${servers[1]}`,
      PROXY_SEND: send,
    },
  });
}

function nginx(front: number, servers: [number, number]): Proc {
  const prefix = mkdtempSync(join(dir, 'nginx-'));
  const config = readFileSync(join(deploy, 'nginx.conf'), 'utf8')
    .replace('listen 127.0.0.1:FRONT_PORT;', `listen 127.0.0.1:${front};`)
    .replace('server SERVER1;', `server 127.0.0.1:${servers[0]};`)
    .replace('server SERVER2;', `server 127.0.0.1:${servers[1]};`);
  writeFileSync(join(prefix, 'nginx.conf'), config);
  return startProcess('nginx', 'nginx', ['-e', 'stderr', '-p', prefix, '-c', join(prefix, 'nginx.conf')]);
}

/** Runs the Python client `count` times at once; each prints `SELF TAG REMOTE`. */
async function clients(front: number, count: number): Promise<{ self: string; tag: string; seen: string }[]> {
  const script = join(root, 'test', 'python', 'proxy_client.py');
  const procs = await Promise.all(
    Array.from({ length: count }, () => finished(startProcess('proxy_client.py', 'python3', [script, '127.0.0.1', String(front)]))),
  );
  return procs.map((proc) => {
    expect(proc.code, proc.stderr).toBe(0);
    const [self, tag, seen] = proc.stdout.trim().split(' ') as [string, string, string];
    return { self, tag, seen };
  });
}

describe.each(backends)('behind a real load balancer, the %s backend', (backend) => {
  for (const send of ['send-proxy', 'send-proxy-v2'] as const) {
    it(`reports the Python client's own address through HAProxy ${send}`, async () => {
      const seen: string[] = [];
      const server = await listen({
        backend,
        port: 0,
        proxyProtocol: true,
        handler: {
          open(conn: Connection) {
            seen.push(`${conn.remoteAddress}:${conn.remotePort}`);
            conn.write(`one ${conn.remoteAddress}:${conn.remotePort}\n`);
            conn.end();
          },
        },
      });
      const front = await freePort('tcp');
      const port = server.address().port;
      const balancer = haproxy(front, [port, port], send);
      await accepting(front, balancer);
      const results = await clients(front, 3);
      for (const { self, tag, seen: reported } of results) {
        expect(tag).toBe('one');
        expect(reported).toBe(self);
      }
      // The readiness probe may have passed through too: every client must be among those seen.
      expect(seen).toEqual(expect.arrayContaining(results.map((r) => r.self)));
      await server.close();
    });
  }

  it('shares the load of one HAProxy between two sockengine processes', async () => {
    const ports: [number, number] = [await freePort('tcp'), await freePort('tcp')];
    const servers = ports.map((port, i) =>
      startProcess(`server ${i}`, process.execPath, [join(root, 'test', 'fixtures', 'proxy-server.mjs'), backend, String(port), `s${i}`]),
    );
    for (const server of servers) await waitFor(() => server.stdout.includes('listening'), 'a server to listen', 10_000);
    const front = await freePort('tcp');
    const balancer = haproxy(front, ports, 'send-proxy-v2');
    await accepting(front, balancer);
    const results = await clients(front, 8);
    expect(new Set(results.map((r) => r.tag))).toEqual(new Set(['s0', 's1']));
    for (const { self, seen } of results) expect(seen).toBe(self);
  });

  it("reports the client's address through nginx's stream module (proxy_protocol on)", async () => {
    const ports: [number, number] = [await freePort('tcp'), await freePort('tcp')];
    const servers = ports.map((port, i) =>
      startProcess(`server ${i}`, process.execPath, [join(root, 'test', 'fixtures', 'proxy-server.mjs'), backend, String(port), `n${i}`]),
    );
    for (const server of servers) await waitFor(() => server.stdout.includes('listening'), 'a server to listen', 10_000);
    const front = await freePort('tcp');
    const balancer = nginx(front, ports);
    await accepting(front, balancer);
    const results = await clients(front, 4);
    expect(new Set(results.map((r) => r.tag))).toEqual(new Set(['n0', 'n1']));
    for (const { self, seen } of results) expect(seen).toBe(self);
  });
});
