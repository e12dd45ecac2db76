/**
 * `sockengine trigger`: a socket trigger until SIGINT or SIGTERM. Each chosen client event
 * runs the workflow (a module's default export, a shell command or a webhook) and leaves a
 * record in the store; `--ui PORT` serves the page of records on 127.0.0.1.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs as parseFlags } from 'node:util';
import { DEFAULT_PORT, trigger, type Trigger, type TriggerEvent, type Workflow } from '../index.js';
import { serveTriggerUi, type TriggerUi } from '../trigger/ui/server.js';
import { hostPort, parsePort, untilSignalled, UsageError } from './args.js';
import { framingFlags } from './framing-flags.js';

/** The store's file when --store is not given, in the working directory. */
export const DEFAULT_STORE = 'sockengine-runs.db';
/** How long a signalled trigger lets queued and running runs finish (--shutdown-timeout). */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;
/** How often dropped datagrams are reported: one stderr line a second at most. */
const DROP_REPORT_MS = 1000;

const flags = {
  transport: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  backend: { type: 'string' },
  events: { type: 'string' },
  run: { type: 'string' },
  exec: { type: 'string' },
  webhook: { type: 'string' },
  store: { type: 'string' },
  'max-runs': { type: 'string' },
  reply: { type: 'boolean' },
  framing: { type: 'string' },
  'max-frame': { type: 'string' },
  concurrency: { type: 'string' },
  queue: { type: 'string' },
  debug: { type: 'string' },
  ui: { type: 'string' },
  'shutdown-timeout': { type: 'string' },
} as const;

/** node:util's parse error as a UsageError (exit 2 with the usage hint). */
export function usageFrom(error: unknown): UsageError {
  return new UsageError((error as Error).message.split('\n')[0]!.replace(/^Unknown option/, 'unknown option'));
}

/** A whole number flag within bounds, or a UsageError naming it. */
export function parseWhole(text: string | undefined, flag: string, lowest: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < lowest) {
    throw new UsageError(`--${flag} must be a whole number >= ${lowest}, got '${text}'`);
  }
  return Number(text);
}


async function loadWorkflow(values: { run?: string; exec?: string; webhook?: string }): Promise<Workflow> {
  const given = (['run', 'exec', 'webhook'] as const).filter((name) => values[name] !== undefined);
  if (given.length !== 1) {
    throw new UsageError(given.length === 0 ? 'give the workflow: --run PATH, --exec CMD or --webhook URL' : `give one workflow, not ${given.map((name) => `--${name}`).join(' and ')}`);
  }
  if (values.exec !== undefined) {
    if (values.exec.trim() === '') throw new UsageError('--exec needs a shell command');
    return { exec: values.exec };
  }
  if (values.webhook !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(values.webhook);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new UsageError(`--webhook must be an http:// or https:// URL, got '${values.webhook}'`);
    }
    return { webhook: values.webhook };
  }
  const spec = values.run!;
  const path = isAbsolute(spec) ? spec : resolve(spec);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError(`--run ${spec}: cannot load the module (${(error as Error).message.split('\n')[0]})`);
  }
  if (typeof module.default !== 'function') {
    throw new UsageError(`--run ${spec}: the default export must be the workflow function, got ${typeof module.default}`);
  }
  return module.default as Workflow;
}

function parseEvents(text: string | undefined, transport: 'tcp' | 'udp'): TriggerEvent[] | undefined {
  if (text === undefined) return undefined;
  if (transport === 'udp') throw new UsageError('--events applies to tcp only: a udp trigger runs on each datagram');
  const events = text.split(',').map((name) => name.trim());
  for (const event of events) {
    if (!['connect', 'data', 'close'].includes(event)) throw new UsageError(`--events takes connect, data and close, got '${event}'`);
  }
  return events as TriggerEvent[];
}

export const TRIGGER_USAGE = `usage: sockengine trigger [--transport tcp|udp] [--host H] [--port P] [--backend auto|native|node]
         [--events connect,data,close] (--run PATH | --exec CMD | --webhook URL) [--store FILE]
         [--max-runs N] [--reply] [--framing ...] [--max-frame BYTES] [--concurrency N] [--queue N]
         [--debug TEXT] [--ui PORT] [--shutdown-timeout MS]`;

