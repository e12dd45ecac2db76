// The floor server (floor.cc): uppercases each chunk or datagram with the same loop as the
// bench handlers and prints the ready line the bench tools read.
//   node bench/floor/server.mjs [tcp|udp]
import { createRequire } from 'node:module';
const floor = createRequire(import.meta.url)('./build/Release/floor.node');
function uppercase(bytes) { for (let i = 0; i < bytes.length; i++) { const c = bytes[i]; if (c >= 0x61 && c <= 0x7a) bytes[i] = c - 0x20; } return bytes; }
const transport = process.argv[2] ?? 'tcp';
const port = transport === 'udp' ? floor.listenUdp((datagram) => floor.send(uppercase(datagram))) : floor.listen((chunk) => floor.write(uppercase(chunk)));
console.log(`listening ${transport} 127.0.0.1:${port}`);
process.on('SIGTERM', () => process.exit(0));
