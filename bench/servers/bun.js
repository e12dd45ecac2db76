// Bun uppercase servers (Bun.listen for TCP, Bun.udpSocket for UDP), run by the `bun` binary.
//   bun bench/servers/bun.js tcp|udp PORT [HOST] [line|length:4|echo]
// Prints `listening tcp|udp HOST:PORT` when ready; SIGTERM ends it; SIGUSR2 runs Bun.gc(true)
// (the idle-memory workload's reading of live memory, as gc-on-signal.js does for Node).
// With a framing (TCP only) it answers each frame with one frame, as sockengine's `framing`
// option and the C reference's --framing do; Bun has no framing of its own, so the splitter
// is the JavaScript a Bun user would write (see serveFrames below). `echo` (TCP) answers each
// chunk unchanged, for the shape whose payload is already uppercase (no byte loop).
import { uppercaseAscii } from '../../dist/builtin.js';

const [transport = 'tcp', portText = '0', host = '127.0.0.1', variant = null] = process.argv.slice(2);
const echo = variant === 'echo';
const framing = echo ? null : variant;
const port = Number(portText);
if (
  (transport !== 'tcp' && transport !== 'udp') ||
  !Number.isInteger(port) ||
  port < 0 ||
  port > 65535 ||
  (variant !== null && (transport !== 'tcp' || (variant !== 'line' && variant !== 'length:4' && variant !== 'echo')))
) {
  process.stderr.write('usage: bun bench/servers/bun.js tcp|udp PORT [HOST] [line|length:4|echo (tcp only)]\n');
  process.exit(2);
}

// The byte loop every JavaScript server of the benchmarks runs: sockengine's uppercaseAscii
// (lib/builtin.ts), imported from the build, so only the runtime and its sockets differ.
const uppercase = uppercaseAscii;

// Bun's socket.write() does not queue: it returns how many bytes the kernel took. What it did
// not take waits in socket.data (made only when needed, so an idle connection holds nothing)
// and leaves on drain(); replies keep their order.
function flush(socket) {
  flushQueue(socket, socket.data);
  if (socket.data.length === 0) socket.data = undefined;
}

/** Writes queued replies until the kernel stops taking them; leaves what is left in `queue`. */
function flushQueue(socket, queue) {
  while (queue.length > 0) {
    const head = queue[0];
    const written = socket.write(head);
    if (written < 0) return;
    if (written < head.length) {
      queue[0] = head.subarray(written);
      return;
    }
    queue.shift();
  }
}

// The longest frame accepted (a line without its LF, a length prefix's payload), as in the C
// reference: a peer that sends or announces a longer one is disconnected.
const MAX_FRAME = 1 << 20;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Answers every complete line of `bytes` in place: each line without its LF (and a CR before
 * it), uppercased, then an LF, moved down over the CRs dropped so far. Returns the answers'
 * length and where the unfinished rest starts, or null for a line over MAX_FRAME.
 */
function answerLines(bytes) {
  let start = 0;
  let out = 0;
  for (let lf = bytes.indexOf(LF); lf >= 0; lf = bytes.indexOf(LF, start)) {
    let end = lf;
    if (end > start && bytes[end - 1] === CR) end--;
    if (end - start > MAX_FRAME) return null;
    uppercase(bytes.subarray(start, end));
    if (out !== start) bytes.copyWithin(out, start, end);
    out += end - start;
    bytes[out++] = LF;
    start = lf + 1;
  }
  if (bytes.length - start > MAX_FRAME) return null;
  return { answered: out, consumed: start };
}

/**
 * Answers every complete length-prefixed frame (4-byte big-endian length, then the payload) in
 * place: the header stays, the payload is uppercased. Null for a length over MAX_FRAME.
 */
function answerLength4(bytes) {
  let start = 0;
  while (bytes.length - start >= 4) {
    const length = ((bytes[start] << 24) | (bytes[start + 1] << 16) | (bytes[start + 2] << 8) | bytes[start + 3]) >>> 0;
    if (length > MAX_FRAME) return null;
    if (bytes.length - start - 4 < length) break;
    uppercase(bytes.subarray(start + 4, start + 4 + length));
    start += 4 + length;
  }
  return { answered: start, consumed: start };
}

/**
 * Framed TCP: what arrives joins the connection's unfinished frame (if any), every complete
 * frame is answered, and the answers of one read leave in one write, as the C reference sends
 * them. socket.data holds { rest, queue } only while there is an unfinished frame or unsent
 * answers.
 */
function serveFrames(answer) {
  return Bun.listen({
    hostname: host,
    port,
    socket: {
      data(socket, chunk) {
        const state = socket.data;
        const bytes = state?.rest ? Buffer.concat([state.rest, chunk]) : chunk;
        const done = answer(bytes);
        if (done === null) {
          socket.terminate();
          return;
        }
        const rest = done.consumed < bytes.length ? Buffer.from(bytes.subarray(done.consumed)) : null;
        let queue = state?.queue ?? null;
        const reply = bytes.subarray(0, done.answered);
        if (reply.length > 0) {
          if (queue) {
            queue.push(Buffer.from(reply));
          } else {
            const written = socket.write(reply);
            if (written >= 0 && written < reply.length) queue = [Buffer.from(reply.subarray(written))];
          }
        }
        socket.data = rest || queue ? { rest, queue } : undefined;
      },
      drain(socket) {
        const state = socket.data;
        if (!state?.queue) return;
        flushQueue(socket, state.queue);
        if (state.queue.length === 0) socket.data = state.rest ? { rest: state.rest, queue: null } : undefined;
      },
      error() {},
    },
  });
}

if (framing !== null) {
  const server = serveFrames(framing === 'line' ? answerLines : answerLength4);
  process.stdout.write(`listening tcp ${host}:${server.port}\n`);
} else if (transport === 'tcp') {
  const server = Bun.listen({
    hostname: host,
    port,
    socket: {
      data(socket, chunk) {
        const reply = echo ? chunk : uppercase(chunk);
        if (socket.data) {
          socket.data.push(Buffer.from(reply));
          return;
        }
        const written = socket.write(reply);
        if (written >= 0 && written < reply.length) socket.data = [Buffer.from(reply.subarray(written))];
      },
      drain(socket) {
        if (socket.data) flush(socket);
      },
      error() {},
    },
  });
  process.stdout.write(`listening tcp ${host}:${server.port}\n`);
} else {
  const socket = await Bun.udpSocket({
    hostname: host,
    port,
    socket: {
      data(sock, data, remotePort, remoteAddress) {
        try {
          sock.send(uppercase(data), remotePort, remoteAddress);
        } catch {
          // A client that has gone away answers with ICMP port unreachable (ECONNREFUSED on
          // a later send); UDP servers drop and carry on.
        }
      },
      error() {},
    },
  });
  process.stdout.write(`listening udp ${host}:${socket.port}\n`);
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGUSR2', () => {
  for (let i = 0; i < 6; i++) Bun.gc(true);
});
