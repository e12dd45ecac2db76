/**
 * micropython_client.ts - the MicroPython TCP client of seed 001 (tcpClient), on sockengine.
 *
 * The seed runs on a board: it connects to the TCP server (a phone app in the write-up,
 * port 5001), sends "hello MicroPython, I am TCP Client", then loops: recv(1024); zero bytes
 * means the server closed, so it prints "close socket", closes and stops; otherwise it
 * prints what arrived (MicroPython prints bytes as b'...') and sends it back. This one prints
 * the same lines; the OLED display and Wi-Fi set-up have no counterpart on a PC.
 *
 * TCP has no message boundaries: each print shows what one read returned, as in the seed.
 *
 * Run:  npx tsx examples/ts/micropython_client.ts [--backend native|node|auto] [HOST] [PORT]
 *       HOST defaults to 127.0.0.1 (the seed has the phone's address), PORT to 5001.
 *       Pairs with micropython_server.ts: both echo, so they play ping-pong until one is
 *       stopped (Ctrl-C); stopping the server makes this client print "close socket".
 */
import { connect } from 'sockengine';
import { exampleArgs, parsePort, pythonBytesRepr } from './common.js';

const host = '127.0.0.1'; // TCP server IP address
const port = 5001; // TCP server port

const { backend, positionals } = exampleArgs('micropython_client.ts [--backend native|node|auto] [HOST] [PORT]', 2);

try {
  // engine: socket() + s.connect((host, port)) -> connect()
  const s = await connect({
    transport: 'tcp',
    host: positionals[0] ?? host,
    port: positionals[1] === undefined ? port : parsePort(positionals[1]),
    backend,
    handler: {
      // engine: data = s.recv(1024) -> data(s, data)
      data(s, data) {
        console.log(pythonBytesRepr(data));
        // engine: s.send(data) -> s.write(data): send the received data back to the server
        s.write(data);
      },
      // engine: recv() returned 0 bytes -> end(): the server closed; the engine closes
      // this side too (s.close()).
      end() {
        console.log('close socket');
      },
      error(_s, error) {
        process.stderr.write(`${error.message}\n`);
        process.exitCode = 1;
      },
    },
  });
  // engine: s.send(...) -> s.write()
  s.write('hello MicroPython, I am TCP Client');
} catch (error) {
  // The seed's `except:` branch: close the socket (the engine already has) and stop.
  process.stderr.write(`${(error as Error).message}\n`);
  process.exitCode = 1;
}
