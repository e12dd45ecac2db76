// The floor server (floor.cc): uppercases each chunk or datagram with the same loop as the
// bench handlers and prints the ready line the bench tools read.
//   node bench/floor/server.mjs [tcp|udp|tcp-call|tcp-call-first|tcp-none]
// (the tcp-call and tcp-none modes answer in C: floor.cc says what each leaves out)
import { createRequire } from 'node:module';
const floor = createRequire(import.meta.url)('./build/Release/floor.node');
function uppercase(bytes) { for (let i = 0; i < bytes.length; i++) { const c = bytes[i]; if (c >= 0x61 && c <= 0x7a) bytes[i] = c - 0x20; } return bytes; }
const transport = process.argv[2] ?? 'tcp';
const modes = { tcp: 0, 'tcp-call': 1, 'tcp-none': 2, 'tcp-call-first': 3 };
if (transport !== 'udp' && !(transport in modes)) throw new Error(`unknown mode ${transport}: tcp, udp, tcp-call, tcp-call-first or tcp-none`);
const port = transport === 'udp'
  ? floor.listenUdp((datagram) => floor.send(uppercase(datagram)))
  : floor.listen(transport === 'tcp' ? (chunk) => floor.write(uppercase(chunk)) : () => {}, modes[transport]);
console.log(`listening ${transport === 'udp' ? 'udp' : 'tcp'} 127.0.0.1:${port}`);
process.on('SIGTERM', () => process.exit(0));
