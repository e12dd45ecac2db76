/**
 * The built-in handlers written in JavaScript: what the node backend runs for `uppercase`,
 * `echo` and `reply:TEXT`, and the "JavaScript handler" the benchmarks run on both backends.
 */
import type { FramingSpec } from './framing.js';
import type { BuiltinHandlerName, TcpHandler, UdpHandler } from './types.js';

/** Rewrites ASCII a-z to A-Z in place, every other byte unchanged; returns `bytes`. */
export function uppercaseAscii(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c >= 0x61 && c <= 0x7a) bytes[i] = c - 0x20;
  }
  return bytes;
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
