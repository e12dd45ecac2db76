/**
 * Lifetimes that cross process and thread boundaries: exit and worker termination with live
 * native connections must not crash or leave descriptors behind.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { listen } from '../lib/index.js';
import { exited, openFds, RawClient, root, waitFor } from './helpers.js';

const fixture = (name: string) => join(root, 'test', 'fixtures', name);

function runFixture(how: string) {
  const child = spawn(process.execPath, [fixture('exit-with-live-connections.mjs'), how], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  return { child, output: () => ({ out, err }) };
}

describe('process and thread lifetimes (native backend)', () => {
  it('process.exit() with live connections exits cleanly', async () => {
    const { child, output } = runFixture('exit');
    const { code, signal } = await exited(child);
    expect(output().out).toMatch(/^ready \d+/);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });

  it('an uncaught exception with live connections exits with status 1, not a crash', async () => {
    const { child, output } = runFixture('throw');
    const { code, signal } = await exited(child);
    expect({ code, signal }).toEqual({ code: 1, signal: null });
    expect(output().err).toContain('deliberate');
  });

  it('SIGTERM with live connections ends the process by the signal, nothing worse', async () => {
    const { child, output } = runFixture('signal');
    await waitFor(() => output().out.includes('ready'), 'ready');
    child.kill('SIGTERM');
    const { signal } = await exited(child);
    expect(signal).toBe('SIGTERM');
    expect(output().err).toBe('');
  });

  it('terminating a worker closes its sockets; the main thread engine keeps working', async () => {
    const before = openFds();
    const mainServer = await listen({ port: 0, backend: 'native', handler: 'uppercase' });
    for (let round = 0; round < 3; round++) {
      const worker = new Worker(fixture('worker-server.mjs'));
      const port = await new Promise<number>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const raw = await RawClient.connect(port);
      raw.socket.write('from main');
      expect((await raw.read(9)).toString()).toBe('FROM MAIN');
      const code = await worker.terminate();
      expect(code).toBe(1);
      // The worker's listener and connections are gone with it.
      await raw.waitClosed();
      await expect(RawClient.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    }
    const raw = await RawClient.connect(mainServer.address().port);
    raw.socket.write('still here');
    expect((await raw.read(10)).toString()).toBe('STILL HERE');
    raw.socket.destroy();
    await raw.waitClosed();
    await mainServer.close();
    // The main engine keeps its poller and wake-up descriptors (3 in all); nothing else stays.
    await waitFor(() => openFds() <= before + 3, `descriptors back near ${before} (now ${openFds()})`);
  });

  it('terminating a worker while traffic flows, or process.exit() in its handler, ends only the worker', async () => {
    for (const [fixtureName, expected] of [
      ['worker-server.mjs', 1],
      ['worker-exit.mjs', 3],
    ] as const) {
      for (let round = 0; round < 5; round++) {
        const worker = new Worker(fixture(fixtureName));
        const port = await new Promise<number>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
        const exitCode = new Promise<number>((resolve) => worker.once('exit', resolve));
        const peers = await Promise.all([0, 1, 2].map(() => RawClient.connect(port)));
        peers.forEach((peer) => peer.socket.write('traffic'));
        if (fixtureName === 'worker-server.mjs') void worker.terminate();
        expect(await exitCode).toBe(expected);
        await Promise.all(peers.map((peer) => peer.waitClosed()));
      }
    }
  });

  it('a handler whose end() throws still lets the connection finish, on both backends', async () => {
    const child = spawn(process.execPath, [fixture('end-throws.mjs')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const { code } = await exited(child, 15_000);
    expect(out).toBe('native fin uncaught=1\nnode fin uncaught=2\n');
    expect(code).toBe(0);
  });
});
