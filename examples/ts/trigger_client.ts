/**
 * trigger_client.ts - the two Python clients of seed 000 (tcp_client.py, udp_client.py) in one
 * program, on sockengine.
 *
 * Over TCP the seed connects to port 9999, sends "Hello TCP Server" followed by a NUL byte
 * (the end of a C string) and ends, which closes the connection: the trigger sees Connect,
 * Data and Close. Over UDP it sends the datagram "Hello UDP Server" and ends: the trigger
 * sees one Data. Neither waits for an answer or prints anything; neither does this one.
 *
 * Run:  npx tsx examples/ts/trigger_client.ts [--backend native|node|auto] [--transport tcp|udp] [HOST] [PORT]
 *       HOST defaults to 127.0.0.1, PORT to 9999. Pairs with socket_trigger.ts.
 */
import { connect } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';

const usage = 'trigger_client.ts [--backend native|node|auto] [--transport tcp|udp] [HOST] [PORT]';
const { backend, positionals, options } = exampleArgs(usage, 2, ['transport']);
const host = positionals[0] ?? '127.0.0.1';
const port = positionals[1] === undefined ? 9999 : parsePort(positionals[1]);

if (options.transport === 'udp') {
  // engine: socket(AF_INET, SOCK_DGRAM) -> connect({ transport: 'udp' })
  const socket = await connect({ transport: 'udp', host, port, backend, handler: {} });
  // engine: sendto(b'Hello UDP Server', address) -> socket.send()
  socket.send('Hello UDP Server');
  // engine: the program ends, which closes the socket -> socket.close()
  socket.close();
} else if (options.transport === undefined || options.transport === 'tcp') {
  // engine: socket() + client.connect((ROBOT_IP, ROBOT_PORT)) -> connect()
  const client = await connect({ transport: 'tcp', host, port, backend, handler: {} });
  // engine: client.send(bytes(cmd + '\0', 'ascii')) -> client.write()
  client.write('Hello TCP Server\0');
  // engine: the program ends, which closes the socket -> client.end()
  client.end();
} else {
  process.stderr.write(`trigger_client.ts: --transport must be tcp or udp\nusage: ${usage}\n`);
  process.exit(2);
}
