/**
 * micropython_server.ts - the MicroPython TCP server of seed 001 (tcpServer), on sockengine.
 *
 * The seed runs on a board: it listens on port 5001, prints "tcp waiting...", then loops:
 * print "accepting.....", accept a client and print "('IP', PORT) connected"; then, for
 * every recv(1024), print the text received and send it back; when recv() returns zero
 * bytes, print "close socket", close that connection and accept the next. Ctrl-C (any
 * exception) closes the listening socket. This one prints the same lines; the board's OLED
 * display and Wi-Fi set-up have no counterpart on a PC.
 *
 * The seed serves one client at a time; the engine serves every client at once, each with
 * its own UTF-8 decoder in `state` (a character may be split between two reads). With one
 * client at a time the output is the same.
 *
 * TCP has no message boundaries: "the text received" is whatever one read returned, which
 * is what the seed prints too. Its echo does not depend on boundaries at all.
 *
 * Run:  npx tsx examples/ts/micropython_server.ts [--backend native|node|auto] [PORT] [ADDRESS]
 *       PORT defaults to 5001, ADDRESS to 0.0.0.0 (the board binds its Wi-Fi address).
 *       Pairs with micropython_client.ts (which echoes too, so the two play ping-pong until
 *       one is stopped with Ctrl-C).
 */
import { StringDecoder } from 'node:string_decoder';
import { listen, type Connection } from 'sockengine';
import { exampleArgs, parsePort, pythonAddressRepr } from './common.js';

const port_ = 5001; // TCP server port, range 0~65535

const { backend, positionals } = exampleArgs('micropython_server.ts [--backend native|node|auto] [PORT] [ADDRESS]', 2);
const port = positionals[0] === undefined ? port_ : parsePort(positionals[0]);
const ip = positionals[1] ?? '0.0.0.0';

const conns = new Set<Connection<StringDecoder>>();
/** Set by Ctrl-C: no more "accepting.....". */
let stopping = false;

// engine: socket() + setsockopt(SO_REUSEADDR) + bind((ip, port)) + listen(3) -> listen()
const listenSocket = await listen({
  transport: 'tcp',
  host: ip,
  port,
  backend,
  backlog: 3,
  handler: {
    // engine: conn, addr = listenSocket.accept() -> open(conn)
    open(conn: Connection<StringDecoder>) {
      conn.state = new StringDecoder('utf8');
      conns.add(conn);
      console.log(pythonAddressRepr(conn.remoteAddress, conn.remotePort), 'connected');
    },
    // engine: data = conn.recv(1024) -> data(conn, data)
    data(conn: Connection<StringDecoder>, data: Buffer) {
      const dataUtf = conn.state.write(data); // decode the bytes as UTF-8
      console.log(dataUtf);
      // engine: conn.send(data) -> conn.write(data): return data to the client
      conn.write(data);
    },
    // engine: recv() returned 0 bytes -> end(); the engine then closes it (conn.close()).
    end() {
      console.log('close socket');
    },
    close(conn: Connection<StringDecoder>) {
      conns.delete(conn);
      // Back to accept(): the seed prints this before every accept().
      if (!stopping) console.log('accepting.....');
    },
  },
});

console.log('tcp waiting...');
console.log('accepting.....');

// The seed's `except:` branch: Ctrl-C closes the listening socket and ends the program.
process.once('SIGINT', () => {
  stopping = true;
  // engine: listenSocket.close() -> listenSocket.close(). Open connections are ended
  // (FIN, so a client sees zero bytes and says "close socket") and then closed.
  for (const conn of conns) conn.end();
  setTimeout(() => process.exit(0), 2000).unref();
  void listenSocket.close();
});
