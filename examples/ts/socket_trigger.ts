/**
 * socket_trigger.ts - the socket trigger of seed 000, on sockengine's trigger().
 *
 * The seed describes an app that listens on a host and port, over TCP or UDP, and starts a
 * workflow run for each event: over TCP a client's Connect, each Data it sends, and its
 * Close (you choose which of the three start runs); over UDP each datagram. Every run leaves
 * an execution record, and a "Debug" input simulates a client to try the workflow without
 * one. Its Python clients (trigger_client.ts here) send "Hello TCP Server" (with a NUL) or
 * "Hello UDP Server" to port 9999.
 *
 * This program is that app: trigger() listens, runs trigger_workflow.ts for each event and
 * keeps the records in SQLite (in memory unless --store FILE); it prints one line per
 * finished run, from the record:
 *
 *   run #2 connect client 127.0.0.1:50412 ok: Connect from 127.0.0.1:50412
 *   run #3 data client 127.0.0.1:50412 ok: Data from 127.0.0.1:50412: "Hello TCP Server\u0000"
 *
 * Run:  npx tsx examples/ts/socket_trigger.ts [--backend native|node|auto] [--transport tcp|udp]
 *           [--events connect,data,close] [--debug TEXT] [--store FILE] [PORT] [HOST]
 *       PORT defaults to 9999, HOST to 127.0.0.1. --debug TEXT first runs the workflow once
 *       with TEXT as if a client had sent it. Ctrl-C stops it.
 * The sockengine command does the same, with the page of records: sockengine trigger --help.
 */
import { trigger, type Trigger, type TriggerEvent } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';
import describeRun from './trigger_workflow.js';

const usage =
  'socket_trigger.ts [--backend native|node|auto] [--transport tcp|udp] [--events connect,data,close] [--debug TEXT] [--store FILE] [PORT] [HOST]';
const { backend, positionals, options } = exampleArgs(usage, 2, ['transport', 'events', 'debug', 'store']);
const transport = options.transport ?? 'tcp';
const tcpEvents = ['connect', 'data', 'close'];
const events = (options.events ?? tcpEvents.join(',')).split(',').map((name) => name.trim());
const port = positionals[0] === undefined ? 9999 : parsePort(positionals[0]);
const host = positionals[1] ?? '127.0.0.1';

for (const [bad, message] of [
  [transport !== 'tcp' && transport !== 'udp', `--transport must be tcp or udp, got '${transport}'`],
  [events.some((name) => !tcpEvents.includes(name)), `--events takes ${tcpEvents.join(', ')}`],
  [transport === 'udp' && options.events !== undefined, '--events applies to tcp (udp runs on each datagram)'],
] as const) {
  if (bad) {
    process.stderr.write(`socket_trigger.ts: ${message}\nusage: ${usage}\n`);
    process.exit(2);
  }
}

let running: Trigger;
try {
  // engine: socket() + bind() (+ listen() for TCP) -> trigger() calls listen()
  running = await trigger({
    transport: transport as 'tcp' | 'udp',
    host,
    port,
    backend,
    ...(transport === 'tcp' ? { events: events as TriggerEvent[] } : {}),
    workflow: describeRun,
    store: options.store ?? ':memory:',
  });
} catch (error) {
  process.stderr.write(`socket_trigger.ts: cannot start the trigger on ${host}:${port}: ${(error as Error).message}\n`);
  process.exit(1);
}

// One line per finished run, from its execution record.
running.onRun((record) => {
  const who = record.remoteAddress === null ? '-' : `${record.remoteAddress}:${record.remotePort}`;
  const result = record.status === 'ok' ? `ok: ${record.output}` : `error: ${record.error}`;
  console.log(`run #${record.id} ${record.event} ${record.source} ${who} ${result}`);
});

const bound = running.address();
const what = transport === 'udp' ? 'datagram' : events.join(',');
console.log(`socket trigger on ${transport} ${bound.address}:${bound.port} (${what})`);

// The Debug input: one run with the given text, as if a client had sent it.
if (options.debug !== undefined) await running.debug(options.debug);

// Ctrl-C: stop listening, let the runs in progress finish, close the store.
process.once('SIGINT', () => {
  void running.close({ timeout: 2000 });
});
