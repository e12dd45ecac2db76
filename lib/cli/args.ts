/**
 * The sockengine command's options, parsed with node:util's parseArgs (strict: an unknown
 * option, a missing value or an option given twice is a UsageError naming it).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: the CLI prints the message on one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One command's options as parseArgs takes them (every command also gets -h/--help). */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  /** Options given, by long name: the string value, or 'true' for a flag. */
  options: Map<string, string>;
  positionals: string[];
  /** -h or --help was given: print the command's usage and exit 0. */
  help: boolean;
}

const HELP: OptionSpec = { help: { type: 'boolean', short: 'h' } };

/** Parses `argv` for a command whose options are `spec`; anything else is a UsageError. */
export function parseCommand(argv: string[], spec: OptionSpec): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs<{ options: OptionSpec; allowPositionals: true; strict: true; tokens: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: { ...spec, ...HELP }, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(describeParseError(error as Error & { code?: string }));
  }
  const options = new Map<string, string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || token.name === 'help') continue;
    if (options.has(token.name)) throw new UsageError(`option --${token.name} given twice`);
    options.set(token.name, token.value ?? 'true');
  }
  return { options, positionals: parsed.positionals, help: parsed.values.help === true };
}

/** parseArgs' messages are long and suggest `--`; ours name the option in a few words. */
function describeParseError(error: Error & { code?: string }): string {
  const option = /--[\w-]+/.exec(error.message)?.[0] ?? /'(-[^' ,]+)/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(error.message)
        ? `option ${option} needs a value`
        : /ambiguous/.test(error.message)
          ? `option ${option} needs a value (a value starting with - goes as ${option}=VALUE)`
          : `option ${option} does not take a value`;
    default:
      return error.message.split('\n')[0]!;
  }
}

/** Parses a port number (0-65535), or a UsageError naming `what`. */
export function parsePort(text: string, what: string, allowZero: boolean): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port > 65535 || (!allowZero && port === 0)) {
    throw new UsageError(`${what} must be a port number from ${allowZero ? 0 : 1} to 65535, got '${text}'`);
  }
  return port;
}

/** ADDRESS:PORT as ready lines and messages show it, an IPv6 address in brackets. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Resolves with the command's exit status once a signal has stopped it: the first SIGINT or
 * SIGTERM runs `stop` (a graceful close, resolving to the status), a second one ends it at
 * once with 0. Call it before printing the ready line: a tool may signal as soon as it reads it.
 */
export function untilSignalled(stop: () => Promise<number>): Promise<number> {
  return new Promise<number>((done) => {
    const first = () => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      const force = () => done(0);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      stop().then(done);
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}
