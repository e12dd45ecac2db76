/**
 * echo_server.ts - the TCP echo server of seed 003 (echo-server.py), on sockengine.
 *
 * The seed binds 127.0.0.1:65432, listens, accepts one connection, prints
 * "Connected by ('127.0.0.1', 50412)" (Python's print of the address tuple), sends back
 * every byte it receives (sendall), and ends when the client closes: one client, then the
 * program is done. This one does the same.
 *
 * An echo server does not care about message boundaries: whatever arrives goes back, in
 * order, however TCP cuts it up. The engine's built-in 'echo' handler does exactly that
 * without any JavaScript (`sockengine serve --port 65432 --handler echo`); this example uses
 * a JavaScript handler because it prints the client's address and stops after one client.
 *
 * Run:  npx tsx examples/ts/echo_server.ts [--backend native|node|auto] [PORT] [ADDRESS]
 *       PORT defaults to 65432, ADDRESS to 127.0.0.1, as in the seed. Pairs with echo_client.ts.
 */
import { listen, type Connection } from 'sockengine';
import { exampleArgs, parsePort, pythonAddressRepr } from './common.js';

const HOST = '127.0.0.1'; // standard loopback interface address (localhost)
const PORT = 65432; // port to listen on (non-privileged ports are > 1023)

const { backend, positionals } = exampleArgs('echo_server.ts [--backend native|node|auto] [PORT] [ADDRESS]', 2);
const port = positionals[0] === undefined ? PORT : parsePort(positionals[0]);
const host = positionals[1] ?? HOST;

let served = false;

// engine: socket() + s.bind((HOST, PORT)) + s.listen() -> listen()
const server = await listen({
  transport: 'tcp',
  host,
  port,
  backend,
  handler: {
    // engine: conn, addr = s.accept() -> open(conn)
    open(conn: Connection) {
      if (served) {
        conn.destroy(); // the seed accepts only once
        return;
      }
      served = true;
      console.log('Connected by', pythonAddressRepr(conn.remoteAddress, conn.remotePort));
      // The seed never calls accept() again: stop listening. close() resolves once this
      // connection is over too, and then nothing is left and the process ends.
      void server.close();
    },
    // engine: data = conn.recv(1024) -> data(conn, data)
    data(conn: Connection, data: Buffer) {
      // echo back all data.
      // engine: conn.sendall(data) -> conn.write(data). write() says false once a client that
      // does not read has let 16 KiB pile up: stop reading from it until drain().
      if (!conn.write(data)) conn.pause();
    },
    drain(conn: Connection) {
      conn.resume();
    },
    // `if not data: break` -> end(): the client closed its side. The engine closes the
    // connection (the `with conn:` block's close()).
  },
});
// The seed prints nothing until a client connects: neither does this one.
