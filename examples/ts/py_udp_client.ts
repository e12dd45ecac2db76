/**
 * py_udp_client.ts - the Python UDP client of seed 004, on sockengine.
 *
 * The seed's client.py makes a UDP socket connected to port 7000, then loops: prompt
 * "Please input yout messae: " (spelled as in the write-up, so both print the same), print
 * the line read, send it as one datagram, stop on "exit", otherwise recvfrom(1024) and print
 * "Write Back Message content is " + the answer. At the end it prints "client is over".
 *
 * Fixes: end of input ends the client like "exit" (the seed dies in input() with
 * EOFError); an answer that does not come within 5 seconds, or an error such as
 * ECONNREFUSED (nobody on that port), ends it with a message (the seed waits for ever).
 *
 * Run:  npx tsx examples/ts/py_udp_client.ts [--backend native|node|auto] [HOST] [PORT]
 *       HOST defaults to 127.0.0.1, PORT to 7000. Pairs with py_udp_server.ts.
 */
import { connect } from 'sockengine';
import { Inbox, exampleArgs, inputLines, parsePort, printBytes, writeBytes } from './common.js';

const HOST = '127.0.0.1';
const PORT = 7000;
const REPLY_TIMEOUT_MS = 5000;

const { backend, positionals } = exampleArgs('py_udp_client.ts [--backend native|node|auto] [HOST] [PORT]', 2);
const host = positionals[0] ?? HOST;
const port = positionals[1] === undefined ? PORT : parsePort(positionals[1]);

// Answers (byte strings), or the error the kernel reported.
const inbox = new Inbox<string | Error>();

// engine: socket(AF_INET, SOCK_DGRAM) + s.connect((HOST, PORT)) -> connect({ transport: 'udp' })
const socket = await connect({
  transport: 'udp',
  host,
  port,
  backend,
  maxDatagramSize: 1024, // the seed's recvfrom(1024)
  handler: {
    // engine: recvfrom() -> message(). Kept as a byte string (see common.ts writeBytes).
    message(_socket, data) {
      inbox.push(data.toString('latin1'));
    },
    error(_socket, error) {
      inbox.push(error);
    },
  },
});

let status = 0;
const lines = inputLines();
while (true) {
  // read user input
  writeBytes('Please input yout messae: ');
  const next = await lines.next();
  if (next.done) {
    writeBytes('\n');
    break;
  }
  const userInput = next.value;
  printBytes(userInput);

  // send to server
  // engine: s.sendto(data, (HOST, PORT)) -> socket.send(data): connected, no address needed
  socket.send(Buffer.from(userInput, 'latin1'));

  // if string is exit then over
  if (userInput.toLowerCase() === 'exit') break;

  // server writeback data
  const indata = await inbox.next(REPLY_TIMEOUT_MS);
  if (indata === undefined || indata instanceof Error) {
    process.stderr.write(`no answer from ${host}:${port}: ${indata?.message ?? 'timed out'}\n`);
    status = 1;
    break;
  }

  // print writeback data
  printBytes(`Write Back Message content is ${indata}`);
}
await lines.return(undefined);

console.log('client is over');
// engine: s.close() -> socket.close()
socket.close();
process.exitCode = status;
