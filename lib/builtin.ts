/**
 * The built-in handlers written in JavaScript: what the node backend runs for `uppercase`,
 * `echo` and `reply:TEXT`, and the "JavaScript handler" the benchmarks run on both backends.
 */
import type { BuiltinHandlerName, TcpHandler, UdpHandler } from './types.js';

/** Rewrites ASCII a-z to A-Z in place, every other byte unchanged; returns `bytes`. */
export function uppercaseAscii(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c >= 0x61 && c <= 0x7a) bytes[i] = c - 0x20;
  }
  return bytes;
}

/** A JavaScript handler object doing what the named built-in does. */
export function builtinHandler(name: BuiltinHandlerName): TcpHandler {
  if (name === 'uppercase') {
    return {
      data(connection, chunk) {
        connection.write(uppercaseAscii(chunk));
      },
    };
  }
  if (name === 'echo') {
    return {
      data(connection, chunk) {
        connection.write(chunk);
      },
    };
  }
  const reply = Buffer.from(name.slice('reply:'.length));
  return {
    data(connection) {
      connection.write(reply);
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
