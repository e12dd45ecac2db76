/**
 * A connection that asks once and hangs up costs the poller what it costs C's epoll server:
 * EPOLL_CTL_ADD when accepted and EPOLL_CTL_DEL before its close, nothing in between
 * (docs/design.md section 15, "Connection churn"). The read interest of a connection whose
 * peer ended is narrowed only if the connection outlives the batch that reports the end: a
 * half-open server's connection is (EPOLL_CTL_MOD), and its peer's end is read once.
 * Counted with strace on a real server process, node:net clients, every answer checked.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { hasStrace, traceServer } from './helpers.js';

/** connect, "hello", wait for the answer, end; resolves with all it received once closed. */
function askAndHangUp(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (data) => {
      got += data.toString();
      if (got === 'HELLO') socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    socket.write('hello');
  });
}

interface Life {
  fd: number;
  calls: string[]; // epoll_ctl operations, recvfrom results of 0, in order
}

/** Each accepted descriptor's life: its epoll_ctl operations and reads of 0, up to its close. */
function lives(trace: string[]): Life[] {
  const open = new Map<number, Life>();
  const done: Life[] = [];
  for (const line of trace) {
    const accepted = /^\d+\s+accept4\(\d+,.*\)\s+=\s+(\d+)/.exec(line);
    if (accepted) {
      open.set(Number(accepted[1]), { fd: Number(accepted[1]), calls: [] });
      continue;
    }
    const ctl = /^\d+\s+epoll_ctl\(\d+, (EPOLL_CTL_\w+), (\d+),/.exec(line);
    if (ctl) {
      open.get(Number(ctl[2]))?.calls.push(ctl[1]!);
      continue;
    }
    const eof = /^\d+\s+recvfrom\((\d+), "", .*\)\s+=\s+0$/.exec(line);
    if (eof) {
      open.get(Number(eof[1]))?.calls.push('read 0');
      continue;
    }
    const closed = /^\d+\s+close\((\d+)\)\s+=\s+0/.exec(line);
    if (closed && open.has(Number(closed[1]))) {
      done.push(open.get(Number(closed[1]))!);
      open.delete(Number(closed[1]));
    }
  }
  return done;
}

describe.runIf(hasStrace)('epoll_ctl calls per connection (native backend, under strace)', () => {
  for (const kind of ['builtin', 'js']) {
    it(`${kind}: ask once and hang up: EPOLL_CTL_ADD, one read of 0, EPOLL_CTL_DEL, close`, async () => {
      const trace = await traceServer(
        'test/fixtures/tcp-server.mjs',
        'accept4,epoll_ctl,recvfrom,close',
        async (port) => {
          for (let i = 0; i < 5; i++) expect(await askAndHangUp(port)).toBe('HELLO');
        },
        [kind],
      );
      const connections = lives(trace);
      expect(connections).toHaveLength(5);
      for (const life of connections) expect(life.calls).toEqual(['EPOLL_CTL_ADD', 'read 0', 'EPOLL_CTL_DEL']);
    }, 40_000);
  }

  it('half-open: the connection outlives its batch, so its read interest is narrowed once', async () => {
    const trace = await traceServer(
      'test/fixtures/tcp-server.mjs',
      'accept4,epoll_ctl,recvfrom,close',
      async (port) => {
        for (let i = 0; i < 3; i++) expect(await askAndHangUp(port)).toBe('HELLObye');
      },
      ['half-open'],
    );
    const connections = lives(trace);
    expect(connections).toHaveLength(3);
    // The peer's end is read once (no spinning on a socket still reported readable), the
    // interest narrowed after the batch, and the connection leaves the poller when it closes.
    for (const life of connections) expect(life.calls).toEqual(['EPOLL_CTL_ADD', 'read 0', 'EPOLL_CTL_MOD', 'EPOLL_CTL_DEL']);
  }, 40_000);
});
