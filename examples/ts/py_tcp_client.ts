/**
 * py_tcp_client.ts - the Python TCP client of seed 004, on sockengine.
 *
 * The seed's client.py connects to port 7000, then loops: prompt "Please input yout messae: "
 * (spelled as in the write-up, so both print the same), print the line read, send it (no
 * terminator), stop on "exit", otherwise recv(1024) once and print "Write Back Message
 * content is " + the answer. At the end it prints "client is over" and closes.
 *
 * Messages. The seed takes one recv() as the whole answer. That holds here because the
 * client waits for each answer before sending the next message, and a short answer on one
 * machine comes in one piece; see py_tcp_server.ts, and docs/tutorial.md for what TCP does
 * to message boundaries in general. This client keeps that behaviour: the first chunk that
 * arrives is the answer.
 *
 * Fixes: an empty line is not sent (zero bytes never reach the server, and the seed then
 * waits for an answer for ever); end of input ends the client like "exit" (the seed dies in
 * input() with EOFError); a server that closes the connection is reported (the seed
 * printed empty answers).
 *
 * Run:  npx tsx examples/ts/py_tcp_client.ts [--backend native|node|auto] [HOST] [PORT]
 *       HOST defaults to 127.0.0.1, PORT to 7000. Pairs with py_tcp_server.ts.
 */
import { connect } from 'sockengine';
import { Inbox, exampleArgs, inputLines, parsePort, printBytes, writeBytes } from './common.js';

const HOST = '127.0.0.1';
const PORT = 7000;

const { backend, positionals } = exampleArgs('py_tcp_client.ts [--backend native|node|auto] [HOST] [PORT]', 2);
const host = positionals[0] ?? HOST;
const port = positionals[1] === undefined ? PORT : parsePort(positionals[1]);

// Chunks as data() receives them (byte strings), or null once the connection is closed.
const inbox = new Inbox<string | null>();

// engine: socket() + s.connect((HOST, PORT)) -> connect()
const connection = await connect({
  transport: 'tcp',
  host,
  port,
  backend,
  handler: {
    // engine: recv() -> data(). Kept as a byte string (see common.ts writeBytes).
    data(_connection, chunk) {
      inbox.push(chunk.toString('latin1'));
    },
    close() {
      inbox.push(null);
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
  if (userInput.length === 0) continue;

  // send to server
  // engine: s.send() -> connection.write()
  connection.write(Buffer.from(userInput, 'latin1'));

  // if string is exit then over
  if (userInput.toLowerCase() === 'exit') break;

  // server writeback data: one recv(), as in the seed
  const indata = await inbox.next();
  if (indata === undefined || indata === null) {
    process.stderr.write(`server ${host}:${port} closed the connection\n`);
    status = 1;
    break;
  }

  // print writeback data
  printBytes(`Write Back Message content is ${indata}`);
}
await lines.return(undefined);

console.log('client is over');
// engine: s.close() -> connection.end()
connection.end();
setTimeout(() => connection.destroy(), 2000).unref();
process.exitCode = status;
