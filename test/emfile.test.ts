/**
 * Running out of descriptors (EMFILE) is handled on purpose: the server sheds the
 * connections it cannot hold instead of spinning on a listener that stays readable, and
 * serves again once descriptors free up.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { backends, exited, RawClient, root, sleep, waitFor } from './helpers.js';

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

describe.each(backends)('%s backend out of descriptors', (backend) => {
  it('sheds surplus connections, does not spin, and serves again afterwards', async () => {
    const fixture = join(root, 'test', 'fixtures', 'echo-server.mjs');
    const child = spawn('bash', ['-c', `ulimit -n 48 && exec "${process.execPath}" "${fixture}" ${backend}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      await waitFor(() => out.includes('ready'), 'the server to start', 10_000);
      const port = Number(/ready (\d+)/.exec(out)![1]);

      const clients = await Promise.all([...Array(80).keys()].map(() => RawClient.connect(port)));
      clients.forEach((client, i) => client.socket.write(`m${i}`));
      // Each connection is either served or shed (closed by the server); none hangs.
      await waitFor(
        () => clients.every((client, i) => client.received.toString() === `m${i}` || client.closed),
        'every connection served or shed',
        10_000,
      );
      const served = clients.filter((client, i) => client.received.toString() === `m${i}`);
      expect(served.length).toBeGreaterThan(10);
      expect(served.length).toBeLessThan(80);

      const before = cpuTicks(child.pid!);
      await sleep(1000);
      // Under 30% of one core (ticks are 10 ms): a spinning listener would use nearly 100%.
      expect(cpuTicks(child.pid!) - before).toBeLessThan(30);

      for (const client of clients) client.socket.destroy();
      await Promise.all(clients.map((client) => client.waitClosed()));
      await sleep(100);
      const again = await RawClient.connect(port);
      again.socket.write('after');
      expect((await again.read(5)).toString()).toBe('after');
      again.socket.destroy();
    } finally {
      child.kill('SIGTERM');
      await exited(child).catch(() => child.kill('SIGKILL'));
    }
  });
});