export async function triggerCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${TRIGGER_USAGE}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseFlags({ args: argv, options: flags, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageFrom(error);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 0) throw new UsageError(`trigger takes no positional arguments, got '${positionals[0]}'`);
  const transport = values.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'udp') throw new UsageError(`--transport must be tcp or udp, got '${transport}'`);
  const host = values.host ?? '127.0.0.1';
  const port = parsePort(values.port ?? String(DEFAULT_PORT), '--port', true);
  const backend = values.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'native' && backend !== 'node') {
    throw new UsageError(`--backend must be auto, native or node, got '${backend}'`);
  }
  const events = parseEvents(values.events, transport);
  const framingMap = new Map<string, string>();
  if (values.framing !== undefined) framingMap.set('framing', values.framing);
  if (values['max-frame'] !== undefined) framingMap.set('max-frame', values['max-frame']);
  const framed = framingFlags(framingMap, transport);
  const concurrency = parseWhole(values.concurrency, 'concurrency', 1);
  const queue = parseWhole(values.queue, 'queue', 1);
  const maxRuns = parseWhole(values['max-runs'], 'max-runs', 1);
  const shutdownTimeout = parseWhole(values['shutdown-timeout'], 'shutdown-timeout', 0) ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const uiPort = values.ui === undefined ? undefined : parsePort(values.ui, '--ui', true);
  const store = values.store ?? DEFAULT_STORE;
  if (store === '') throw new UsageError('--store needs a file name');
  const workflow = await loadWorkflow(values);

  let running: Trigger;
  try {
    running = await trigger({
      transport,
      host,
      port,
      backend,
      workflow,
      store,
      reply: values.reply === true,
      ...(events === undefined ? {} : { events }),
      ...(framed === null ? {} : { framing: framed.framing, ...(framed.maxFrame === undefined ? {} : { maxFrame: framed.maxFrame }) }),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(queue === undefined ? {} : { queue }),
      ...(maxRuns === undefined ? {} : { maxRuns }),
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') process.stderr.write(`sockengine: port ${port} is already in use (${host}:${port}, EADDRINUSE)\n`);
    else if (e.code?.startsWith('ERR_SOCKENGINE_S')) process.stderr.write(`sockengine: ${e.message}\n`);
    else process.stderr.write(`sockengine: cannot start the trigger on ${hostPort(host, port)}: ${e.message}\n`);
    return 1;
  }

  let ui: TriggerUi | undefined;
  if (uiPort !== undefined) {
    try {
      ui = await serveTriggerUi(running, { port: uiPort });
    } catch (error) {
      process.stderr.write(`sockengine: cannot serve the page on 127.0.0.1:${uiPort}: ${(error as Error).message}\n`);
      await running.close({ timeout: 0 });
      return 1;
    }
  }

  // The Debug input of the write-up: one simulated Data event before any client comes.
  let debugLine = '';
  if (values.debug !== undefined) {
    const record = await running.debug(values.debug);
    const result = record.status === 'ok' ? `ok output=${JSON.stringify(record.output)}` : `error ${JSON.stringify(record.error)}`;
    debugLine = `debug run ${record.id} ${result}\n`;
  }

  // UDP drops: at most one line a second, with the count since the last one.
  let reportedDrops = 0;
  const dropReporter = setInterval(() => {
    const { dropped } = running.stats();
    if (dropped > reportedDrops) {
      process.stderr.write(
        `sockengine: dropped ${dropped - reportedDrops} datagrams (${dropped} in all): the run queue was full (--queue ${queue ?? 'default'}, --concurrency ${concurrency ?? 'default'})\n`,
      );
      reportedDrops = dropped;
    }
  }, DROP_REPORT_MS);
  dropReporter.unref();

  // Signal handlers go in before the ready line: a tool may signal as soon as it reads it.
  const stopped = untilSignalled(() => {
    clearInterval(dropReporter);
    return Promise.all([running.close({ timeout: shutdownTimeout }), ui?.close()]).then(
      () => 0,
      (error: unknown) => {
        process.stderr.write(`sockengine: ${(error as Error).message}\n`);
        return 1;
      },
    );
  });
  const bound = running.address();
  const eventsText = transport === 'udp' ? 'datagram' : (events ?? ['connect', 'data', 'close']).join(',');
  // One write, so a reader that sees the ready line sees the page's address and the debug
  // run's result with it.
  process.stdout.write(
    `listening trigger ${transport} ${hostPort(bound.address, bound.port)} backend=${running.backend} events=${eventsText} store=${store}\n` +
      (ui ? `ui ${ui.url}\n` : '') +
      debugLine,
  );
  return stopped;
}
