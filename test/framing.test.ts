/**
 * Stream framing: lib/framing.ts against a plain whole-stream reference, cut at every
 * boundary; its fail-fast points, options and encoder; and the native framer
 * (native/framing.cc, built outside Node with g++ through fuzz/framing_check.cc) giving the
 * same frames and failures on the same streams.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkFraming,
  DEFAULT_MAX_FRAME,
  encodeFrame,
  FrameSplitter,
  type FrameFailure,
  type FramingOption,
  type FramingSpec,
} from '../lib/framing.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function specOf(framing: FramingOption, maxFrame?: number): FramingSpec {
  const spec = checkFraming(framing, maxFrame);
  if (spec === null) throw new Error('checkFraming returned null for a framing option');
  return spec;
}

const bytes = (text: string) => Buffer.from(text, 'latin1');
const hex = (data: Uint8Array) => (data.length === 0 ? '-' : Buffer.from(data).toString('hex'));

/** A small deterministic generator, so a failing random case can be replayed. */
function random(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % below);
  };
}

// ---------------------------------------------------------------------------------------
// The reference: the whole stream at once, each rule written out plainly. failedAt is how
// many stream bytes have arrived when the failure is certain (the fail-fast point).

interface ReferenceFrame {
  bytes: Buffer;
  completedAt: number;
}
interface Reference {
  frames: ReferenceFrame[];
  failure: FrameFailure | null;
  failedAt: number;
}

function indexOfFrom(stream: Buffer, needle: Buffer, from: number): number {
  for (let at = from; at + needle.length <= stream.length; at++) {
    let same = true;
    for (let i = 0; i < needle.length && same; i++) same = stream[at + i] === needle[i];
    if (same) return at;
  }
  return -1;
}

function reference(spec: FramingSpec, stream: Buffer): Reference {
  const frames: ReferenceFrame[] = [];
  const fail = (failure: FrameFailure, failedAt: number): Reference => ({ frames, failure, failedAt });
  const max = spec.maxFrame;
  let start = 0;
  while (start < stream.length) {
    if (spec.kind === 'line') {
      const lf = stream.indexOf(0x0a, start);
      const overflowAt = start + max + 2; // more than maxFrame + 1 bytes pending with no LF
      if (lf < 0) return stream.length - start > max + 1 ? fail('too-long', overflowAt) : { frames, failure: null, failedAt: 0 };
      const end = lf > start && stream[lf - 1] === 0x0d ? lf - 1 : lf;
      if (end - start > max) return fail('too-long', Math.min(lf + 1, overflowAt));
      frames.push({ bytes: stream.subarray(start, end), completedAt: lf + 1 });
      start = lf + 1;
    } else if (spec.kind === 'delimiter') {
      const delimiter = spec.delimiter;
      const at = indexOfFrom(stream, delimiter, start);
      const overflowAt = start + max + delimiter.length;
      if (at < 0) {
        return stream.length - start > max + delimiter.length - 1
          ? fail('too-long', overflowAt)
          : { frames, failure: null, failedAt: 0 };
      }
      if (at - start > max) return fail('too-long', Math.min(at + delimiter.length, overflowAt));
      const end = spec.keepDelimiter ? at + delimiter.length : at;
      frames.push({ bytes: stream.subarray(start, end), completedAt: at + delimiter.length });
      start = at + delimiter.length;
    } else if (spec.kind === 'length') {
      const header = spec.lengthBytes;
      if (stream.length - start < header) break;
      let value = 0n;
      for (let i = 0; i < header; i++) {
        value = value * 256n + BigInt(stream[start + (spec.littleEndian ? header - 1 - i : i)]);
      }
      const payload = value + BigInt(spec.lengthAdjustment) - BigInt(spec.lengthIncludesHeader ? header : 0);
      if (payload < 0n) return fail('bad-length', start + header);
      if (payload > BigInt(max)) return fail('too-long', start + header);
      const end = start + header + Number(payload);
      if (end > stream.length) break;
      frames.push({ bytes: stream.subarray(start + header, end), completedAt: end });
      start = end;
    } else {
      const end = start + spec.fixedSize;
      if (end > stream.length) break;
      frames.push({ bytes: stream.subarray(start, end), completedAt: end });
      start = end;
    }
  }
  return { frames, failure: null, failedAt: 0 };
}

/**
 * What a connection reading `pieces` in order should see, as text lines: one
 * "frame HEX" per frame, then "end FAILURE READ PENDING" (the format of framing_check).
 */
