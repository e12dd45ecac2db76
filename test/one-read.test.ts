/**
 * One read per connection per wake-up (docs/design.md section 15, "One read per wake-up"):
 * a connection with more bytes waiting than one read takes (up to 128 KiB for framed reads
 * that go to JavaScript, native/loop.h kReceiveBufferSize) gets that one read, and the rest
 * when the poller reports it again, so a fast sender cannot hold the loop for several reads
 * while other connections wait. Counted with strace on a real server process: after a read
 * of 64 KiB or more, the next read of that socket comes only after another wait on the
 * poller, and every frame is still answered, in order.
 */
import { describe, expect, it } from 'vitest';
import { checkFraming, encodeFrame } from '../lib/framing.js';
import { hasStrace, RawClient, sleep, traceServer } from './helpers.js';

const length4 = checkFraming({ length: 4 })!;
const frame = (payload: Buffer) => encodeFrame(length4, payload);

describe.runIf(hasStrace)('one read per connection per wake-up (native backend, under strace)', () => {
  it('a read of 64 KiB or more is not followed by a second read of the socket before the next wait', async () => {
    const letters = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const trace = await traceServer('test/fixtures/gather-server.mjs', 'recvfrom,epoll_wait,epoll_pwait,epoll_pwait2', async (port) => {
      const raw = await RawClient.connect(port);
      // `wait` holds the server's JavaScript thread for 300 ms; nine 16 KiB frames (147,492
      // bytes) arrive meanwhile, more than one read takes.
      raw.socket.write(frame(Buffer.from('wait')));
      await sleep(100);
      raw.socket.write(Buffer.concat(letters.map((letter) => frame(Buffer.alloc(16 * 1024, letter)))));
      const expected = Buffer.concat([
        frame(Buffer.from('WAIT')),
        ...letters.map((letter) => frame(Buffer.alloc(16 * 1024, letter.toUpperCase()))),
      ]);
      expect((await raw.read(expected.length, 10_000)).equals(expected)).toBe(true);
      raw.socket.destroy();
    });
    // `PID recvfrom(FD, ...) = BYTES` and `PID epoll_pwait(...) = N`, in order.
    const calls = trace
      .map((line) => /^\d+\s+(recvfrom|epoll_\w+)\((\d+),.*\)\s+=\s+(-?\d+)/.exec(line))
      .filter((match) => match !== null)
      .map((match) => ({ call: match![1]!, fd: Number(match![2]), result: Number(match![3]) }));
    // The kernel queues about 128,000 bytes for a new connection, so the big read takes what
    // is queued (more than 64 KiB: a framed read for JavaScript may take up to 128 KiB).
    // (Kernels before about 6.5 queue only about 64 KiB for a new connection.)
    const full = calls.findIndex((c) => c.call === 'recvfrom' && c.result >= 64 * 1024);
    expect(full, 'a read of 64 KiB or more').toBeGreaterThanOrEqual(0);
    const fd = calls[full]!.fd;
    const next = calls.slice(full + 1).find((c) => c.call.startsWith('epoll') || (c.call === 'recvfrom' && c.fd === fd));
    expect(next?.call, 'what followed the full read: a wait on the poller, not a second read').toMatch(/^epoll/);
    // The rest of the frames came with a later read of the same socket.
    const later = calls.slice(full + 1).filter((c) => c.call === 'recvfrom' && c.fd === fd && c.result > 0);
    expect(later.reduce((sum, c) => sum + c.result, 0)).toBe(letters.length * (16 * 1024 + 4) - calls[full]!.result);
  }, 30_000);
});
