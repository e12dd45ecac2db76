/**
 * trigger.ts - the socket trigger of seed 000 as handler objects: every TCP Connect, Data
 * and Close event, and every UDP datagram, starts a "workflow run" that leaves one execution
 * record. Here the workflow just prints its record, one line per run:
 *
 *   run #1 Connect {"address":"127.0.0.1","port":50412}
 *   run #2 Data {"address":"127.0.0.1","port":50412,"data":"Hello TCP Server\u0000"}
 *   run #3 Close {"address":"127.0.0.1","port":50412}
 *
 * (`data` is the received text as JSON, so a NUL byte shows as \u0000.) Replace record() with
 * real work to make it a real trigger.
 *
 * Not a program: socket_trigger.ts runs these handlers, and trigger_tcp.ts / trigger_udp.ts
 * hand them to the sockengine command (`sockengine serve --handler`).
 *
 * TCP has no message boundaries: one Data run is whatever one read returned, which may be
 * part of what the client sent in one call, or several of its sends together. UDP keeps
 * them: one datagram, one run.
 */
import type { Connection, TcpHandler, UdpHandler } from 'sockengine';

export type TriggerEvent = 'Connect' | 'Data' | 'Close';
export const triggerEvents: readonly TriggerEvent[] = ['Connect', 'Data', 'Close'];

/** What a run gets as its input. */
export interface TriggerInput {
  address: string;
  port: number;
  data?: string;
}

/** Numbers the runs and prints one record per run. */
export function recorder(print: (line: string) => void = console.log): (event: TriggerEvent, input: TriggerInput) => void {
  let run = 0;
  return (event, input) => print(`run #${++run} ${event} ${JSON.stringify(input)}`);
}

/** The TCP trigger: a run for each event in `events` (Connect, Data, Close). */
export function tcpTrigger(
  events: ReadonlySet<TriggerEvent> = new Set(triggerEvents),
  record = recorder(),
): TcpHandler<TriggerInput> {
  return {
    // engine: accept() -> open()
    open(connection: Connection<TriggerInput>) {
      // Who the client is, kept for the Data and Close runs.
      connection.state = { address: connection.remoteAddress, port: connection.remotePort };
      if (events.has('Connect')) record('Connect', { ...connection.state });
    },
    // engine: recv() -> data()
    data(connection: Connection<TriggerInput>, chunk: Buffer) {
      if (events.has('Data')) record('Data', { ...connection.state, data: chunk.toString() });
    },
    // engine: the connection is gone (the client closed it, or it failed) -> close()
    close(connection: Connection<TriggerInput>) {
      if (events.has('Close')) record('Close', { ...connection.state });
    },
  };
}

/** The UDP trigger: a Data run for each datagram. */
export function udpTrigger(record = recorder()): UdpHandler {
  return {
    // engine: recvfrom() -> message()
    message(_socket, data, rinfo) {
      record('Data', { address: rinfo.address, port: rinfo.port, data: data.toString() });
    },
  };
}