function expectedLines(spec: FramingSpec, pieces: Buffer[]): string[] {
  const ref = reference(spec, Buffer.concat(pieces));
  const lines: string[] = [];
  let fed = 0;
  let emitted = 0;
  let lastEnd = 0;
  for (let read = 0; read < pieces.length; read++) {
    const before = fed;
    fed += pieces[read].length;
    while (emitted < ref.frames.length && ref.frames[emitted].completedAt <= fed) {
      lines.push(`frame ${hex(ref.frames[emitted].bytes)}`);
      lastEnd = ref.frames[emitted++].completedAt;
    }
    if (ref.failure !== null && ref.failedAt > before && ref.failedAt <= fed) {
      lines.push(`end ${ref.failure} ${read} 0`);
      return lines;
    }
  }
  lines.push(`end ok -1 ${fed - lastEnd}`);
  return lines;
}

/** The same lines from a FrameSplitter reading the pieces. */
function splitterLines(spec: FramingSpec, pieces: Buffer[]): string[] {
  const splitter = new FrameSplitter(spec);
  const lines: string[] = [];
  for (let read = 0; read < pieces.length; read++) {
    const failure = splitter.push(pieces[read], (frame) => {
      lines.push(`frame ${hex(frame)}`);
    });
    if (failure !== null) {
      lines.push(`end ${failure} ${read} 0`);
      return lines;
    }
  }
  lines.push(`end ok -1 ${splitter.pending}`);
  return lines;
}

/** The stream whole, cut once at every boundary, and in 1-byte pieces. */
function everyCut(stream: Buffer): Buffer[][] {
  const cuts: Buffer[][] = [[stream]];
  for (let at = 0; at <= stream.length; at++) cuts.push([stream.subarray(0, at), stream.subarray(at)]);
  cuts.push([...stream].map((byte) => Buffer.from([byte])));
  return cuts;
}

/** Every way to cut the stream in three (short streams only: n^2 / 2 cases). */
function everyTwoCuts(stream: Buffer): Buffer[][] {
  const cuts: Buffer[][] = [];
  for (let first = 0; first <= stream.length; first++) {
    for (let second = first; second <= stream.length; second++) {
      cuts.push([stream.subarray(0, first), stream.subarray(first, second), stream.subarray(second)]);
    }
  }
  return cuts;
}

