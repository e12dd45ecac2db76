/**
 * Stream framing in JavaScript: the option checks both backends share, and the splitter
 * the node:net backend uses. It follows native/framing.h rule for rule: the same frames,
 * the same failures, reported at the same byte (test/framing.test.ts runs both on the same
 * streams cut at every boundary).
 *
 * Rules, for both:
 * - line: a frame ends at LF; the LF, and one CR right before it, are not part of it.
 * - delimiter: a frame ends at the first delimiter after the previous frame; with
 *   keepDelimiter the delimiter stays at the end of the frame.
 * - length: a header of 1, 2, 4 or 8 bytes gives the payload length,
 *   value + lengthAdjustment - (lengthIncludesHeader ? header bytes : 0); the header is not
 *   part of the frame.
 * - fixed: frames of exactly `fixed` bytes.
 * - A payload longer than maxFrame fails as soon as that is certain: right after a length
 *   header; for lines once more than maxFrame + 1 bytes (room for the CR) are pending with
 *   no LF; for delimiters once more than maxFrame + delimiter length - 1 are pending with
 *   no delimiter. So a peer can make a connection hold at most maxFrame + delimiter bytes.
 */
import { Buffer } from 'node:buffer';
// Public declarations say NodeBuffer (Buffer with node's types, else Uint8Array), so an app
// without @types/node can compile against them.
import type { NodeBuffer } from './types.js';

/** How `options.framing` may be given. */
export type FramingOption =
  | 'line'
  | { delimiter: string | Uint8Array; keepDelimiter?: boolean }
  | { length: 1 | 2 | 4 | 8; byteOrder?: 'be' | 'le'; lengthAdjustment?: number; lengthIncludesHeader?: boolean }
  | { fixed: number };

/** A checked framing option, with every field filled in (the shape the addon receives). */
export interface FramingSpec {
  /** How frames end. */
  kind: 'line' | 'delimiter' | 'length' | 'fixed';
  /** The delimiter's bytes for delimiter framing; empty otherwise. */
  delimiter: NodeBuffer;
  /** Delimiter framing: the delimiter stays at the end of each frame. */
  keepDelimiter: boolean;
  /** Length framing: the header's size; 0 otherwise. */
  lengthBytes: 0 | 1 | 2 | 4 | 8;
  /** Length framing: the header is little-endian (the default is big-endian). */
  littleEndian: boolean;
  /** Length framing: added to the header's value to give the payload length. */
  lengthAdjustment: number;
  /** Length framing: the header's value counts the header bytes too. */
  lengthIncludesHeader: boolean;
  /** Fixed framing: the frame size; 0 otherwise. */
  fixedSize: number;
  /** Payload bytes allowed per received frame, not counting a delimiter, CR or header. */
  maxFrame: number;
}

/** options.maxFrame when it is not given: 64 KiB, one full read of the native engine. */
export const DEFAULT_MAX_FRAME = 65536;
/** The largest options.maxFrame: a frame must fit a Buffer on every platform Node runs on. */
const LARGEST_MAX_FRAME = 2 ** 31 - 1;

/** Why a stream could not be split: a payload over maxFrame, or a negative length header. */
export type FrameFailure = 'too-long' | 'bad-length';

