/**
 * Replies gathered per batch (docs/design.md section 15, "Replies gathered per batch"): a
 * JavaScript handler answering several frames of one read sends its replies to the kernel
 * together when the batch ends, even when each reply alone reaches the high-water mark.
 * Counted with strace on a real server process: three 16 KiB frames that arrive in one
 * read leave in one sendmsg, not three, and a lone 16 KiB frame still leaves at once.
 */
import { describe, expect, it } from 'vitest';
import { checkFraming, encodeFrame } from '../lib/framing.js';
import { hasStrace, RawClient, sleep, traceServer } from './helpers.js';

const length4 = checkFraming({ length: 4 })!;
const frame = (payload: Buffer) => encodeFrame(length4, payload);

describe.runIf(hasStrace)('replies gathered per batch (native backend, under strace)', () => {
  it('three 16 KiB frames read at once are answered in one sendmsg; a lone one at once', async () => {
    const trace = await traceServer('test/fixtures/gather-server.mjs', 'sendmsg,sendto', async (port) => {
      const raw = await RawClient.connect(port);
      const payloads = ['a', 'b', 'c'].map((letter) => Buffer.alloc(16 * 1024, letter));
      // `wait` holds the server's JavaScript thread; the three frames arrive meanwhile and
      // are read in one piece once it is free.
      raw.socket.write(frame(Buffer.from('wait')));
      await sleep(100);
      raw.socket.write(Buffer.concat(payloads.map(frame)));
      const expected = Buffer.concat([frame(Buffer.from('WAIT')), ...payloads.map((p) => frame(Buffer.from(p.toString().toUpperCase())))]);
      expect((await raw.read(expected.length, 10_000)).equals(expected)).toBe(true);
      const lone = Buffer.alloc(16 * 1024, 'd');
      raw.socket.write(frame(lone));
      expect((await raw.read(lone.length + 4, 10_000)).equals(frame(Buffer.alloc(16 * 1024, 'D')))).toBe(true);
      raw.socket.destroy();
    });
    // `PID sendmsg(FD, ...) = BYTES`: the sizes of the server's sends, in order.
    const sizes = trace
      .map((line) => /^\d+\s+send(?:msg|to)\(.*\)\s+=\s+(\d+)/.exec(line))
      .filter((match) => match !== null)
      .map((match) => Number(match![1]));
    const reply = 16 * 1024 + 4;
    expect(sizes).toEqual([8, 3 * reply, reply]);
  }, 30_000);
});
