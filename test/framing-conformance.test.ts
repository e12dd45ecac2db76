/**
 * The framing option, one suite over both backends: the same byte stream, cut at every
 * boundary, gives the same frames on each (and the frames lib/framing.ts's splitter finds
 * in the whole stream, which test/framing.test.ts checks against a plain reference);
 * max-frame fails fast; many frames per read; built-ins per frame; send().
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkFraming, encodeFrame, FrameSplitter, type FramingOption } from '../lib/framing.js';
import { connect, listen, type Server, type TcpHandler } from '../lib/index.js';
import { backends, RawClient, sleep, waitFor } from './helpers.js';

/** The frames of a whole stream, as the reference splitter sees them. */
function expectedFrames(framing: FramingOption, stream: Buffer, maxFrame?: number): string[] {
  const frames: string[] = [];
  new FrameSplitter(checkFraming(framing, maxFrame)!).push(stream, (frame) => {
    frames.push(frame.toString('hex'));
  });
  return frames;
}

const header2 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const cases: Array<{ name: string; framing: FramingOption; stream: Buffer }> = [
  { name: 'line', framing: 'line', stream: Buffer.from('ab\r\n\ncd\nlong line here\r\nx\n') },
  { name: 'multi-byte delimiter', framing: { delimiter: '\r\n\r\n' }, stream: Buffer.from('a\r\n\r\nb\r\nc\r\n\r\n\r\n\r\nend\r\n\r\n') },
  { name: 'kept delimiter', framing: { delimiter: Buffer.from([0, 0xff]), keepDelimiter: true }, stream: Buffer.from([1, 0, 0xff, 0, 0, 0xff, 0, 0xff, 7, 0]) },
  {
    name: 'length prefix',
    framing: { length: 2 },
    stream: Buffer.concat([header2(3), Buffer.from('abc'), header2(0), header2(5), Buffer.from('hello'), header2(1), Buffer.from('z')]),
  },
  {
    name: 'little-endian length including its header, adjusted',
    framing: { length: 4, byteOrder: 'le', lengthIncludesHeader: true, lengthAdjustment: -1 },
    stream: Buffer.from([8, 0, 0, 0, 0x61, 0x62, 0x63, 6, 0, 0, 0, 0x78, 5, 0, 0, 0]),
  },
  { name: 'fixed', framing: { fixed: 3 }, stream: Buffer.from('abcdefghijkl') },
];