const optionsByKind = {
  delimiter: ['delimiter', 'keepDelimiter'],
  length: ['length', 'byteOrder', 'lengthAdjustment', 'lengthIncludesHeader'],
  fixed: ['fixed'],
} as const;
type ObjectKind = keyof typeof optionsByKind;
const objectKinds = Object.keys(optionsByKind) as ObjectKind[];

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function checkBoolean(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function checkMaxFrame(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_FRAME;
  if (typeof value !== 'number') throw new TypeError(`options.maxFrame must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > LARGEST_MAX_FRAME) {
    throw new RangeError(`options.maxFrame must be an integer from 1 to ${LARGEST_MAX_FRAME}, got ${value}`);
  }
  return value;
}

/**
 * Checks options.framing and options.maxFrame, throwing a TypeError (wrong kind of value)
 * or RangeError (out of range) that names the option. Returns null when framing is not
 * given, whatever maxFrame is: the caller decides what maxFrame alone means.
 */
export function checkFraming(framing: unknown, maxFrame: unknown): FramingSpec | null {
  if (framing === undefined) return null;
  const spec: FramingSpec = {
    kind: 'line',
    delimiter: Buffer.alloc(0),
    keepDelimiter: false,
    lengthBytes: 0,
    littleEndian: false,
    lengthAdjustment: 0,
    lengthIncludesHeader: false,
    fixedSize: 0,
    maxFrame: checkMaxFrame(maxFrame),
  };
  if (typeof framing === 'string') {
    if (framing !== 'line') throw new RangeError(`options.framing must be 'line' or an object, got ${describe(framing)}`);
    return spec;
  }
  if (typeof framing !== 'object' || framing === null || Array.isArray(framing)) {
    throw new TypeError(`options.framing must be 'line' or an object, got ${describe(framing)}`);
  }
  const fields = framing as Record<string, unknown>;
  // A key whose value is undefined counts as not given, as everywhere in the options.
  const given = Object.keys(fields).filter((key) => fields[key] !== undefined);
  const kinds = objectKinds.filter((kind) => given.includes(kind));
  if (kinds.length !== 1) {
    const found = kinds.length === 0 ? 'none of them' : kinds.join(' and ');
    throw new TypeError(`options.framing must have exactly one of delimiter, length or fixed, got ${found}`);
  }
  const kind = kinds[0];
  const allowed: readonly string[] = optionsByKind[kind];
  const unknown = given.filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new TypeError(
      `options.framing has unknown ${unknown.length === 1 ? 'key' : 'keys'} ${unknown.map((key) => `'${key}'`).join(', ')}` +
        ` (${kind} framing takes ${allowed.join(', ')})`,
    );
  }
  spec.kind = kind;
  if (kind === 'delimiter') {
    const delimiter = fields.delimiter;
    if (typeof delimiter === 'string') spec.delimiter = Buffer.from(delimiter, 'utf8');
    // A copy, so the caller changing its array later cannot change the framing.
    else if (delimiter instanceof Uint8Array) spec.delimiter = Buffer.from(delimiter);
    else {
      throw new TypeError(`options.framing.delimiter must be a string or a Uint8Array, got ${describe(delimiter)}`);
    }
    if (spec.delimiter.length === 0) throw new RangeError('options.framing.delimiter must not be empty');
    spec.keepDelimiter = checkBoolean(fields.keepDelimiter, 'options.framing.keepDelimiter');
  } else if (kind === 'length') {
    const length = fields.length;
    if (typeof length !== 'number') {
      throw new TypeError(`options.framing.length must be a number, got ${describe(length)}`);
    }
    if (length !== 1 && length !== 2 && length !== 4 && length !== 8) {
      throw new RangeError(`options.framing.length must be 1, 2, 4 or 8, got ${length}`);
    }
    spec.lengthBytes = length;
    const byteOrder = fields.byteOrder;
    if (byteOrder !== undefined && typeof byteOrder !== 'string') {
      throw new TypeError(`options.framing.byteOrder must be a string, got ${describe(byteOrder)}`);
    }
    if (byteOrder !== undefined && byteOrder !== 'be' && byteOrder !== 'le') {
      throw new RangeError(`options.framing.byteOrder must be 'be' or 'le', got ${describe(byteOrder)}`);
    }
    spec.littleEndian = byteOrder === 'le';
    const adjustment = fields.lengthAdjustment ?? 0;
    if (typeof adjustment !== 'number') {
      throw new TypeError(`options.framing.lengthAdjustment must be a number, got ${describe(adjustment)}`);
    }
    if (!Number.isSafeInteger(adjustment)) {
      throw new RangeError(`options.framing.lengthAdjustment must be a safe integer, got ${adjustment}`);
    }
    spec.lengthAdjustment = adjustment;
    spec.lengthIncludesHeader = checkBoolean(fields.lengthIncludesHeader, 'options.framing.lengthIncludesHeader');
  } else {
    const fixed = fields.fixed;
    if (typeof fixed !== 'number') throw new TypeError(`options.framing.fixed must be a number, got ${describe(fixed)}`);
    if (!Number.isInteger(fixed) || fixed < 1 || fixed > spec.maxFrame) {
      throw new RangeError(`options.framing.fixed must be an integer from 1 to maxFrame (${spec.maxFrame}), got ${fixed}`);
    }
    spec.fixedSize = fixed;
  }
  return spec;
}

/** The bytes of a length-prefixed frame reserved at once, as native/framing.h kReserveAtOnce. */
const RESERVE_AT_ONCE = 64 * 1024;
const LF = 0x0a;
const LINE_END = Buffer.from([LF]);
const typedIndexOf = Uint8Array.prototype.indexOf;
const LINE_PARTS: FrameParts = Object.freeze({ header: null, trailer: LINE_END });

function endsWith(bytes: Uint8Array, suffix: Buffer): boolean {
  if (bytes.length < suffix.length) return false;
  return Buffer.from(bytes.buffer, bytes.byteOffset + bytes.length - suffix.length, suffix.length).equals(suffix);
}
const CR = 0x0d;

/**
 * A frame of `length` bytes at `start` in `source`, as a Buffer the caller may keep. A view
 * keeps its whole ArrayBuffer alive, so it is handed out only when the frame is at least
 * half of that ArrayBuffer (a kept frame then pins at most twice its size); a smaller
 * frame is copied into memory of its own (never the shared 8 KiB pool, which a kept
 * 10-byte line would pin whole): the same rule as the native backend's chunks.
 */
function ownFrame(source: Buffer, start: number, length: number): Buffer {
  if (length * 2 >= source.buffer.byteLength) return source.subarray(start, start + length);
  const frame = Buffer.allocUnsafeSlow(length);
  source.copy(frame, 0, start, start + length);
  return frame;
}

/**
 * Splits one connection's byte stream into frames. Between frames it holds nothing; an
 * unfinished frame's bytes are kept until it completes.
 */
export class FrameSplitter {
  readonly #spec: FramingSpec;
  /** What ends a frame (line and delimiter framing): the delimiter, or LF. */
  readonly #delimiter: Buffer;
  /** Knuth-Morris-Pratt table: fallback[k] is the longest proper prefix of the delimiter that ends its first k bytes. */
  readonly #fallback: Int32Array;
  /** Bytes a frame may have before its delimiter: maxFrame, plus one for a line's CR. */
  readonly #maxContent: number;
  /** The unfinished frame's bytes (line, delimiter: all of them; length: the payload), in its first #heldLength bytes. */
  #held: Buffer | null = null;
  #heldLength = 0;
  /** Line and delimiter framing: delimiter bytes the held bytes end with, where the search resumes. */
  #matched = 0;
  /** Length framing: the header while it arrives, and its payload length once complete (-1 before). */
  #header: Buffer | null = null;
  #headerLength = 0;
  #payloadLength = -1;

  /** Takes a spec from checkFraming(). */
  constructor(spec: FramingSpec) {
    this.#spec = spec;
    this.#delimiter = spec.kind === 'line' ? Buffer.from([LF]) : spec.delimiter;
    this.#maxContent = spec.kind === 'line' ? spec.maxFrame + 1 : spec.maxFrame;
    const delimiter = this.#delimiter;
    this.#fallback = new Int32Array(delimiter.length + 1);
    let border = 0;
    for (let k = 1; k < delimiter.length; k++) {
      while (border > 0 && delimiter[k] !== delimiter[border]) border = this.#fallback[border];
      if (delimiter[k] === delimiter[border]) border++;
      this.#fallback[k + 1] = border;
    }
  }

  /** Bytes held for an unfinished frame. */
  get pending(): number {
    return this.#headerLength + this.#heldLength;
  }

  /**
   * Splits `chunk`, calling emit(frame) for each complete frame in order, and returns null,
   * or the first failure (frames before it were emitted, nothing after it is; the
   * connection should then be closed). Frames may be views of `chunk` (see ownFrame), so
   * the caller must not reuse its memory. emit returning false stops the split at once
   * (null is returned); if emit throws, the exception propagates and the splitter must not
   * be used again.
   */
  push(chunk: Uint8Array, emit: (frame: NodeBuffer) => boolean | void): FrameFailure | null {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    switch (this.#spec.kind) {
      case 'line':
      case 'delimiter':
        return this.#splitDelimited(bytes, emit);
      case 'length':
      case 'fixed':
        return this.#splitCounted(bytes, emit);
    }
  }

  #splitDelimited(chunk: Buffer, emit: (frame: Buffer) => boolean | void): FrameFailure | null {
    const delimiterLength = this.#delimiter.length;
    // A frame with its delimiter never has more bytes than this; bytes pending without a
    // delimiter once there are this many are a frame that is too long.
    const limit = this.#maxContent + delimiterLength;
    let position = 0;
    if (this.#heldLength > 0) {
      const held = this.#heldLength;
      // A delimiter begun in the held bytes ends within the first delimiterLength - 1 new
      // bytes; one lying wholly in the chunk starts at 0 or later and is found by the search.
      let matched = this.#matched;
      const straddle = Math.min(chunk.length, delimiterLength - 1);
      let end = 0;
      for (let i = 0; i < straddle; i++) {
        matched = this.#advance(matched, chunk[i]);
        if (matched === delimiterLength) {
          end = i + 1;
          break;
        }
      }
      if (end === 0) {
        const found = this.#findDelimiter(chunk, 0, Math.min(chunk.length, limit - held));
        if (found < 0) {
          if (held + chunk.length >= limit) return 'too-long';
          this.#matched = chunk.length >= delimiterLength - 1 ? this.#matchedAtEnd(chunk, 0, chunk.length) : matched;
          this.#append(chunk, 0, chunk.length, limit);
          return null;
        }
        end = found + delimiterLength;
      }
      const content = held + end - delimiterLength;
      if (content > this.#maxContent) return 'too-long';
      this.#append(chunk, 0, end, limit);
      const frame = this.#held as Buffer;
      this.#held = null;
      this.#heldLength = 0;
      this.#matched = 0;
      const length = this.#emittedLength(frame, 0, content);
      if (length < 0) return 'too-long';
      if (emit(ownFrame(frame, 0, length)) === false) return null;
      position = end;
    }
    while (position < chunk.length) {
      const rest = chunk.length - position;
      const found = this.#findDelimiter(chunk, position, position + Math.min(rest, limit));
      if (found < 0) {
        if (rest >= limit) return 'too-long';
        this.#matched = this.#matchedAtEnd(chunk, position, chunk.length);
        this.#append(chunk, position, chunk.length, limit);
        return null;
      }
      const length = this.#emittedLength(chunk, position, found - position);
      if (length < 0) return 'too-long';
      if (emit(ownFrame(chunk, position, length)) === false) return null;
      position = found + delimiterLength;
    }
    return null;
  }

  /** Length and fixed framing: a frame is an optional header and a payload of known length. */
  #splitCounted(chunk: Buffer, emit: (frame: Buffer) => boolean | void): FrameFailure | null {
    const spec = this.#spec;
    const header = spec.lengthBytes;
    let position = 0;
    if (this.pending > 0) {
      if (this.#headerLength < header) {
        const take = Math.min(chunk.length, header - this.#headerLength);
        const headerBytes = this.#header as Buffer;
        chunk.copy(headerBytes, this.#headerLength, 0, take);
        this.#headerLength += take;
        position = take;
        if (this.#headerLength < header) return null;
        const payloadLength = this.#payloadLengthOf(headerBytes, 0);
        if (typeof payloadLength === 'string') return payloadLength;
        this.#payloadLength = payloadLength;
      }
      const payloadLength = header > 0 ? this.#payloadLength : spec.fixedSize;
      const take = Math.min(chunk.length - position, payloadLength - this.#heldLength);
      if (take > 0) this.#append(chunk, position, position + take, payloadLength);
      position += take;
      if (this.#heldLength < payloadLength) return null;
      const payload = this.#held;
      this.#held = null;
      this.#heldLength = 0;
      this.#header = null;
      this.#headerLength = 0;
      this.#payloadLength = -1;
      const frame = payload === null ? Buffer.alloc(0) : ownFrame(payload, 0, payloadLength);
      if (emit(frame) === false) return null;
    }
    while (position < chunk.length) {
      const rest = chunk.length - position;
      if (rest < header) {
        this.#header = Buffer.alloc(8);
        chunk.copy(this.#header, 0, position);
        this.#headerLength = rest;
        return null;
      }
      let payloadLength = spec.fixedSize;
      if (header > 0) {
        const found = this.#payloadLengthOf(chunk, position);
        if (typeof found === 'string') return found;
        payloadLength = found;
      }
      const start = position + header;
      if (rest - header < payloadLength) {
        if (header > 0) {
          this.#header = Buffer.alloc(8);
          chunk.copy(this.#header, 0, position, start);
          this.#headerLength = header;
          this.#payloadLength = payloadLength;
        }
        if (chunk.length > start) this.#append(chunk, start, chunk.length, payloadLength);
        return null;
      }
      if (emit(ownFrame(chunk, start, payloadLength)) === false) return null;
      position = start + payloadLength;
    }
    return null;
  }

  /** Where the first delimiter lies wholly inside chunk[from, to), or -1. */
  #findDelimiter(chunk: Buffer, from: number, to: number): number {
    const delimiter = this.#delimiter;
    if (to - from < delimiter.length) return -1;
    // indexOf may look past `to`; a find beyond it counts as none, and the caller then
    // fails or keeps the rest, so no byte is searched twice either way.
    const found = delimiter.length === 1 ? chunk.indexOf(delimiter[0], from) : chunk.indexOf(delimiter, from);
    return found >= 0 && found + delimiter.length <= to ? found : -1;
  }

  /** One search step: the delimiter bytes matched after `byte`, given `matched` before it. */
  #advance(matched: number, byte: number): number {
    const delimiter = this.#delimiter;
    while (matched > 0 && delimiter[matched] !== byte) matched = this.#fallback[matched];
    return delimiter[matched] === byte ? matched + 1 : matched;
  }

  /** The delimiter bytes matched at the end of chunk[from, to), which holds no delimiter. */
  #matchedAtEnd(chunk: Buffer, from: number, to: number): number {
    let matched = 0;
    for (let i = Math.max(from, to - (this.#delimiter.length - 1)); i < to; i++) matched = this.#advance(matched, chunk[i]);
    return matched;
  }

  /** The length to emit for `content` bytes before a delimiter, or -1 when the payload is too long. */
  #emittedLength(source: Buffer, start: number, content: number): number {
    if (this.#spec.kind === 'line') {
      const payload = content > 0 && source[start + content - 1] === CR ? content - 1 : content;
      return payload <= this.#spec.maxFrame ? payload : -1;
    }
    if (content > this.#spec.maxFrame) return -1;
    return this.#spec.keepDelimiter ? content + this.#delimiter.length : content;
  }

  /** The payload length the header at `offset` gives, or the failure it means. */
  #payloadLengthOf(source: Buffer, offset: number): number | FrameFailure {
    const spec = this.#spec;
    const headerOffset = spec.lengthIncludesHeader ? spec.lengthBytes : 0;
    if (spec.lengthBytes === 8) {
      const value = spec.littleEndian ? source.readBigUInt64LE(offset) : source.readBigUInt64BE(offset);
      const payload = value + BigInt(spec.lengthAdjustment) - BigInt(headerOffset);
      if (payload < 0n) return 'bad-length';
      return payload > BigInt(spec.maxFrame) ? 'too-long' : Number(payload);
    }
    const value = spec.littleEndian
      ? source.readUIntLE(offset, spec.lengthBytes)
      : source.readUIntBE(offset, spec.lengthBytes);
    // Exact: value < 2^32 and |lengthAdjustment| < 2^53; a sum past 2^53 is far above
    // maxFrame whatever its rounding.
    const payload = value + spec.lengthAdjustment - headerOffset;
    if (payload < 0) return 'bad-length';
    return payload > spec.maxFrame ? 'too-long' : payload;
  }

  /**
   * Adds source[from, to) to the held bytes, growing the room by doubling up to `largest`
   * (the most an unfinished frame can need), so a frame arriving a byte at a time is copied
   * O(1) times per byte.
   */
  #append(source: Buffer, from: number, to: number, largest: number): void {
    const needed = this.#heldLength + (to - from);
    let held = this.#held;
    if (held === null || held.length < needed) {
      const first = this.#spec.kind === 'length' || this.#spec.kind === 'fixed' ? Math.min(largest, RESERVE_AT_ONCE) : 256;
      const room = Math.min(Math.max(needed, held === null ? first : held.length * 2), Math.max(largest, needed));
      const grown = Buffer.allocUnsafeSlow(room);
      if (held !== null) held.copy(grown, 0, 0, this.#heldLength);
      this.#held = held = grown;
    }
    source.copy(held, this.#heldLength, from, to);
    this.#heldLength = needed;
  }
}

/** What goes around a frame's payload: a length header before it, a delimiter after it. */
export interface FrameParts {
  header: NodeBuffer | null;
  trailer: NodeBuffer | null;
}

/** A frame with nothing around it (shared: never modify). */
const NO_PARTS: FrameParts = Object.freeze({ header: null, trailer: null });

/** The largest value a length header holds, indexed by its size in bytes (1, 2 or 4 are used; 2^(8n) - 1, computed once). */
const LARGEST_HEADER_VALUE = [0, 1, 2, 3, 4].map((bytes) => 2 ** (8 * bytes) - 1);

/**
 * The header or trailer of one frame carrying `payload` (the delimiter, LF for lines, or a
 * length header), so a frame can be written without joining its parts first. Throws a
 * RangeError when the payload cannot be one frame: it carries the delimiter (the peer
 * would see two frames), a length header cannot express its length after the adjustment,
 * or, for fixed framing, it is not exactly the frame size. maxFrame is not applied: it
 * limits what is received. A trailer is shared: never write into it. With `withHeader`
 * false a length frame is checked the same way but its header is not made (header: null),
 * for a writer that encodes it itself (the native engine's sendFrame).
 */
export function frameParts(spec: FramingSpec, payload: Uint8Array, withHeader = true): FrameParts {
  const length = payload.length;
  switch (spec.kind) {
    case 'line':
      // The common case, kept cheap: one byte search and a shared answer.
      // Uint8Array's own indexOf: Buffer's goes through a C++ binding, slower for short lines.
      if (typedIndexOf.call(payload, LF) !== -1) {
        throw new RangeError('the payload carries an LF: the peer would see more than one frame');
      }
      return LINE_PARTS;
    case 'delimiter': {
      const delimiter = spec.delimiter;
      const view = Buffer.from(payload.buffer, payload.byteOffset, length);
      // With keepDelimiter a frame as data() gave it already ends with its delimiter.
      const kept = spec.keepDelimiter && endsWith(payload, delimiter);
      const body = kept ? view.subarray(0, length - delimiter.length) : view;
      // The peer must find the delimiter where this frame ends, not earlier: in the body,
      // or made of the body's last bytes and the delimiter's first ones.
      const overlap = delimiter.length > 1 ? Buffer.concat([body.subarray(Math.max(0, body.length - delimiter.length + 1)), delimiter]) : null;
      if (body.indexOf(delimiter) !== -1 || (overlap !== null && overlap.indexOf(delimiter) !== overlap.length - delimiter.length)) {
        throw new RangeError('the payload carries the delimiter: the peer would see more than one frame');
      }
      return { header: null, trailer: kept ? null : delimiter };
    }
    case 'fixed':
      if (length !== spec.fixedSize) {
        throw new RangeError(`fixed framing sends frames of exactly ${spec.fixedSize} bytes, got ${length}`);
      }
      return { header: null, trailer: null };
  }
  const size = spec.lengthBytes;
  // value = length - lengthAdjustment (+ header bytes when the value counts them). Numbers
  // are exact here below 2^53, and a value past that is far outside any header but 8 bytes'.
  const includedHeader = spec.lengthIncludesHeader ? size : 0;
  const value =
    size === 8
      ? BigInt(length) - BigInt(spec.lengthAdjustment) + BigInt(includedHeader)
      : length - spec.lengthAdjustment + includedHeader;
  if (value < 0) {
    throw new RangeError(
      `a ${length}-byte payload needs a negative length header value (${value}) with lengthAdjustment ${spec.lengthAdjustment}`,
    );
  }
  if (typeof value === 'bigint') {
    if (value > 0xffff_ffff_ffff_ffffn) {
      throw new RangeError(`a ${length}-byte payload needs a length header value of ${value}, too big for 8 bytes`);
    }
    if (!withHeader) return NO_PARTS;
    const header = Buffer.allocUnsafe(size);
    if (spec.littleEndian) header.writeBigUInt64LE(value, 0);
    else header.writeBigUInt64BE(value, 0);
    return { header, trailer: null };
  }
  if (value > LARGEST_HEADER_VALUE[size]!) {
    throw new RangeError(`a ${length}-byte payload needs a length header value of ${value}, too big for ${size} bytes`);
  }
  if (!withHeader) return NO_PARTS;
  const header = Buffer.allocUnsafe(size);
  if (spec.littleEndian) header.writeUIntLE(value, 0, size);
  else header.writeUIntBE(value, 0, size);
  return { header, trailer: null };
}

/**
 * The bytes of one frame carrying `payload` (header + payload, or payload + delimiter), as
 * one Buffer; the same checks as frameParts().
 */
export function encodeFrame(spec: FramingSpec, payload: Uint8Array): NodeBuffer {
  const { header, trailer } = frameParts(spec, payload);
  const parts: Uint8Array[] = [payload];
  if (header !== null) parts.unshift(header);
  if (trailer !== null) parts.push(trailer);
  return Buffer.concat(parts);
}
