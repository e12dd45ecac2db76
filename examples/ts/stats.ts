/**
 * stats.ts - the servers' own view of their sockets: a TCP and a UDP upper-case server on the
 * same port number, answered by the engine's built-in 'uppercase' handler (no JavaScript
 * runs per message on the native backend), with a line printed whenever their counters
 * change:
 *
 *   tcp 127.0.0.1:48763 connections=1 | udp 127.0.0.1:48763 datagramsIn=2 bytesIn=9 datagramsOut=2 bytesOut=9 truncated=0 sendErrors=0
 *
 * `server.connections` is how many TCP connections are open now; `server.stats()` counts a UDP
 * socket's datagrams and bytes in and out, the datagrams cut because they were longer than
 * maxDatagramSize, and those the kernel refused. Compare with what ss, netstat and lsof show
 * (docs/tutorial.md, "Watching the sockets"). Any TCP or UDP client of the C examples works
 * against it (the built-in handler answers each chunk as it comes, so it needs no '\n', and
 * it knows no "exit").
 *
 * Run:  npx tsx examples/ts/stats.ts [--backend native|node|auto] [--interval MS] [PORT] [ADDRESS]
 *       PORT defaults to 48763, ADDRESS to 127.0.0.1, MS (how often to look) to 1000.
 *       Ctrl-C stops it.
 */
import { listen, type Server, type UdpServer } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';

const usage = 'stats.ts [--backend native|node|auto] [--interval MS] [PORT] [ADDRESS]';
const { backend, positionals, options } = exampleArgs(usage, 2, ['interval']);
const port = positionals[0] === undefined ? 48763 : parsePort(positionals[0]);
const host = positionals[1] ?? '127.0.0.1';
const interval = Number(options.interval ?? 1000);

// Two sockets: TCP and UDP port numbers are separate, so both can have the same one.
let tcp: Server;
let udp: UdpServer;
try {
  tcp = await listen({ transport: 'tcp', host, port, backend, handler: 'uppercase' });
  udp = await listen({ transport: 'udp', host, port, backend, handler: 'uppercase' });
} catch (error) {
  process.stderr.write(`stats.ts: cannot listen on ${host}:${port}: ${(error as Error).message}\n`);
  process.exit(1);
}

const where = (address: { address: string; port: number }) => `${address.address}:${address.port}`;
console.log(`serving ${where(tcp.address())} (tcp and udp) on the ${tcp.backend} backend`);

let last = '';
const timer = setInterval(() => {
  const counters = Object.entries(udp.stats())
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  const line = `tcp ${where(tcp.address())} connections=${tcp.connections} | udp ${where(udp.address())} ${counters}`;
  if (line !== last) console.log(line);
  last = line;
}, interval);

process.once('SIGINT', () => {
  clearInterval(timer);
  setTimeout(() => process.exit(0), 2000).unref();
  void Promise.all([tcp.close(), udp.close()]);
});
