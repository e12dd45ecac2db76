/**
 * The built-in handlers written in JavaScript: what the node backend runs for `uppercase`,
 * `echo` and `reply:TEXT`, and the "JavaScript handler" the benchmarks run on both backends.
 */
import type { FramingSpec } from './framing.js';
import type { BuiltinHandlerName, TcpHandler, UdpHandler } from './types.js';

/**
 * Rewrites ASCII a-z to A-Z in place, every other byte unchanged; returns `bytes`.
 *
 * From 128 bytes on it works on four bytes at once (SWAR: one 32-bit word's bytes tested
 * together with plain integer arithmetic), which V8 runs about 2.7 times as fast as a byte
 * loop on 16 KiB of mixed text (docs/design.md section 15, "A byte loop four bytes wide").
 * Below 128 bytes the Int32Array view it needs costs more than it saves, so short inputs take
 * the byte loop.
 */
export function uppercaseAscii(bytes: Uint8Array): Uint8Array {
  const length = bytes.length;
  if (length < SWAR_MIN) {
    uppercaseBytes(bytes, 0, length);
    return bytes;
  }
  // Bytes up to the first 4-byte boundary of the underlying memory, then whole words, then
  // what is left.
  const head = (4 - (bytes.byteOffset & 3)) & 3;
  uppercaseBytes(bytes, 0, head);
  const count = Math.floor((length - head) / 4);
  const words = new Int32Array(bytes.buffer, bytes.byteOffset + head, count);
  let k = 0;
  // Four words per turn: V8 keeps them in registers (about 20% faster than one per turn).
  for (; k + 4 <= count; k += 4) {
    const a = words[k]!;
    const b = words[k + 1]!;
    const c = words[k + 2]!;
    const d = words[k + 3]!;
    words[k] = a ^ lowerBits(a);
    words[k + 1] = b ^ lowerBits(b);
    words[k + 2] = c ^ lowerBits(c);
    words[k + 3] = d ^ lowerBits(d);
  }
  for (; k < count; k++) {
    const w = words[k]!;
    words[k] = w ^ lowerBits(w);
  }
  uppercaseBytes(bytes, head + count * 4, length);
  return bytes;
}

/** Inputs shorter than this take the byte loop (measured crossover: 64-128 bytes in V8). */
const SWAR_MIN = 128;

/**
 * 0x20 in each byte of `word` that is ASCII a-z, 0 elsewhere. Per byte, with its top bit
 * cleared (h = byte & 0x7f, so no sum carries into the next byte): h + 0x1f reaches 0x80
 * exactly when h >= 0x61 ('a'), h + 0x05 exactly when h >= 0x7b (past 'z'); a byte whose own
 * top bit is set is not ASCII and is masked out. The surviving 0x80 bits, shifted down by
 * two, are the case bit.
 */
function lowerBits(word: number): number {
  const h = word & 0x7f7f7f7f;
  return ((h + 0x1f1f1f1f) & ~(h + 0x05050505) & ~word & 0x80808080) >>> 2;
}

function uppercaseBytes(bytes: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    if (c >= 0x61 && c <= 0x7a) bytes[i] = c - 0x20;
  }
}

/**
 * Queued reply bytes at which a built-in stops reading from its peer until the queue
 * drains: the same threshold as the native built-ins (kBuiltinHighWater in native/tcp.cc),
 * so a peer that sends without reading costs bounded memory on both backends.
 */
export const BUILTIN_HIGH_WATER = 1024 * 1024;

/**
 * A JavaScript handler object doing what the named built-in does: answer each chunk, or
 * with framing each frame with one frame of the same framing.
 */
export function builtinHandler(name: BuiltinHandlerName, framing: FramingSpec | null = null): TcpHandler {
  const reply = name.startsWith('reply:') ? Buffer.from(name.slice('reply:'.length)) : undefined;
  const answer = name === 'uppercase' ? uppercaseAscii : (chunk: Uint8Array) => reply ?? chunk;
  return {
    data(connection, chunk) {
      if (framing === null) connection.write(answer(chunk));
      else connection.send(answer(chunk));
      if (connection.bufferedBytes >= BUILTIN_HIGH_WATER) connection.pause();
    },
    drain(connection) {
      connection.resume();
    },
  };
}

/** A JavaScript UDP handler doing what the named built-in does: answer each datagram to its sender. */
export function builtinUdpHandler(name: BuiltinHandlerName): UdpHandler {
  const reply = name.startsWith('reply:') ? Buffer.from(name.slice('reply:'.length)) : undefined;
  const transform = name === 'uppercase' ? uppercaseAscii : (data: Uint8Array) => reply ?? data;
  return {
    message(socket, data, rinfo) {
      // Half a message gets no answer, as in the native built-ins; it is counted as truncated.
      if (rinfo.truncated) return;
      socket.send(transform(data), rinfo.port, rinfo.address);
    },
  };
}