/** A length header written by hand (not by encodeFrame, which is under test). */
function header(size: 1 | 2 | 4 | 8, value: bigint, littleEndian: boolean): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[littleEndian ? i : size - 1 - i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Collects the frames of one push, as latin1 text, and its failure. */
function pushAll(splitter: FrameSplitter, chunk: Buffer | string): { frames: string[]; failure: FrameFailure | null } {
  const frames: string[] = [];
  const failure = splitter.push(typeof chunk === 'string' ? bytes(chunk) : chunk, (frame) => {
    frames.push(frame.toString('latin1'));
  });
  return { frames, failure };
}

// ---------------------------------------------------------------------------------------
// The cases both the reference comparison and the native parity test run.

interface StreamCase {
  name: string;
  spec: FramingSpec;
  streams: Buffer[];
}

function lengthStream(size: 1 | 2 | 4 | 8, littleEndian: boolean, adjustment: number, includes: boolean, payloads: string[]) {
  const parts: Buffer[] = [];
  for (const payload of payloads) {
    const value = BigInt(payload.length) - BigInt(adjustment) + BigInt(includes ? size : 0);
    parts.push(header(size, value, littleEndian), bytes(payload));
  }
  return Buffer.concat(parts);
}

function streamCases(): StreamCase[] {
  const cases: StreamCase[] = [
    {
      name: 'lines with CRLF, empty lines and a too-long line',
      spec: specOf('line', 5),
      streams: [
        bytes('ab\r\ncd\n\n\r\nabcde\r\nx\ry\n\r\r\nrest'),
        bytes('abcde\nabcdef\nnever\n'),
        bytes('abcde\r\n12345\r'),
        bytes('abcde\rX\n'),
      ],
    },
    {
      name: 'a four-byte delimiter (HTTP headers)',
      spec: specOf({ delimiter: '\r\n\r\n' }, 8),
      streams: [bytes('GET /\r\n\r\n\r\n\r\nHost\r\n\r\r\n\r\n'), bytes('12345678\r\n\r\r\n\r\n'), bytes('123456789\r\n\r\n')],
    },
    {
      name: 'a self-overlapping delimiter, kept',
      spec: specOf({ delimiter: 'aab', keepDelimiter: true }, 4),
      streams: [bytes('xaaabaabyaaaab'), bytes('aaaaaab'), bytes('baaaaab')],
    },
    {
      name: 'a one-byte delimiter with empty frames',
      spec: specOf({ delimiter: ';' }, 3),
      streams: [bytes(';;a;bc;def;'), bytes('abcd;')],
    },
    {
      name: 'a delimiter of arbitrary bytes',
      spec: specOf({ delimiter: new Uint8Array([0x00, 0xff]) }, 6),
      streams: [Buffer.from([1, 0, 0xff, 0, 0, 0xff, 0xff, 0, 0xff, 2])],
    },
    { name: 'fixed frames', spec: specOf({ fixed: 3 }, 3), streams: [bytes('abcdefghij')] },
  ];
  for (const size of [1, 2, 4, 8] as const) {
    for (const byteOrder of ['be', 'le'] as const) {
      for (const [adjustment, includes] of [
        [0, false],
        [-2, true],
        [3, false],
      ] as const) {
        const spec = specOf({ length: size, byteOrder, lengthAdjustment: adjustment, lengthIncludesHeader: includes }, 6);
        const little = byteOrder === 'le';
        cases.push({
          name: `${size}-byte ${byteOrder} lengths, adjustment ${adjustment}${includes ? ', header included' : ''}`,
          spec,
          streams: [
            lengthStream(size, little, adjustment, includes, ['abc', '', 'abcdef', 'z']),
            Buffer.concat([lengthStream(size, little, adjustment, includes, ['ok']), header(size, 7n - BigInt(adjustment) + BigInt(includes ? size : 0), little), bytes('1234567')]),
            Buffer.concat([lengthStream(size, little, adjustment, includes, ['ok']), header(size, 0n, little), bytes('tail')]),
          ],
        });
      }
    }
  }
  cases.push({
    name: '8-byte lengths near 2^64',
    spec: specOf({ length: 8, lengthAdjustment: Number.MIN_SAFE_INTEGER }, 10),
    streams: [
      Buffer.concat([header(8, 0xffff_ffff_ffff_ffffn, false), bytes('x')]),
      Buffer.concat([header(8, BigInt(Number.MAX_SAFE_INTEGER) + 2n, false), bytes('ab')]),
      Buffer.concat([header(8, BigInt(Number.MAX_SAFE_INTEGER) - 1n, false), bytes('ab')]),
    ],
  });
  // Random streams over a four-byte alphabet, where delimiters, CRLF and overlaps are common.
  const next = random(7);
  for (const c of cases.slice(0, 5)) {
    for (let i = 0; i < 3; i++) {
      c.streams.push(Buffer.from(Array.from({ length: 10 + next(20) }, () => 'ab\r\n;'.charCodeAt(next(5)))));
    }
  }
  return cases;
}

const cases = streamCases();

describe('FrameSplitter against a plain reference', () => {
  it.each(cases.map((c) => [c.name, c] as const))('splits %s the same at every cut', (_name, c) => {
    for (const stream of c.streams) {
      const cuts = stream.length <= 40 ? [...everyCut(stream), ...everyTwoCuts(stream)] : everyCut(stream);
      for (const pieces of cuts) {
        expect(splitterLines(c.spec, pieces), `${hex(stream)} cut ${pieces.map((p) => p.length).join('+')}`).toEqual(
          expectedLines(c.spec, pieces),
        );
      }
    }
  });

  it('agrees on random specs, streams and cuts', () => {
    const next = random(1234);
    for (let round = 0; round < 3000; round++) {
      const maxFrame = 1 + next(12);
      const kind = next(4);
      let spec: FramingSpec;
      if (kind === 0) spec = specOf('line', maxFrame);
      else if (kind === 1) {
        const delimiter = Buffer.from(Array.from({ length: 1 + next(4) }, () => 'ab\r\n'.charCodeAt(next(4))));
        spec = specOf({ delimiter, keepDelimiter: next(2) === 1 }, maxFrame);
      } else if (kind === 2) {
        const length = ([1, 2, 4, 8] as const)[next(4)];
        const extremes = [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, -(2 ** 32), 2 ** 32];
        const lengthAdjustment = next(8) === 0 ? extremes[next(4)] : next(9) - 4;
        spec = specOf({ length, byteOrder: next(2) ? 'le' : 'be', lengthAdjustment, lengthIncludesHeader: next(2) === 1 }, maxFrame);
      } else spec = specOf({ fixed: 1 + next(maxFrame) }, maxFrame);
      const alphabet = kind === 2 ? [0, 1, 2, 3, 0xff, 0x0a] : [0x61, 0x62, 0x0d, 0x0a];
      const stream = Buffer.from(Array.from({ length: next(60) }, () => alphabet[next(alphabet.length)]));
      const pieces: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = Math.min(next(8), stream.length - at);
        pieces.push(stream.subarray(at, at + size));
        at += size;
      }
      expect(splitterLines(spec, pieces), `round ${round}`).toEqual(expectedLines(spec, pieces));
    }
  });
});

