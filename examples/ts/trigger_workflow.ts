/**
 * trigger_workflow.ts - a workflow for the socket trigger of seed 000: the default export is
 * the function `sockengine trigger --run` calls once per run. What it returns is the run's
 * output, kept in the run's record (and, with --reply, sent back to the client).
 *
 *   node --import tsx bin/sockengine.js trigger --port 9999 --run examples/ts/trigger_workflow.ts
 *   python3 tcp_client.py                       # the write-up's client: Connect, Data, Close
 *   node bin/sockengine.js runs list            # the three records
 *
 * (`--import tsx` lets node load TypeScript.) socket_trigger.ts runs the same workflow from
 * its own program.
 */
import type { TriggerRun } from 'sockengine';

/** Says what happened: `Data from 127.0.0.1:50412: "Hello TCP Server\u0000"`. */
export default function describeRun(run: TriggerRun): string {
  const event = run.event[0]!.toUpperCase() + run.event.slice(1);
  const who = run.remoteAddress === null ? run.source : `${run.remoteAddress}:${run.remotePort}`;
  const data = run.event === 'data' || run.event === 'datagram' ? `: ${JSON.stringify(run.payload.toString('utf8'))}` : '';
  return `${event} from ${who}${data}`;
}
