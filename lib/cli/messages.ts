/**
 * `sockengine messages serve|send`: the JSON action message server, and one request to one
 * (docs/messages.md).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs as parseNodeArgs } from 'node:util';
import {
  DEFAULT_MESSAGE_PORT,
  loadMessageConfig,
  messageClient,
  MessageConfigError,
  serveMessages,
  SockengineError,
  type Actions,
  type BackendChoice,
  type MessageConfig,
  type MessageServer,
} from '../index.js';
import { hostPort, parsePort, untilSignalled, UsageError } from './args.js';

/** How long a signalled server waits for its connections' requests in flight, as `serve` does. */
const SHUTDOWN_TIMEOUT_MS = 2000;

type Flags = Record<string, string | boolean | undefined>;

/** node:util's parseArgs, strict, with its errors as UsageErrors. */
function parse(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>): { values: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseNodeArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: values as Flags, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, ''));
  }
}

function flag(values: Flags, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function backendFlag(values: Flags): BackendChoice {
  const backend = flag(values, 'backend') ?? 'auto';
  if (backend !== 'auto' && backend !== 'native' && backend !== 'node') {
    throw new UsageError(`--backend must be auto, native or node, got '${backend}'`);
  }
  return backend;
}

function wholeNumber(values: Flags, name: string, min: number): number | undefined {
  const text = flag(values, name);
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) throw new UsageError(`--${name} must be a whole number of at least ${min}, got '${text}'`);
  return value;
}

/** The config named by --config: a bad file is reported by main as a usage error naming key and file. */
async function configFlag(values: Flags): Promise<MessageConfig | undefined> {
  const path = flag(values, 'config');
  if (path === undefined) return undefined;
  try {
    return await loadMessageConfig(path);
  } catch (error) {
    if (error instanceof MessageConfigError) throw new UsageError(`${error.message} (${error.code})`);
    throw error;
  }
}


async function loadActions(spec: string): Promise<Actions> {
  const path = isAbsolute(spec) ? spec : resolve(spec);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new UsageError(`--actions ${spec}: cannot load the module (${(error as Error).message.split('\n')[0]})`);
  }
  const actions = module.default;
  const isMap = typeof actions === 'object' && actions !== null && !Array.isArray(actions);
  if (typeof actions !== 'function' && !isMap) {
    throw new UsageError(`--actions ${spec}: the default export must be a map of action handlers or one function (action, message, context)`);
  }
  return actions as Actions;
}

async function serve(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    config: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    backend: { type: 'string' },
    actions: { type: 'string' },
    'max-message': { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`messages serve takes no positional arguments, got '${positionals[0]}'`);
  const backend = backendFlag(values);
  const maxMessageSize = wholeNumber(values, 'max-message', 1);
  const config = await configFlag(values);
  const givenHost = flag(values, 'host');
  const givenPort = flag(values, 'port');
  if (config !== undefined && config.host === undefined && (givenHost === undefined || givenPort === undefined)) {
    throw new UsageError(`${flag(values, 'config')}: Socket_connection.Host is missing; give it, or --host and --port`);
  }
  const host = givenHost ?? config?.host?.host ?? '127.0.0.1';
  const port = givenPort !== undefined ? parsePort(givenPort, '--port', true) : config?.host?.port ?? DEFAULT_MESSAGE_PORT;
  const actionsSpec = flag(values, 'actions');
  const actions: Actions = actionsSpec === undefined ? { echo: (message: unknown) => message } : await loadActions(actionsSpec);

  let server: MessageServer;
  try {
    server = await serveMessages({
      host,
      port,
      backend,
      actions,
      maxMessageSize,
      onHandlerError(error, context) {
        process.stderr.write(`sockengine: action '${context.action}' from ${hostPort(context.remoteAddress, context.remotePort)} failed: ${error.message}\n`);
      },
    });
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      process.stderr.write(`sockengine: port ${port} is already in use (${hostPort(host, port)}, EADDRINUSE)\n`);
    } else {
      process.stderr.write(`sockengine: cannot listen on ${hostPort(host, port)}: ${e.message}\n`);
    }
    return 1;
  }
  // Signal handlers go in before the ready line: a tool may signal as soon as it reads it.
  const stopped = untilSignalled(() => server.close({ timeout: SHUTDOWN_TIMEOUT_MS }).then(() => 0));
  const bound = server.address();
  const names = typeof actions === 'function' ? '(one function)' : Object.keys(actions).join(',');
  process.stdout.write(`listening messages ${hostPort(bound.address, bound.port)} backend=${server.backend} actions=${names}\n`);
  return stopped;
}

