/**
 * socket_trigger.ts - the socket trigger of seed 000, on sockengine.
 *
 * The seed describes an app that listens on a host and port, over TCP or UDP, and starts a
 * workflow run for each event: over TCP a client's Connect, each Data it sends, and its
 * Close (you choose which of the three trigger runs); over UDP each datagram. A "Debug"
 * input simulates a client, to try a workflow without one. Its Python clients
 * (trigger_client.ts here) send "Hello TCP Server" (with a NUL) or "Hello UDP Server" to
 * port 9999. This program prints one execution record per run (see trigger.ts), and a first
 * line saying where it listens.
 *
 * Run:  npx tsx examples/ts/socket_trigger.ts [--backend native|node|auto] [--transport tcp|udp]
 *           [--events Connect,Data,Close] [--debug TEXT] [PORT] [HOST]
 *       PORT defaults to 9999, HOST to 127.0.0.1. --debug TEXT first runs the workflow once
 *       with TEXT as if a client had sent it. Ctrl-C stops it.
 * Or with the sockengine command, same records:
 *       node --import tsx bin/sockengine.js serve --port 9999 --handler examples/ts/trigger_tcp.ts
 *       node --import tsx bin/sockengine.js serve --transport udp --port 9999 --handler examples/ts/trigger_udp.ts
 */
import { listen, type Server, type UdpServer } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';
import { recorder, tcpTrigger, triggerEvents, udpTrigger, type TriggerEvent } from './trigger.js';

const usage =
  'socket_trigger.ts [--backend native|node|auto] [--transport tcp|udp] [--events Connect,Data,Close] [--debug TEXT] [PORT] [HOST]';
const { backend, positionals, options } = exampleArgs(usage, 2, ['transport', 'events', 'debug']);
const transport = options.transport ?? 'tcp';
const events = (options.events ?? triggerEvents.join(',')).split(',').map((name) => name.trim());
const port = positionals[0] === undefined ? 9999 : parsePort(positionals[0]);
const host = positionals[1] ?? '127.0.0.1';

for (const [bad, message] of [
  [transport !== 'tcp' && transport !== 'udp', `--transport must be tcp or udp, got '${transport}'`],
  [events.some((name) => !triggerEvents.includes(name as TriggerEvent)), `--events takes ${triggerEvents.join(', ')}`],
] as const) {
  if (bad) {
    process.stderr.write(`socket_trigger.ts: ${message}\nusage: ${usage}\n`);
    process.exit(2);
  }
}

const record = recorder();
let server: Server | UdpServer;
try {
  // engine: socket() + bind() (+ listen() for TCP) -> listen()
  server =
    transport === 'udp'
      ? await listen({ transport: 'udp', host, port, backend, handler: udpTrigger(record) })
      : await listen({ transport: 'tcp', host, port, backend, handler: tcpTrigger(new Set(events as TriggerEvent[]), record) });
} catch (error) {
  process.stderr.write(`socket_trigger.ts: cannot listen on ${host}:${port}: ${(error as Error).message}\n`);
  process.exit(1);
}

const bound = server.address();
const what = transport === 'udp' ? 'datagrams' : events.join(', ');
console.log(`socket trigger on ${transport} ${bound.address}:${bound.port} (${what})`);

// The Debug input: one run with the given text, as if a client had sent it.
if (options.debug !== undefined) record('Data', { address: 'debug', port: 0, data: options.debug });

// Ctrl-C: stop listening (and, for TCP, wait for the connections open now to finish).
process.once('SIGINT', () => {
  setTimeout(() => process.exit(0), 2000).unref();
  void server.close();
});
