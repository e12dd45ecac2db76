/**
 * tcp_client.ts - connects to the TCP server, then reads lines from the keyboard, sends each
 * one and prints the upper-case answer.
 *
 * Mirrors examples/c/tcp_client.c (the classic C client of seed 004) on sockengine: the same
 * server (127.0.0.1:48763), the same printed lines, the same protocol, so it works with
 * examples/c/tcp_server.c and with tcp_server.ts:
 *   - each line typed is sent with its '\n', which marks where the message ends (TCP keeps
 *     no message boundaries); the answer is read until its own '\n', however many pieces it
 *     comes in, and bytes after that '\n' are kept for the next answer.
 *   - a line longer than 1022 bytes is not sent (the server would refuse it anyway).
 *   - "exit" is sent, then the client ends (and the server stops). End of input (Ctrl-D)
 *     ends the client without sending anything.
 *
 * What differs from C. C's recv() blocks until bytes arrive; the engine instead calls the
 * handler's data() when they do. The handler puts each chunk into an Inbox and the loop below
 * awaits it, so the program still reads top to bottom like the C one. The comments marked
 * "engine:" say which engine call does the work of each C socket call.
 *
 * Run:  npx tsx examples/ts/tcp_client.ts [--backend native|node|auto] [HOST] [PORT]
 *       HOST defaults to 127.0.0.1, PORT to 48763.
 */
import { connect, type Connection } from 'sockengine';
import { Inbox, MAX_MSG, exampleArgs, inputLines, parsePort, printBytes, writeBytes } from './common.js';

const serverPort = 48763;
const serverIP = '127.0.0.1';

const { backend, positionals } = exampleArgs('tcp_client.ts [--backend native|node|auto] [HOST] [PORT]', 2);
const host = positionals[0] ?? serverIP;
const port = positionals[1] === undefined ? serverPort : parsePort(positionals[1]);

// What the handler hands to the loop below: a chunk of the answer (as a byte string), or
// null once the connection is closed.
const inbox = new Inbox<string | null>();
let failure: Error | undefined;

let connection: Connection;
try {
  // engine: socket() + connect() -> connect(). It resolves once the three-way handshake is
  // done, or rejects (ECONNREFUSED: nobody listens there).
  connection = await connect({
    transport: 'tcp',
    host,
    port,
    backend,
    handler: {
      // engine: recv() -> data(). Kept as a byte string (see common.ts writeBytes).
      data(_connection, chunk) {
        inbox.push(chunk.toString('latin1'));
      },
      error(_connection, error) {
        failure = error;
      },
      // The connection is gone (the server closed it, or it failed).
      close() {
        inbox.push(null);
      },
    },
  });
} catch (error) {
  process.stderr.write(`Connect server failed!: ${(error as Error).message}\n`);
  process.exit(1);
}

const server = `${connection.remoteAddress}:${connection.remotePort}`;
printBytes(`Connect server [${server}] success`);

let status = 0;
/** Bytes of answers received but not yet printed. */
let received = '';
const lines = inputLines();
while (true) {
  // read a line
  writeBytes('Please input your message: ');
  const next = await lines.next();
  if (next.done) break; // end of input (Ctrl-D): stop, as C does when fgets() returns NULL
  const buf = next.value;
  if (buf.length > MAX_MSG) {
    process.stderr.write(`message too long (at most ${MAX_MSG} characters), not sent\n`);
    continue;
  }

  // send it to the server, '\n' included: the '\n' marks where the message ends
  // engine: send() -> connection.write(). The kernel takes the bytes at once or the engine
  // queues the rest, so nothing like C's send_all() loop is needed here.
  if (connection.closed) {
    process.stderr.write(`send data to ${server}, failed: ${failure?.message ?? 'the connection is closed'}\n`);
    status = 1;
    break;
  }
  connection.write(Buffer.from(`${buf}\n`, 'latin1'));

  // "exit" ends the client (and the server)
  if (/^exit(\r|$)/.test(buf)) break;

  // wait for the server's upper-case answer: read until its '\n'
  let newline: number;
  while ((newline = received.indexOf('\n')) === -1) {
    if (received.length > MAX_MSG) {
      process.stderr.write(`answer from ${server} is longer than ${MAX_MSG} bytes\n`);
      status = 1;
      break;
    }
    // engine: recv() -> the next chunk data() received (null: the connection closed).
    const chunk = await inbox.next();
    if (chunk === undefined || chunk === null) {
      if (failure) process.stderr.write(`recv data from ${server}, failed: ${failure.message}\n`);
      else process.stderr.write(`server ${server} closed the connection\n`);
      status = 1;
      break;
    }
    received += chunk;
  }
  if (newline === -1) break; // the error was reported above

  // show the server's address and the answer
  printBytes(`get receive message from [${server}]: ${received.slice(0, newline)}`);

  // keep any bytes after the '\n' for the next answer
  received = received.slice(newline + 1);
}
await lines.return(undefined); // stop reading stdin

// engine: close() -> connection.end(): what is queued goes out, then the FIN (shutdown());
// the socket itself is closed once the server has closed its side too. A server that never
// does is not waited for longer than two seconds.
connection.end();
setTimeout(() => connection.destroy(), 2000).unref();
process.exitCode = status;