async function send(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    config: { type: 'string' },
    to: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    backend: { type: 'string' },
    timeout: { type: 'string' },
    'no-wait': { type: 'boolean' },
  });
  const [action, json, ...extra] = positionals;
  if (action === undefined) throw new UsageError('messages send needs an ACTION');
  if (extra.length > 0) throw new UsageError(`messages send takes ACTION [JSON], got an extra '${extra[0]}' (quote the JSON)`);
  let message: unknown = null;
  if (json !== undefined) {
    try {
      message = JSON.parse(json);
    } catch (error) {
      throw new UsageError(`the message must be JSON, got '${json}' (${(error as Error).message})`);
    }
  }
  const backend = backendFlag(values);
  const timeout = wholeNumber(values, 'timeout', 0);
  const to = flag(values, 'to');
  let host: string;
  let port: number;
  if (to !== undefined) {
    if (flag(values, 'host') !== undefined || flag(values, 'port') !== undefined) throw new UsageError('give --to NAME or --host/--port, not both');
    const config = await configFlag(values);
    if (config === undefined) throw new UsageError('--to NAME needs --config FILE');
    const target = Object.hasOwn(config.clients, to) ? config.clients[to] : undefined;
    if (target === undefined) {
      const known = Object.keys(config.clients);
      throw new UsageError(`${flag(values, 'config')}: Socket_connection.Client.${to} is missing (clients: ${known.length > 0 ? known.join(', ') : 'none'})`);
    }
    ({ host, port } = target);
  } else {
    const givenPort = flag(values, 'port');
    if (givenPort === undefined) throw new UsageError('messages send needs --to NAME (with --config) or --host H --port P');
    host = flag(values, 'host') ?? '127.0.0.1';
    port = parsePort(givenPort, '--port', false);
  }

  // One attempt: nobody listening is reported at once, not after reconnect attempts.
  const client = messageClient({ host, port, backend, reconnect: false, ...(timeout === undefined ? {} : { timeout }) });
  try {
    if (values['no-wait'] === true) {
      await client.send(action, message);
    } else {
      const answer = await client.request(action, message);
      process.stdout.write(`${JSON.stringify(answer) ?? 'null'}\n`);
    }
    await client.close();
    return 0;
  } catch (error) {
    void client.close().catch(() => undefined);
    if (!(error instanceof SockengineError)) throw error;
    const remote = error as SockengineError & { remoteCode?: string; remoteMessage?: string };
    const detail = remote.remoteCode === undefined ? error.message : `${remote.remoteCode}: ${remote.remoteMessage}`;
    process.stderr.write(`sockengine: ${error.code}: ${detail}\n`);
    return 1;
  }
}

/** `sockengine messages --help`. */
export const MESSAGES_USAGE = `usage: sockengine messages serve [--config FILE] [--host H] [--port P] [--backend B] [--actions PATH]
                   [--max-message BYTES (default 1048576)]
       sockengine messages send [--config FILE] (--to NAME | --host H --port P) ACTION [JSON]
                   [--no-wait] [--timeout MS (default 10000)] [--backend B]
  JSON action requests, one per line (docs/messages.md); send prints the answer as one JSON
  line, or the error code on stderr and exits 1`;

/** Runs `sockengine messages ...`; resolves to the exit status. */
export async function messages(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${MESSAGES_USAGE}\n`);
    return 0;
  }
  const [command, ...rest] = argv;
  if (command === 'serve') return serve(rest);
  if (command === 'send') return send(rest);
  throw new UsageError(command === undefined ? 'messages needs serve or send' : `unknown messages command '${command}' (serve or send)`);
}
