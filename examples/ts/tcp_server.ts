/**
 * tcp_server.ts - a TCP server that answers every line it receives with its upper-case form.
 *
 * Mirrors examples/c/tcp_server.c (the classic C server of seed 004) on sockengine: the same
 * port (48763), the same printed lines, the same protocol, so the C client and
 * tcp_client.ts work with either server:
 *   - a message is one line ending in '\n' (a '\r' before it is dropped); the answer is the
 *     upper-case line and a '\n'. TCP is a byte stream: a line may come in several pieces,
 *     or several lines in one piece, so each connection collects bytes until the '\n'.
 *   - a line may hold at most 1022 bytes; a longer one is answered "error: message too long".
 *   - "exit" stops the whole server (status 0); a client that just leaves ends only its own
 *     connection. Text left without a '\n' when the client closes is answered as a last line.
 *
 * What differs from C. The C server blocks in accept() and recv() and so serves one client at
 * a time. Here the engine waits on every socket at once (its own epoll loop, or libuv on the
 * node backend) and calls the handler below when something happens, so clients are served
 * side by side; what C kept in local variables of serve_client() (the half-received line)
 * lives in each connection's `state`. The comments marked "engine:" say which engine call
 * does the work of each C socket call (docs/tutorial.md follows them into native/).
 *
 * Run:  npx tsx examples/ts/tcp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]
 *       PORT defaults to 48763, ADDRESS to 0.0.0.0 (every local address), as in C.
 */
import { listen, type Connection, type Server } from 'sockengine';
import { MAX_MSG, convert, exampleArgs, parsePort, printBytes } from './common.js';

const serverPort = 48763;
const TOO_LONG_REPLY = 'error: message too long\n';

/** What serve_client() kept in local variables, kept per connection instead. */
interface LineState {
  /** Bytes received but not yet answered (a byte string, see common.ts writeBytes). */
  buf: string;
  /** Set while skipping the rest of a line that was too long. */
  skipping: boolean;
}

const { backend, positionals } = exampleArgs('tcp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]', 2);
const port = positionals[0] === undefined ? serverPort : parsePort(positionals[0]);
const bindIP = positionals[1] ?? '0.0.0.0';

/** Every open connection, so that "exit" can close them all. */
const clients = new Set<Connection<LineState>>();
let stopping = false;

const where = (connection: Connection) => `[${connection.remoteAddress}:${connection.remotePort}]`;

/** handle_line(): answers one line, given without its '\n'. False when "exit" stops the server. */
function handleLine(connection: Connection<LineState>, line: string): boolean {
  if (line.endsWith('\r')) line = line.slice(0, -1);

  // "exit" stops the server
  if (line === 'exit') {
    printBytes('get exit order, closing the server...');
    return false;
  }

  // turn the letters into upper case
  const conv = convert(line);

  // show where the data came from, the original data and the converted data
  printBytes(`get message from ${where(connection)}: ${line} -> ${conv}`);

  // send it back, with the '\n' that ends the answer
  // engine: send() -> connection.write(). The kernel gets the bytes first; what it does not
  // take is queued and sent when the socket is writable again (C's send_all() loop).
  connection.write(Buffer.from(`${conv}\n`, 'latin1'));
  return true;
}

/** Sends the refusal for a line longer than MAX_MSG. */
function refuse(connection: Connection<LineState>): void {
  connection.write(TOO_LONG_REPLY);
}

function reject(connection: Connection<LineState>): void {
  printBytes(`reject message from ${where(connection)}: longer than ${MAX_MSG} bytes`);
}

/** "exit": close every connection and the listening socket; the process then ends with status 0. */
function stopServer(): void {
  stopping = true;
  // engine: close(reply_sockfd) -> connection.destroy(), which closes the socket at once.
  for (const connection of clients) connection.destroy();
  // engine: close(socket_fd) -> server.close(): the listening socket goes, no more accept().
  void server.close();
}

let server: Server;
try {
  // engine: socket() + setsockopt(SO_REUSEADDR) + bind() + listen() -> listen(). One call
  // does all four and resolves once the socket is listening. backlog = 5, as in C.
  server = await listen({
    transport: 'tcp',
    host: bindIP,
    port,
    backend,
    backlog: 5,
    handler: {
      // engine: accept() -> open(). The engine has already accepted the connection (a new
      // socket for this client) and tells us who it is.
      open(connection: Connection<LineState>) {
        if (stopping) {
          connection.destroy();
          return;
        }
        connection.state = { buf: '', skipping: false };
        clients.add(connection);
        printBytes(`Accept connect request from ${where(connection)}`);
      },

      // engine: recv() -> data(). `chunk` is what one read returned: part of a line, one
      // line, or several lines and part of the next.
      data(connection: Connection<LineState>, chunk: Buffer) {
        const state = connection.state;
        // Bytes as a byte string (see common.ts writeBytes): one character per byte.
        state.buf += chunk.toString('latin1');

        // Answer every complete line in buf.
        let newline: number;
        while (!stopping && (newline = state.buf.indexOf('\n')) !== -1) {
          const line = state.buf.slice(0, newline);
          state.buf = state.buf.slice(newline + 1);
          if (state.skipping) {
            // The end of a line that was too long: refuse it now, in order.
            state.skipping = false;
            refuse(connection);
          } else if (line.length > MAX_MSG) {
            // A whole too-long line arrived in one piece.
            reject(connection);
            refuse(connection);
          } else if (!handleLine(connection, line)) {
            stopServer();
            return;
          }
        }

        // What is left is an incomplete line: keep it for the next data() to extend, unless
        // it is already longer than any message may be.
        if (state.buf.length > MAX_MSG) {
          if (!state.skipping) reject(connection);
          state.skipping = true;
          state.buf = '';
        }
      },

      // engine: recv() returned 0 -> end(). The client closed its sending side: answer a last
      // line that had no '\n'. (The engine then closes the connection: C's close(reply_sockfd).)
      end(connection: Connection<LineState>) {
        const state = connection.state;
        if (stopping) return;
        if (state.skipping) refuse(connection);
        else if (state.buf.length > 0 && !handleLine(connection, state.buf)) stopServer();
        state.buf = '';
      },

      // A failed recv() or send() concerns this client only: report it, serve the others.
      error(connection: Connection<LineState>, error: Error) {
        const syscall = (error as NodeJS.ErrnoException).syscall;
        const what = syscall === 'write' ? 'send data to' : 'recv data from';
        process.stderr.write(`${what} ${connection.remoteAddress}:${connection.remotePort}, failed: ${error.message}\n`);
      },

      // The connection is gone (closed by either side, or failed).
      close(connection: Connection<LineState>) {
        clients.delete(connection);
      },
    },
  });
} catch (error) {
  // C reports each failed call with perror(); the engine says which call failed.
  // (node:net reports a port in use from listen(), the native engine from bind().)
  const { syscall, code } = error as NodeJS.ErrnoException;
  const what =
    syscall === 'socket' ? 'Fail to create a socket'
    : syscall === 'listen' && code !== 'EADDRINUSE' ? 'socket listen failed!'
    : 'Bind socket failed!';
  process.stderr.write(`${what}: ${(error as Error).message}\n`);
  process.exit(1);
}

const bound = server.address();
printBytes(`server [${bound.address}:${bound.port}] --- ready`);
// Nothing more to do here: from now on the handler above runs whenever a socket is ready.
// When "exit" has closed the last socket, nothing is left to wait for and the process ends.
