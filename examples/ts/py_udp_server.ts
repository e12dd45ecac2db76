/**
 * py_udp_server.ts - the Python UDP server of seed 004, on sockengine.
 *
 * The seed's server.py binds 0.0.0.0:7000, prints "server start at: 0.0.0.0:7000" and
 * "wait for connection...", then loops: recvfrom(1024); if the text is "exit" (any case) it
 * leaves the loop and closes; otherwise it prints "Server Message is " + the text in upper
 * case and sends the upper-case text back to the sender. Any client's "exit" stops it.
 *
 * UDP keeps message boundaries: one datagram is one message, so no terminator is needed
 * (compare py_tcp_server.ts).
 *
 * Run:  npx tsx examples/ts/py_udp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]
 *       PORT defaults to 7000, ADDRESS to 0.0.0.0, as in the seed. Pairs with py_udp_client.ts.
 */
import { listen } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';

const HOST = '0.0.0.0';
const PORT = 7000;
/** The seed's recvfrom(1024): a longer datagram is cut to this. */
const BUFFER = 1024;

const { backend, positionals } = exampleArgs('py_udp_server.ts [--backend native|node|auto] [PORT] [ADDRESS]', 2);
const port = positionals[0] === undefined ? PORT : parsePort(positionals[0]);
const host = positionals[1] ?? HOST;

// engine: socket(AF_INET, SOCK_DGRAM) + s.bind((HOST, PORT)) -> listen({ transport: 'udp' })
const server = await listen({
  transport: 'udp',
  host,
  port,
  backend,
  maxDatagramSize: BUFFER,
  handler: {
    // engine: indata, addr = s.recvfrom(1024) -> message(socket, indata, addr)
    message(socket, indata, addr) {
      // decode
      const indataDecode = indata.toString('utf8');

      // if input data content is exit then stop
      if (indataDecode.toLowerCase() === 'exit') {
        // engine: s.close() -> server.close()
        void server.close();
        return;
      }

      // print write back client content
      const upperstring = indataDecode.toUpperCase();
      console.log(`Server Message is ${upperstring}`);

      // write back to client
      // engine: s.sendto(data, addr) -> socket.send(data, port, address)
      socket.send(upperstring, addr.port, addr.address);
    },
  },
});

const bound = server.address();
console.log(`server start at: ${bound.address}:${bound.port}`);
console.log('wait for connection...');