describe.each(backends)('%s backend', (backend) => {
  const servers: Server[] = [];
  const clients: RawClient[] = [];

  async function serve(framing: FramingOption, handler: TcpHandler | 'uppercase' | 'echo' | `reply:${string}`, extra: object = {}) {
    const server = await listen({ port: 0, backend, framing, handler, ...extra });
    servers.push(server);
    return server;
  }

  async function client(server: Server) {
    const raw = await RawClient.connect(server.address().port);
    clients.push(raw);
    return raw;
  }

  afterEach(async () => {
    for (const raw of clients.splice(0)) raw.socket.destroy();
    await Promise.all(servers.splice(0).map((server) => server.close({ timeout: 500 })));
  });

  describe.each(cases)('$name', ({ framing, stream }) => {
    const expected = expectedFrames(framing, stream);

    it('gives the same frames whatever the cut: at every boundary, and a byte at a time', async () => {
      expect(expected.length).toBeGreaterThan(2);
      let current: string[] = [];
      const server = await serve(framing, {
        open() {
          current = [];
        },
        data(connection, frame) {
          current.push(frame.toString('hex'));
        },
      });
      const cuts: number[][] = [];
      for (let cut = 1; cut < stream.length; cut++) cuts.push([cut]);
      cuts.push([...Array(stream.length).keys()].slice(1)); // every byte on its own
      for (const points of cuts) {
        const raw = await client(server);
        let from = 0;
        for (const point of [...points, stream.length]) {
          raw.socket.write(stream.subarray(from, point));
          from = point;
          await sleep(2); // lets the engine read each piece on its own
        }
        await waitFor(() => current.length === expected.length, `all frames with cuts at ${points.join(',')}`);
        expect(current, `cuts at ${points.join(',')}`).toEqual(expected);
        raw.socket.destroy();
      }
    });

    it('echo answers each frame with one frame of the same framing', async () => {
      const raw = await client(await serve(framing, 'echo'));
      raw.socket.write(stream);
      const spec = checkFraming(framing, undefined)!;
      const want = Buffer.concat(expected.map((hex) => encodeFrame(spec, Buffer.from(hex, 'hex'))));
      expect(await raw.read(want.length)).toEqual(want);
    });
  });

  it('uppercase answers each line with one line: CR dropped, LF added', async () => {
    const raw = await client(await serve('line', 'uppercase'));
    raw.socket.write('abc\r');
    await sleep(5);
    raw.socket.write('\ndef\n\n');
    expect((await raw.read(9)).toString()).toBe('ABC\nDEF\n\n');
  });

  it('uppercase answers a read mixing LF and CRLF lines in order, byte for byte', async () => {
    // LF lines are answered where they lie in the receive buffer, CRLF lines are rewritten
    // (their CR dropped): alternating them breaks the stretches sent in place more often
    // than one sendmsg has parts for.
    const raw = await client(await serve('line', 'uppercase'));
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'ab'.repeat(i % 7)}`);
    const stream = lines.map((line, i) => (i % 3 === 0 ? `${line}\r\n` : `${line}\n`)).join('');
    const want = lines.map((line) => `${line.toUpperCase()}\n`).join('');
    raw.socket.write(stream);
    expect((await raw.read(Buffer.byteLength(want))).toString()).toBe(want);
  });

  it('uppercase with a kept delimiter it changes appends the delimiter, and leaves the next frame alone', async () => {
    // "ax" answers "AX", which no longer ends with the delimiter "x", so one is added; the
    // "x" after it is the next frame, answered on its own.
    const raw = await client(await serve({ delimiter: 'x', keepDelimiter: true }, 'uppercase'));
    raw.socket.write('axxbx');
    expect((await raw.read(8)).toString()).toBe('AXxXxBXx');
    const words = await client(await serve({ delimiter: 'end', keepDelimiter: true }, 'uppercase'));
    words.socket.write('fooendendbarend');
    expect((await words.read(24)).toString()).toBe('FOOENDendENDendBARENDend');
  });

  it('reply:TEXT answers each frame with TEXT as one frame', async () => {
    const raw = await client(await serve({ length: 2 }, 'reply:ok'));
    raw.socket.write(Buffer.concat([header2(1), Buffer.from('a'), header2(0)]));
    const frame = Buffer.concat([header2(2), Buffer.from('ok')]);
    expect(await raw.read(8)).toEqual(Buffer.concat([frame, frame]));
  });

  it('uppercase answers large and small length-prefixed frames in order, from a peer that reads late', async () => {
    // Large replies leave from where they were read, small ones gathered, in one sendmsg of
    // at most 16 parts: 40 frames of 2.5 KiB in one read are more than that, 20 KiB frames
    // cross reads, and a peer that does not read yet makes the kernel take only part of it.
    const raw = await client(await serve({ length: 4 }, 'uppercase'));
    const sizes = [
      ...Array.from({ length: 40 }, () => 2560),
      ...Array.from({ length: 30 }, (_, i) => [3, 20_000, 2048, 0, 2047, 65_000][i % 6]),
      ...Array.from({ length: 40 }, () => 50_000),
    ];
    const payloads = sizes.map((size, i) => Buffer.alloc(size, 0x61 + (i % 26)));
    const frames = (upper: boolean) =>
      Buffer.concat(
        payloads.map((payload) => {
          const header = Buffer.alloc(4);
          header.writeUInt32BE(payload.length);
          return Buffer.concat([header, upper ? Buffer.from(payload.toString().toUpperCase()) : payload]);
        }),
      );
    const stream = frames(false);
    raw.socket.pause();
    for (let from = 0; from < stream.length; from += 100_000) raw.socket.write(stream.subarray(from, from + 100_000));
    await sleep(200);
    raw.socket.resume();
    expect((await raw.read(stream.length, 15_000)).equals(frames(true))).toBe(true);
  });

  it('thousands of frames from one write reach data() in a few batches, in order', async () => {
    const frames: string[] = [];
    let batches = 0;
    let inBatch = false;
    const server = await serve('line', {
      data(connection, frame) {
        frames.push(frame.toString());
        if (!inBatch) {
          inBatch = true;
          batches++;
          queueMicrotask(() => (inBatch = false));
        }
      },
    });
    const raw = await client(server);
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    raw.socket.write(`${lines.join('\n')}\n`);
    await waitFor(() => frames.length === 5000, 'all 5,000 frames');
    expect(frames).toEqual(lines);
    // 5000 x 10 B is a read or two: one crossing per read, not per frame.
    expect(batches).toBeLessThanOrEqual(4);
  });

  it('a frame longer than maxFrame fails fast: after the header, before any payload arrives', async () => {
    const events: string[] = [];
    const server = await serve(
      { length: 4 },
      {
        data: () => events.push('data'),
        error: (connection, error) => events.push((error as NodeJS.ErrnoException).code!),
        close: () => events.push('close'),
      },
      { maxFrame: 1000 },
    );
    const raw = await client(server);
    raw.socket.write(Buffer.from([0, 0x10, 0, 0])); // announces 1 MiB; no payload follows
    await raw.waitClosed(2000);
    expect(events).toEqual(['ERR_SOCKENGINE_FRAME_TOO_LONG', 'close']);
    expect(server.stats().framesTooLong).toBe(1);
  });

  it('error() after a frame too long cannot write: write() and send() return false and nothing reaches the peer', async () => {
    const results: boolean[] = [];
    const server = await serve(
      'line',
      {
        data: (connection, frame) => connection.send(frame),
        error(connection) {
          results.push(connection.write('last words\n'), connection.send('frame'));
        },
      },
      { maxFrame: 8 },
    );
    const raw = await client(server);
    raw.socket.write(`fine\n${'z'.repeat(20)}\n`);
    await raw.waitClosed(2000);
    expect(results).toEqual([false, false]);
    expect(raw.received.toString()).toBe('fine\n');
  });

  it('a line longer than maxFrame closes the connection once maxFrame + 2 bytes are pending', async () => {
    const errors: string[] = [];
    const server = await serve('line', { error: (connection, error) => errors.push((error as NodeJS.ErrnoException).code!) }, { maxFrame: 100 });
    const ok = await client(server);
    ok.socket.write(`${'x'.repeat(100)}\r\n`); // exactly maxFrame: fine
    const raw = await client(server);
    raw.socket.write('y'.repeat(102)); // no LF, and more than a frame and its CR
    await raw.waitClosed(2000);
    expect(errors).toEqual(['ERR_SOCKENGINE_FRAME_TOO_LONG']);
    expect(ok.closed).toBe(false);
  });

  for (const handler of ['js', 'builtin'] as const) {
    it(`${handler} handler: replies to the frames before a too-long one still reach the peer, then it closes`, async () => {
      const server =
        handler === 'js'
          ? await serve('line', { data: (connection, frame) => connection.send(frame.toString().toUpperCase()) }, { maxFrame: 8 })
          : await serve('line', 'uppercase', { maxFrame: 8 });
      const raw = await client(server);
      raw.socket.write(`ok\nfine\n${'z'.repeat(20)}\n`);
      await raw.waitClosed(2000);
      expect(raw.received.toString()).toBe('OK\nFINE\n');
      expect(server.stats().framesTooLong).toBe(1);
    });
  }

  it('send() refuses a payload that carries the delimiter: the peer would see two frames', async () => {
    let thrown: unknown;
    const server = await serve({ delimiter: '||' }, {
      data(connection) {
        try {
          connection.send('a||b');
        } catch (error) {
          thrown = error;
        }
        connection.send('fine');
      },
    });
    const raw = await client(server);
    raw.socket.write('x||');
    expect((await raw.read(6)).toString()).toBe('fine||');
    expect(thrown).toBeInstanceOf(RangeError);
  });

  it('a client connection can frame too, and send() adds the header', async () => {
    const server = await serve({ length: 1 }, 'uppercase');
    const frames: string[] = [];
    const connection = await connect({
      port: server.address().port,
      backend,
      framing: { length: 1 },
      handler: { data: (c, frame) => frames.push(frame.toString()) },
    });
    connection.send('hello');
    connection.send('');
    await waitFor(() => frames.length === 2, 'two reply frames');
    expect(frames).toEqual(['HELLO', '']);
    expect(() => connection.send('x'.repeat(256))).toThrow(RangeError);
    connection.destroy();
  });

  it('send() without framing is a TypeError saying what is missing', async () => {
    let thrown: unknown;
    const server = await listen({
      port: 0,
      backend,
      handler: {
        data(connection) {
          try {
            connection.send('x');
          } catch (error) {
            thrown = error;
          }
        },
      },
    });
    servers.push(server);
    const raw = await client(server);
    raw.socket.write('a');
    await waitFor(() => thrown !== undefined, 'send() to throw');
    expect(thrown).toBeInstanceOf(TypeError);
    expect(String(thrown)).toMatch(/framing option/);
  });

  it('bad framing options are errors naming the option', async () => {
    await expect(listen({ port: 0, backend, handler: 'echo', framing: { length: 3 } } as never)).rejects.toThrow(/options\.framing\.length/);
    await expect(listen({ port: 0, backend, handler: 'echo', maxFrame: 10 })).rejects.toThrow(/maxFrame applies with options\.framing/);
    await expect(listen({ port: 0, backend, handler: 'reply:toolong', framing: { fixed: 3 } })).rejects.toThrow(RangeError);
    await expect(listen({ port: 0, backend, transport: 'udp', handler: 'echo', framing: 'line' } as never)).rejects.toThrow(/options\.framing/);
  });
});

describe('parity', () => {
  it('both backends give the same frames for one random stream cut at random points', async () => {
    const stream = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919) % 13 === 0 ? 10 : 97 + ((i * 31) % 26)));
    const results: string[][] = [];
    for (const backend of backends) {
      const frames: string[] = [];
      const server = await listen({ port: 0, backend, framing: 'line', handler: { data: (c, f) => frames.push(f.toString()) } });
      const raw = await RawClient.connect(server.address().port);
      for (let from = 0; from < stream.length; ) {
        const to = Math.min(stream.length, from + 1 + ((from * 37) % 50));
        raw.socket.write(stream.subarray(from, to));
        from = to;
        await sleep(1);
      }
      const want = expectedFrames('line', stream).length;
      await waitFor(() => frames.length === want, 'the frames');
      raw.socket.destroy();
      await server.close({ timeout: 200 });
      results.push(frames);
    }
    expect(results[0]).toEqual(results[1]);
    expect(results[0]!.length).toBeGreaterThan(30);
  });
});