describe('FrameSplitter', () => {
  it('splits thousands of frames in one chunk, each its own buffer', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    const chunk = bytes(lines.join('\r\n') + '\r\n');
    const frames: Buffer[] = [];
    expect(new FrameSplitter(specOf('line')).push(chunk, (frame) => void frames.push(frame))).toBeNull();
    expect(frames.map((frame) => frame.toString('latin1'))).toEqual(lines);
    // A small frame is copied, so keeping it does not keep the whole chunk alive.
    expect(frames.every((frame) => frame.buffer !== chunk.buffer)).toBe(true);

    const records = Buffer.concat(Array.from({ length: 5000 }, (_, i) => Buffer.concat([header(2, 4n, false), bytes(String(i).padStart(4, '0'))])));
    const payloads: string[] = [];
    new FrameSplitter(specOf({ length: 2 })).push(records, (frame) => void payloads.push(frame.toString('latin1')));
    expect(payloads).toHaveLength(5000);
    expect(payloads[4999]).toBe('4999');
  });

  it('hands out a frame that is most of its chunk without copying', () => {
    // A chunk with an ArrayBuffer of its own (Buffer.concat would take a slice of the pool).
    const chunk = Buffer.alloc(1001, 0x61);
    chunk[1000] = 0x0a;
    let frame: Buffer | undefined;
    new FrameSplitter(specOf('line')).push(chunk, (f) => void (frame = f));
    expect(frame?.length).toBe(1000);
    expect(frame?.buffer).toBe(chunk.buffer);
  });

  it('holds nothing between frames and only the unfinished frame otherwise', () => {
    const splitter = new FrameSplitter(specOf({ delimiter: '\r\n' }));
    expect(pushAll(splitter, 'one\r\ntw')).toEqual({ frames: ['one'], failure: null });
    expect(splitter.pending).toBe(2);
    expect(pushAll(splitter, 'o\r')).toEqual({ frames: [], failure: null });
    expect(splitter.pending).toBe(4);
    expect(pushAll(splitter, '\n')).toEqual({ frames: ['two'], failure: null });
    expect(splitter.pending).toBe(0);
  });

  it('takes a 64 KiB frame arriving one byte per read in linear time', () => {
    const frame = Buffer.alloc(65536, 0x61);
    for (const framing of [{ delimiter: 'aab' }, 'line', { length: 4 }] as const) {
      const splitter = new FrameSplitter(specOf(framing));
      const stream =
        typeof framing === 'object' && 'length' in framing
          ? Buffer.concat([header(4, 65536n, false), frame])
          : Buffer.concat([frame, bytes(framing === 'line' ? '\n' : 'aab')]);
      const started = performance.now();
      let received = 0;
      for (let i = 0; i < stream.length; i++) {
        splitter.push(stream.subarray(i, i + 1), (f) => void (received += f.length));
      }
      // About 30 ms in practice; rescanning the held bytes on each read takes minutes.
      expect(performance.now() - started).toBeLessThan(2000);
      expect(received).toBe(65536);
    }
  });

  describe('fails fast on a frame over maxFrame', () => {
    it('a line: once maxFrame + 2 bytes are pending with no LF (room for the CR)', () => {
      const splitter = new FrameSplitter(specOf('line', 4));
      expect(pushAll(splitter, 'abcd\r')).toEqual({ frames: [], failure: null });
      expect(pushAll(splitter, '\n')).toEqual({ frames: ['abcd'], failure: null });
      expect(pushAll(splitter, 'abcde')).toEqual({ frames: [], failure: null });
      expect(pushAll(splitter, 'f')).toEqual({ frames: [], failure: 'too-long' });
      // An LF right after maxFrame + 1 bytes that do not end in CR is too long at once.
      expect(pushAll(new FrameSplitter(specOf('line', 4)), 'abcde\n')).toEqual({ frames: [], failure: 'too-long' });
    });

    it('a delimited frame: once maxFrame + delimiter length bytes are pending with no delimiter', () => {
      const splitter = new FrameSplitter(specOf({ delimiter: '\r\n\r\n' }, 4));
      expect(pushAll(splitter, 'abcd\r\n\r')).toEqual({ frames: [], failure: null });
      expect(pushAll(splitter, '\n')).toEqual({ frames: ['abcd'], failure: null });
      expect(pushAll(splitter, 'abcd\r\n\r')).toEqual({ frames: [], failure: null });
      expect(splitter.pending).toBe(7);
      expect(pushAll(splitter, 'x')).toEqual({ frames: [], failure: 'too-long' });
    });

    it('a length-prefixed frame: right after its header, before any payload', () => {
      expect(pushAll(new FrameSplitter(specOf({ length: 4 }, 4)), header(4, 5n, false))).toEqual({
        frames: [],
        failure: 'too-long',
      });
      const eight = new FrameSplitter(specOf({ length: 8, byteOrder: 'le' }, 4));
      expect(pushAll(eight, header(8, 0xffff_ffff_ffff_ffffn, true).subarray(0, 7)).failure).toBeNull();
      expect(pushAll(eight, header(8, 0xffff_ffff_ffff_ffffn, true).subarray(7)).failure).toBe('too-long');
    });

    it('emits the frames before a failure and none after it', () => {
      expect(pushAll(new FrameSplitter(specOf('line', 4)), 'ok\nmuch too long\nok2\n')).toEqual({
        frames: ['ok'],
        failure: 'too-long',
      });
    });
  });

  it('fails a negative payload length right after the header', () => {
    const splitter = new FrameSplitter(specOf({ length: 1, lengthAdjustment: -3 }));
    expect(pushAll(splitter, Buffer.from([4, 0x61, 2, 0x61]))).toEqual({ frames: ['a'], failure: 'bad-length' });
    const counted = new FrameSplitter(specOf({ length: 2, lengthIncludesHeader: true }));
    expect(pushAll(counted, Buffer.from([0, 1])).failure).toBe('bad-length');
    const eight = new FrameSplitter(specOf({ length: 8, lengthAdjustment: -1 }));
    expect(pushAll(eight, header(8, 0n, false)).failure).toBe('bad-length');
  });

  it('gives empty frames for empty lines, adjacent delimiters and zero lengths', () => {
    expect(pushAll(new FrameSplitter(specOf('line')), '\n\r\n').frames).toEqual(['', '']);
    expect(pushAll(new FrameSplitter(specOf({ delimiter: '--' })), '----').frames).toEqual(['', '']);
    expect(pushAll(new FrameSplitter(specOf({ length: 2 })), Buffer.from([0, 0, 0, 0])).frames).toEqual(['', '']);
  });

  it('removes one CR before the LF, and only there', () => {
    expect(pushAll(new FrameSplitter(specOf('line')), 'a\r\r\nb\rc\n\r\n').frames).toEqual(['a\r', 'b\rc', '']);
  });

  it('finds multi-byte and self-overlapping delimiters split across reads', () => {
    const splitter = new FrameSplitter(specOf({ delimiter: 'aab' }));
    const seen: string[] = [];
    for (const piece of ['xa', 'a', 'ab', 'yaa', 'aab']) seen.push(...pushAll(splitter, piece).frames);
    expect(seen).toEqual(['xa', 'yaa']);
    const http = new FrameSplitter(specOf({ delimiter: '\r\n\r\n', keepDelimiter: true }));
    expect(pushAll(http, 'a\r\n\r').frames).toEqual([]);
    expect(pushAll(http, '\r\n\r\nb').frames).toEqual(['a\r\n\r\r\n\r\n']);
  });

  it('reads every header size in both byte orders, with adjustments and included headers', () => {
    for (const size of [1, 2, 4, 8] as const) {
      for (const byteOrder of ['be', 'le'] as const) {
        for (const [lengthAdjustment, lengthIncludesHeader] of [
          [0, false],
          [0, true],
          [5, false],
          [-1, true],
        ] as const) {
          const spec = specOf({ length: size, byteOrder, lengthAdjustment, lengthIncludesHeader });
          const payload = 'x'.repeat(size === 1 ? 200 : 300);
          const value = BigInt(payload.length - lengthAdjustment + (lengthIncludesHeader ? size : 0));
          const stream = Buffer.concat([header(size, value, byteOrder === 'le'), bytes(payload)]);
          expect(pushAll(new FrameSplitter(spec), stream).frames, `${size} ${byteOrder} ${lengthAdjustment}`).toEqual([payload]);
          expect(encodeFrame(spec, bytes(payload))).toEqual(stream);
        }
      }
    }
  });

  it('stops at once when emit returns false, and lets an exception from emit through', () => {
    const splitter = new FrameSplitter(specOf('line'));
    const seen: string[] = [];
    const failure = splitter.push(bytes('a\nb\nc\n'), (frame) => {
      seen.push(frame.toString());
      return seen.length < 2;
    });
    expect(failure).toBeNull();
    expect(seen).toEqual(['a', 'b']);
    expect(() =>
      new FrameSplitter(specOf('line')).push(bytes('a\n'), () => {
        throw new Error('handler failed');
      }),
    ).toThrow('handler failed');
  });

  it('splits plain Uint8Arrays as well as Buffers', () => {
    const data = new Uint8Array([0, 0x61, 0x0a, 0x62, 0x0a]).subarray(1);
    expect(pushAll(new FrameSplitter(specOf('line')), Buffer.from(data)).frames).toEqual(['a', 'b']);
    const frames: string[] = [];
    new FrameSplitter(specOf('line')).push(data, (frame) => void frames.push(frame.toString()));
    expect(frames).toEqual(['a', 'b']);
  });
});

