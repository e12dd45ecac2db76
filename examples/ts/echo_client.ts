/**
 * echo_client.ts - the TCP echo client of seed 003 (echo-client.py), on sockengine.
 *
 * The seed connects to 127.0.0.1:65432, sends b'Hello, world' (sendall), reads once with
 * recv(1024), closes, and prints "Received b'Hello, world'" (Python's print of the bytes'
 * repr). This one prints the same.
 *
 * Fix: one recv() returns what has arrived so far, which over TCP may be only part of the
 * echo (a stream has no message boundaries; on one machine 12 bytes do come in one piece,
 * over a network they need not). This client reads until it has as many bytes back as it
 * sent, or the server closes.
 *
 * Run:  npx tsx examples/ts/echo_client.ts [--backend native|node|auto] [HOST] [PORT]
 *       HOST defaults to 127.0.0.1, PORT to 65432. Pairs with echo_server.ts.
 */
import { connect } from 'sockengine';
import { Inbox, exampleArgs, parsePort, pythonBytesRepr } from './common.js';

const HOST = '127.0.0.1'; // the server's hostname or IP address
const PORT = 65432; // the port used by the server
const MESSAGE = Buffer.from('Hello, world');

const { backend, positionals } = exampleArgs('echo_client.ts [--backend native|node|auto] [HOST] [PORT]', 2);
const host = positionals[0] ?? HOST;
const port = positionals[1] === undefined ? PORT : parsePort(positionals[1]);

// Chunks as data() receives them, or null once the connection is closed.
const inbox = new Inbox<Buffer | null>();

// engine: socket() + s.connect((HOST, PORT)) -> connect()
const s = await connect({
  transport: 'tcp',
  host,
  port,
  backend,
  handler: {
    // engine: s.recv() -> data(). The chunk is a view into the buffer of the engine's whole
    // batch of events; a copy of its own lets that buffer go.
    data: (_s, chunk) => inbox.push(Buffer.from(chunk)),
    close: () => inbox.push(null),
  },
});

// engine: s.sendall(b'Hello, world') -> s.write()
s.write(MESSAGE);

let data = Buffer.alloc(0);
while (data.length < MESSAGE.length) {
  const chunk = await inbox.next();
  if (!chunk) break; // the server closed
  data = Buffer.concat([data, chunk]);
}

// engine: the end of `with socket...` closes it -> s.end()
s.end();

console.log('Received', pythonBytesRepr(data));
