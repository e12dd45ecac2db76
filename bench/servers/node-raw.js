// Raw node:net and node:dgram uppercase servers: what a Node program gets with no library,
// for comparison with sockengine's node backend (same sockets, plus the shared interface).
//   node bench/servers/node-raw.js tcp|udp PORT [HOST]
// Prints `listening tcp|udp HOST:PORT` when ready; SIGTERM ends it.
import dgram from 'node:dgram';
import net from 'node:net';
import { uppercaseAscii } from '../../dist/builtin.js';

const [transport = 'tcp', portText = '0', host = '127.0.0.1'] = process.argv.slice(2);
const port = Number(portText);
if ((transport !== 'tcp' && transport !== 'udp') || !Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write('usage: node bench/servers/node-raw.js tcp|udp PORT [HOST]\n');
  process.exit(2);
}

// sockengine's own uppercaseAscii (lib/builtin.ts), so only the socket layer differs.
const uppercase = uppercaseAscii;

if (transport === 'tcp') {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (chunk) => socket.write(uppercase(chunk)));
    // A peer's reset must not take the server down.
    socket.on('error', () => {});
  });
  server.listen(port, host, () => {
    process.stdout.write(`listening tcp ${host}:${server.address().port}\n`);
  });
} else {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (message, rinfo) => socket.send(uppercase(message), rinfo.port, rinfo.address));
  socket.on('error', () => {});
  socket.bind(port, host, () => {
    process.stdout.write(`listening udp ${host}:${socket.address().port}\n`);
  });
}
process.on('SIGTERM', () => process.exit(0));
