/**
 * message_server.ts - the UDP server of seed 003 (udp_server.py), on sockengine.
 *
 * The seed takes one argument, the port. It prints the machine's host name, resolves that
 * name to an IPv4 address and binds there, waits for one datagram, prints
 * "Server received: <text>" and "Message from ('127.0.0.1', 50412)" (Python's print of the
 * sender's address tuple), answers b"Message received." and closes: one datagram, then the
 * program is done. This one does the same.
 *
 * The engine's built-in handler 'reply:Message received.' answers every datagram that way
 * without any JavaScript (`sockengine serve --transport udp --handler 'reply:Message received.'`);
 * this example uses a JavaScript handler because it prints each datagram and stops after one.
 *
 * Run:  npx tsx examples/ts/message_server.ts [--backend native|node|auto] PORT [ADDRESS]
 *       ADDRESS defaults to the address the host name resolves to, as in the seed; give
 *       127.0.0.1 to stay on loopback. Pairs with message_client.ts.
 */
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { listen } from 'sockengine';
import { exampleArgs, parsePort, pythonAddressRepr } from './common.js';

const { backend, positionals } = exampleArgs('message_server.ts [--backend native|node|auto] PORT [ADDRESS]', 2);
if (positionals.length < 1) {
  console.log('Wrong input arguments, please enter 1 arguments.');
  process.exit(2);
}

// get server hostname
const HOSTNAME = hostname();
console.log(HOSTNAME);

// check hostname and convert to IP address (socket.gethostbyname)
let HOST = positionals[1];
if (HOST === undefined) {
  try {
    HOST = (await lookup(HOSTNAME, { family: 4 })).address;
  } catch {
    console.log(`Unknown hostname: ${HOSTNAME}`);
    process.exit(1);
  }
}

// argument 1, convert to integers
const PORT = parsePort(positionals[0]!);

// define buffer size
const BUFFER = 1024;

// engine: socket(AF_INET, SOCK_DGRAM) + sock.bind(sin) -> listen({ transport: 'udp' })
try {
  const sock = await listen({
    transport: 'udp',
    host: HOST,
    port: PORT,
    backend,
    maxDatagramSize: BUFFER,
    handler: {
      // engine: msg, client_addr = sock.recvfrom(BUFFER) -> message(socket, msg, client_addr)
      message(socket, msg, clientAddr) {
        // print received messages and client address
        console.log(`Server received: ${msg.toString()}`);
        console.log(`Message from ${pythonAddressRepr(clientAddr.address, clientAddr.port)}`);

        // send messages
        // engine: sock.sendto(msg, client_addr) -> socket.send(msg, port, address)
        socket.send('Message received.', clientAddr.port, clientAddr.address);

        // close socket: the seed receives one datagram only
        // engine: sock.close() -> sock.close(). The answer above still leaves: close()
        // sends what was queued first (the native backend sends a batch's answers together
        // when the batch is done; node:dgram sends after an address lookup).
        void sock.close();
      },
      error(_socket, error) {
        console.log('Failed to send message.');
        process.stderr.write(`${error.message}\n`);
        process.exitCode = 1;
      },
    },
  });
} catch (error) {
  console.log('Failed to bind socket.');
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
