/**
 * message_client.ts - the UDP client of seed 003 (udp_client.py), on sockengine.
 *
 * The seed takes three arguments, HOSTNAME PORT MESSAGE. It resolves the host name to an
 * IPv4 address (socket.gethostbyname), sends MESSAGE as one datagram, waits for one answer
 * and prints "Message from server: <answer>", then closes. With any other number of
 * arguments it prints "Wrong input arguments, please enter 3 arguments.". This one does the
 * same.
 *
 * Fixes: a host name that does not resolve ends the client with "Unknown hostname: NAME"
 * (the seed went on and crashed); no answer within 5 seconds ends it with "Failed to
 * receive messages." (the seed waited for ever: UDP does not retransmit a lost datagram).
 *
 * Run:  npx tsx examples/ts/message_client.ts [--backend native|node|auto] HOSTNAME PORT MESSAGE
 *       e.g. localhost 9000 hello. Pairs with message_server.ts.
 */
import { lookup } from 'node:dns/promises';
import { connect } from 'sockengine';
import { Inbox, exampleArgs, parsePort } from './common.js';

const REPLY_TIMEOUT_MS = 5000;

const { backend, positionals } = exampleArgs('message_client.ts [--backend native|node|auto] HOSTNAME PORT MESSAGE', 3);
if (positionals.length !== 3) {
  console.log('Wrong input arguments, please enter 3 arguments.');
  process.exit(2);
}

// argument 1: check hostname and convert to IP address (socket.gethostbyname)
const HOSTNAME = positionals[0]!;
let HOST: string;
try {
  HOST = (await lookup(HOSTNAME, { family: 4 })).address;
} catch {
  console.log(`Unknown hostname: ${HOSTNAME}`);
  process.exit(1);
}

// argument 2, convert to integers
const PORT = parsePort(positionals[1]!);

// argument 3, convert to bytes
const msg = Buffer.from(positionals[2]!);

const inbox = new Inbox<Buffer | Error>();

// create a socket
// engine: socket(AF_INET, SOCK_DGRAM) -> connect({ transport: 'udp' }): a socket that talks
// to (HOST, PORT) only, so send() needs no address.
let sock;
try {
  sock = await connect({
    transport: 'udp',
    host: HOST,
    port: PORT,
    backend,
    maxDatagramSize: 1024, // the seed's BUFFER
    handler: {
      // engine: msg_ret, sin_ret = sock.recvfrom(BUFFER) -> message()
      message: (_socket, data) => inbox.push(data),
      error: (_socket, error) => inbox.push(error),
    },
  });
} catch {
  console.log('Failed to create socket.');
  process.exit(1);
}

// send messages
// engine: sock.sendto(msg, sin) -> sock.send(msg)
sock.send(msg);

// receive messages
const msgRet = await inbox.next(REPLY_TIMEOUT_MS);
// close socket
// engine: sock.close() -> sock.close()
sock.close();
if (msgRet === undefined || msgRet instanceof Error) {
  console.log('Failed to receive messages.');
  process.exit(1);
}

// print messages
console.log(`Message from server: ${msgRet.toString()}`);
