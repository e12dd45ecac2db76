/**
 * udp_server.ts - a UDP server that answers every datagram with its upper-case form.
 *
 * Mirrors examples/c/udp_server.c (the classic C server of seed 004) on sockengine: the same
 * port (48763), the same printed lines and the same protocol, so examples/c/udp_client.c and
 * udp_client.ts work with either server:
 *   - one datagram is one message, with no terminator: UDP keeps message boundaries.
 *   - a datagram longer than 1022 bytes is refused with "error: message too long".
 *   - a datagram "exit" stops the server (status 0).
 *
 * What differs from C. C blocks in recvfrom(); the engine calls message() for each datagram
 * that arrives (on the native backend, up to 64 of them come out of one recvmmsg() call).
 * The built-in 'uppercase' handler would answer without any JavaScript at all, but it prints
 * nothing and knows no "exit", so this example uses a JavaScript handler. The comments
 * marked "engine:" say which engine call does the work of each C socket call.
 *
 * Run:  npx tsx examples/ts/udp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]
 *       PORT defaults to 48763, ADDRESS to 0.0.0.0 (every local address), as in C.
 */
import { listen, type UdpServer } from 'sockengine';
import { MAX_MSG, convert, exampleArgs, parsePort, printBytes } from './common.js';

const serverPort = 48763;
/** C's receive buffer: room for the longest message plus one spare byte. */
const BUF_SIZE = 1024;
const TOO_LONG_REPLY = 'error: message too long';

const { backend, positionals } = exampleArgs('udp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]', 2);
const port = positionals[0] === undefined ? serverPort : parsePort(positionals[0]);
const bindIP = positionals[1] ?? '0.0.0.0';

let server: UdpServer;
try {
  // engine: socket(SOCK_DGRAM) + bind() -> listen({ transport: 'udp' }). maxDatagramSize is
  // C's buffer size: a longer datagram arrives cut, with rinfo.truncated set and rinfo.size
  // saying how long it really was (C only sees that it filled the buffer).
  server = await listen({
    transport: 'udp',
    host: bindIP,
    port,
    backend,
    maxDatagramSize: BUF_SIZE,
    handler: {
      // engine: recvfrom() -> message(). `data` is one whole datagram; `rinfo` is the sender's
      // address, what C's recvfrom() wrote into clientAddr.
      message(socket, data, rinfo) {
        const from = `[${rinfo.address}:${rinfo.port}]`;

        // A datagram that does not fit a message is refused, not half-answered.
        if (data.length > MAX_MSG || rinfo.truncated) {
          printBytes(`reject message from ${from}: longer than ${MAX_MSG} bytes`);
          // engine: sendto() -> socket.send(bytes, port, address)
          socket.send(TOO_LONG_REPLY, rinfo.port, rinfo.address);
          return;
        }
        // The bytes as a byte string (see common.ts writeBytes): one character per byte.
        const buf = data.toString('latin1');

        // "exit" closes the server
        if (buf === 'exit') {
          printBytes('get exit order, closing the server...');
          // engine: close(socket_fd) -> server.close()
          void server.close();
          return;
        }

        // turn the letters into upper case
        const conv = convert(buf);

        // show where the data came from, the original data and the converted data
        printBytes(`get message from ${from}: ${buf} -> ${conv}`);

        // send the answer back to the sender
        // engine: sendto() -> socket.send(bytes, port, address). A datagram goes out whole or
        // not at all; a failure is reported to error() below.
        socket.send(Buffer.from(conv, 'latin1'), rinfo.port, rinfo.address);
      },

      // A failed sendto() concerns one client only: report it and keep serving the others.
      error(_socket, error) {
        process.stderr.write(`sendto failed: ${error.message}\n`);
      },
    },
  });
} catch (error) {
  const syscall = (error as NodeJS.ErrnoException).syscall;
  const what = syscall === 'socket' ? 'Fail to create a socket' : 'Bind socket failed!';
  process.stderr.write(`${what}: ${(error as Error).message}\n`);
  process.exit(1);
}

printBytes('Server ready!');
// From now on message() runs for every datagram. Once "exit" has closed the socket, nothing
// is left to wait for and the process ends with status 0.
