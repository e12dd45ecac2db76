/** A strict parser for `--name value` and `--name=value` options, for the sockengine command. */

/** A bad command line: the CLI prints the message on one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  options: Map<string, string>;
  positionals: string[];
}

/** Splits `argv` into the allowed options and positionals; anything else is a UsageError. */
export function parseArgs(argv: string[], allowed: readonly string[]): ParsedArgs {
  const options = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg.length === 2) {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
    let value: string | undefined;
    if (equals !== -1) {
      value = arg.slice(equals + 1);
    } else {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    }
    if (options.has(name)) throw new UsageError(`option --${name} given twice`);
    options.set(name, value);
  }
  return { options, positionals };
}

/** Parses a port number (0-65535), or a UsageError naming `what`. */
export function parsePort(text: string, what: string, allowZero: boolean): number {
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port > 65535 || (!allowZero && port === 0)) {
    throw new UsageError(`${what} must be a port number from ${allowZero ? 0 : 1} to 65535, got '${text}'`);
  }
  return port;
}