describe('encodeFrame', () => {
  it('round-trips through FrameSplitter for every kind', () => {
    const framings: FramingOption[] = [
      'line',
      { delimiter: '\r\n\r\n' },
      { delimiter: 'aab', keepDelimiter: true },
      { length: 1 },
      { length: 2, byteOrder: 'le', lengthAdjustment: -2 },
      { length: 4, lengthIncludesHeader: true },
      { length: 8, byteOrder: 'le', lengthAdjustment: -8, lengthIncludesHeader: true },
      { fixed: 5 },
    ];
    for (const framing of framings) {
      const spec = specOf(framing);
      const payloads = spec.kind === 'fixed' ? ['hello', 'world'] : ['', 'hello', 'a\rb', 'x'.repeat(200)];
      const stream = Buffer.concat(payloads.map((payload) => encodeFrame(spec, bytes(payload))));
      const frames: string[] = [];
      for (const pieces of [[stream], [...stream].map((byte) => Buffer.from([byte]))]) {
        frames.length = 0;
        const splitter = new FrameSplitter(spec);
        for (const piece of pieces) splitter.push(piece, (frame) => void frames.push(frame.toString('latin1')));
        const kept = spec.keepDelimiter ? spec.delimiter.toString('latin1') : '';
        expect(frames, JSON.stringify(framing)).toEqual(payloads.map((payload) => payload + kept));
      }
    }
  });

  it('writes the header and trailer expected', () => {
    expect(encodeFrame(specOf('line'), bytes('hi'))).toEqual(bytes('hi\n'));
    expect(encodeFrame(specOf({ length: 2, byteOrder: 'le' }), bytes('hi'))).toEqual(Buffer.from([2, 0, 0x68, 0x69]));
    expect(encodeFrame(specOf({ length: 4, lengthIncludesHeader: true }), bytes('hi'))).toEqual(Buffer.from([0, 0, 0, 6, 0x68, 0x69]));
    expect(encodeFrame(specOf({ length: 8, lengthAdjustment: Number.MIN_SAFE_INTEGER }), bytes('')).subarray(0, 8)).toEqual(
      header(8, BigInt(Number.MAX_SAFE_INTEGER), false),
    );
  });

  it('throws a RangeError naming why a frame cannot be written', () => {
    expect(() => encodeFrame(specOf({ length: 1 }), Buffer.alloc(256))).toThrow(/256-byte payload .*too big for 1 bytes/);
    expect(() => encodeFrame(specOf({ length: 2, lengthAdjustment: 3 }), bytes('ab'))).toThrow(RangeError);
    expect(() => encodeFrame(specOf({ length: 2, lengthAdjustment: 3 }), bytes('ab'))).toThrow(/negative length header value \(-1\)/);
    expect(() => encodeFrame(specOf({ length: 8, lengthAdjustment: 1 }), bytes(''))).toThrow(/negative/);
    expect(() => encodeFrame(specOf({ fixed: 4 }), bytes('abc'))).toThrow(/exactly 4 bytes, got 3/);
  });
});

