/**
 * udp_client.ts - reads lines from the keyboard, sends each one to the UDP server as a
 * datagram and prints the upper-case answer.
 *
 * Mirrors examples/c/udp_client.c (the classic C client of seed 004) on sockengine: the same
 * server (127.0.0.1:48763), the same printed lines and the same protocol, so it works with
 * examples/c/udp_server.c and with udp_server.ts:
 *   - each line typed is one datagram, sent without its newline (UDP keeps boundaries).
 *   - a line longer than 1022 bytes is not sent.
 *   - "exit" is sent, then the client ends (and the server stops).
 *   - an answer that does not come within 5 seconds is an error: UDP does not retransmit.
 *
 * What differs from C. The C client sends with sendto() on an unconnected socket and skips
 * answers from anyone but the server. Here connect({ transport: 'udp' }) makes a connected
 * UDP socket: the kernel itself drops datagrams from anyone else, and reports a server that
 * is not running (ICMP port unreachable) as ECONNREFUSED instead of a 5-second silence.
 * The comments marked "engine:" say which engine call does the work of each C socket call.
 *
 * Run:  npx tsx examples/ts/udp_client.ts [--backend native|node|auto] [HOST] [PORT]
 *       HOST defaults to 127.0.0.1, PORT to 48763.
 */
import { connect, type DatagramSocket } from 'sockengine';
import { Inbox, MAX_MSG, exampleArgs, inputLines, parsePort, printBytes, writeBytes } from './common.js';

const serverPort = 48763;
const serverIP = '127.0.0.1';
/** How long to wait for an answer before giving up (C: SO_RCVTIMEO). */
const REPLY_TIMEOUT_SECONDS = 5;

const { backend, positionals } = exampleArgs('udp_client.ts [--backend native|node|auto] [HOST] [PORT]', 2);
const host = positionals[0] ?? serverIP;
const port = positionals[1] === undefined ? serverPort : parsePort(positionals[1]);

/** An answer (its text as a byte string and who sent it), or the error the kernel reported. */
type Arrival = { text: string; from: string } | Error;
const inbox = new Inbox<Arrival>();

let socket: DatagramSocket;
try {
  // engine: socket(SOCK_DGRAM) (+ connect()) -> connect({ transport: 'udp' })
  socket = await connect({
    transport: 'udp',
    host,
    port,
    backend,
    handler: {
      // engine: recvfrom() -> message(). Kept as a byte string (see common.ts writeBytes).
      message(_socket, data, rinfo) {
        inbox.push({ text: data.toString('latin1'), from: `[${rinfo.address}:${rinfo.port}]` });
      },
      // e.g. ECONNREFUSED: no server on that port.
      error(_socket, error) {
        inbox.push(error);
      },
    },
  });
} catch (error) {
  process.stderr.write(`Create socket fail!: ${(error as Error).message}\n`);
  process.exit(1);
}

let status = 0;
const lines = inputLines();
while (true) {
  // read a line
  writeBytes('Please input your message: ');
  const next = await lines.next();
  if (next.done) break; // end of input (Ctrl-D): stop as if "exit" had been typed
  const buf = next.value;
  if (buf.length > MAX_MSG) {
    process.stderr.write(`message too long (at most ${MAX_MSG} characters), not sent\n`);
    continue;
  }

  // send it to the server: the text alone, no newline
  // engine: sendto() -> socket.send(bytes). Connected: no address needed.
  socket.send(Buffer.from(buf, 'latin1'));

  // "exit" ends the client (and the server)
  if (buf === 'exit') break;

  // wait for the server's upper-case answer
  // engine: recvfrom() -> the next datagram message() received, or nothing within 5 s.
  const answer = await inbox.next(REPLY_TIMEOUT_SECONDS * 1000);
  if (answer === undefined || answer instanceof Error) {
    const reason = answer?.message ?? `no answer within ${REPLY_TIMEOUT_SECONDS} seconds`;
    process.stderr.write(`recvfrom data from ${host}:${port}, failed: ${reason}\n`);
    status = 1;
    break;
  }

  // show the server's address and the answer
  printBytes(`get receive message from ${answer.from}: ${answer.text}`);
}
await lines.return(undefined); // stop reading stdin

// engine: close() -> socket.close()
socket.close();
process.exitCode = status;