describe('checkFraming', () => {
  it('returns null without framing, and fills every field of a spec', () => {
    expect(checkFraming(undefined, undefined)).toBeNull();
    expect(checkFraming(undefined, 10)).toBeNull();
    expect(checkFraming('line', undefined)).toEqual({
      kind: 'line',
      delimiter: Buffer.alloc(0),
      keepDelimiter: false,
      lengthBytes: 0,
      littleEndian: false,
      lengthAdjustment: 0,
      lengthIncludesHeader: false,
      fixedSize: 0,
      maxFrame: DEFAULT_MAX_FRAME,
    });
    expect(checkFraming({ delimiter: '€' }, 10)).toMatchObject({ kind: 'delimiter', delimiter: Buffer.from('€'), maxFrame: 10 });
    expect(checkFraming({ length: 8, byteOrder: 'le', lengthAdjustment: -4, lengthIncludesHeader: true }, undefined)).toMatchObject({
      kind: 'length',
      lengthBytes: 8,
      littleEndian: true,
      lengthAdjustment: -4,
      lengthIncludesHeader: true,
    });
    // A key set to undefined counts as not given, as elsewhere in the options.
    expect(checkFraming({ fixed: 16, keepDelimiter: undefined }, 16)).toMatchObject({ kind: 'fixed', fixedSize: 16, maxFrame: 16 });
  });

  it('copies a Uint8Array delimiter', () => {
    const delimiter = new Uint8Array([1, 2]);
    const spec = specOf({ delimiter });
    delimiter[0] = 9;
    expect([...spec.delimiter]).toEqual([1, 2]);
  });

  const failures: Array<[string, unknown, unknown, ErrorConstructor, RegExp]> = [
    ['a framing of the wrong type', 42, undefined, TypeError, /^options\.framing must be 'line' or an object, got number 42$/],
    ['an unknown framing name', 'lines', undefined, RangeError, /^options\.framing must be 'line' or an object, got 'lines'$/],
    ['null framing', null, undefined, TypeError, /options\.framing .*got null/],
    ['no kind', {}, undefined, TypeError, /options\.framing must have exactly one of delimiter, length or fixed, got none/],
    ['two kinds', { delimiter: 'x', length: 2 }, undefined, TypeError, /got delimiter and length/],
    ['an unknown key', { length: 2, endian: 'le' }, undefined, TypeError, /options\.framing has unknown key 'endian'/],
    ['a key of another kind', { delimiter: ';', byteOrder: 'le' }, undefined, TypeError, /unknown key 'byteOrder' \(delimiter framing takes delimiter, keepDelimiter\)/],
    ['a delimiter of the wrong type', { delimiter: 10 }, undefined, TypeError, /options\.framing\.delimiter must be a string or a Uint8Array, got number 10/],
    ['an empty delimiter', { delimiter: '' }, undefined, RangeError, /options\.framing\.delimiter must not be empty/],
    ['keepDelimiter not a boolean', { delimiter: ';', keepDelimiter: 1 }, undefined, TypeError, /options\.framing\.keepDelimiter must be a boolean/],
    ['a header size of the wrong type', { length: '4' }, undefined, TypeError, /options\.framing\.length must be a number, got '4'/],
    ['a header size out of range', { length: 3 }, undefined, RangeError, /^options\.framing\.length must be 1, 2, 4 or 8, got 3$/],
    ['a byte order out of range', { length: 2, byteOrder: 'little' }, undefined, RangeError, /options\.framing\.byteOrder must be 'be' or 'le', got 'little'/],
    ['a byte order of the wrong type', { length: 2, byteOrder: 1 }, undefined, TypeError, /options\.framing\.byteOrder must be a string/],
    ['a fractional adjustment', { length: 2, lengthAdjustment: 1.5 }, undefined, RangeError, /options\.framing\.lengthAdjustment must be a safe integer, got 1\.5/],
    ['an adjustment of the wrong type', { length: 2, lengthAdjustment: '1' }, undefined, TypeError, /options\.framing\.lengthAdjustment must be a number/],
    ['lengthIncludesHeader not a boolean', { length: 2, lengthIncludesHeader: 'yes' }, undefined, TypeError, /options\.framing\.lengthIncludesHeader must be a boolean/],
    ['a zero fixed size', { fixed: 0 }, undefined, RangeError, /options\.framing\.fixed must be an integer from 1 to maxFrame \(65536\), got 0/],
    ['a fixed size over maxFrame', { fixed: 11 }, 10, RangeError, /options\.framing\.fixed .*maxFrame \(10\), got 11/],
    ['a fixed size of the wrong type', { fixed: '3' }, undefined, TypeError, /options\.framing\.fixed must be a number/],
    ['a maxFrame of the wrong type', 'line', '10', TypeError, /^options\.maxFrame must be a number, got '10'$/],
    ['a zero maxFrame', 'line', 0, RangeError, /^options\.maxFrame must be an integer from 1 to 2147483647, got 0$/],
    ['a maxFrame over 2^31 - 1', 'line', 2 ** 31, RangeError, /options\.maxFrame .*got 2147483648/],
  ];

  it.each(failures)('rejects %s with an error naming the option', (_name, framing, maxFrame, kind, message) => {
    let thrown: unknown;
    try {
      checkFraming(framing, maxFrame);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(kind);
    expect((thrown as Error).message).toMatch(message);
  });
});

// ---------------------------------------------------------------------------------------
// The native framer, outside Node.

const buildDir = mkdtempSync(join(tmpdir(), 'sockengine-framing-'));
const checker = join(buildDir, 'framing_check');
const gxxMissing = spawnSync('g++', ['--version']).error !== undefined;
let buildOutput = '';

beforeAll(() => {
  if (gxxMissing) return;
  const build = spawnSync(
    'g++',
    ['-std=c++17', '-O1', '-Wall', '-Wextra', '-Werror', '-o', checker, join(root, 'fuzz', 'framing_check.cc'), join(root, 'native', 'framing.cc')],
    { encoding: 'utf8' },
  );
  buildOutput = build.status === 0 ? '' : `${build.stderr}${build.error ?? ''}`;
}, 60_000);
afterAll(() => rmSync(buildDir, { recursive: true, force: true }));

function specLine(spec: FramingSpec): string {
  const fields = [spec.kind, hex(spec.delimiter), +spec.keepDelimiter, spec.lengthBytes, +spec.littleEndian];
  return `spec ${[...fields, spec.lengthAdjustment, +spec.lengthIncludesHeader, spec.fixedSize, spec.maxFrame].join(' ')}`;
}

function runChecker(input: string): string[] {
  const run = spawnSync(checker, [], { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout.split('\n').filter((line) => line.length > 0);
}

describe('the native framer', () => {
  it('builds outside Node with -Wall -Wextra clean', (context) => {
    context.skip(gxxMissing, 'g++ is not installed');
    expect(buildOutput).toBe('');
  });

  it('gives the same frames and failures as FrameSplitter on every cut of the same streams', (context) => {
    context.skip(gxxMissing, 'g++ is not installed');
    expect(buildOutput).toBe('');
    const input: string[] = [];
    const expected: string[] = [];
    for (const c of cases) {
      input.push(specLine(c.spec));
      expected.push('spec ok');
      for (const stream of c.streams) {
        for (const pieces of everyCut(stream)) {
          input.push(`feed ${pieces.map(hex).join(' ')}`);
          expected.push(...splitterLines(c.spec, pieces));
        }
      }
    }
    const actual = runChecker(input.join('\n') + '\n');
    // Compared per line so a failure shows the first disagreement, not a huge diff.
    for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) expect(actual[i], `line ${i}`).toBe(expected[i]);
    expect(actual.length).toBe(expected.length);
  });

  it('writes the same headers and trailers as encodeFrame', (context) => {
    context.skip(gxxMissing, 'g++ is not installed');
    expect(buildOutput).toBe('');
    const input: string[] = [];
    const expected: string[] = [];
    const specs = [...new Set(cases.map((c) => c.spec))];
    for (const spec of specs) {
      input.push(specLine(spec));
      expected.push('spec ok');
      for (const length of [0, 1, 2, 3, 5, 255, 256, 65535, 65536]) {
        input.push(`encode ${length}`);
        let line: string;
        try {
          const frame = encodeFrame(spec, Buffer.alloc(length, 0x2e));
          const head = frame.subarray(0, spec.lengthBytes);
          line = `encode ${hex(head)} ${hex(frame.subarray(spec.lengthBytes + length))}`;
        } catch (error) {
          expect(error).toBeInstanceOf(RangeError);
          line = 'encode unexpressible';
        }
        expected.push(line);
      }
    }
    expect(runChecker(input.join('\n') + '\n')).toEqual(expected);
  });
});
