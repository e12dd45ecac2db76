/** The sockengine command: `serve`, `client`, `messages`, `trigger`, `runs` and `build`. */
import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { build, BUILD_USAGE } from './build.js';
import { client, CLIENT_USAGE } from './client.js';
import { messages, MESSAGES_USAGE } from './messages.js';
import { runsCommand, RUNS_USAGE } from './runs.js';
import { serve, SERVE_USAGE } from './serve.js';
import { triggerCommand, TRIGGER_USAGE } from './trigger.js';

/** `sockengine --help`: every command's usage. */
export const USAGE = `usage: sockengine COMMAND [options]   (sockengine COMMAND --help for one command)

${SERVE_USAGE}

${CLIENT_USAGE}

${MESSAGES_USAGE}

${TRIGGER_USAGE}

${RUNS_USAGE}

${BUILD_USAGE}

  sockengine --version       the version
framing (tcp only): each message is one frame; a frame over --max-frame closes the connection.
  line: ends at LF (a CR before it dropped); delim:HEX: ends at these bytes, e.g. delim:0d0a;
  length:N[:le]: an N-byte (1, 2, 4 or 8) length header, big-endian unless :le; fixed:N: N bytes each`;

/** The package's version, from its package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the command; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'serve') return await serve(rest);
    if (command === 'client') return await client(rest);
    if (command === 'messages') return await messages(rest);
    if (command === 'trigger') return await triggerCommand(rest);
    if (command === 'runs') return await runsCommand(rest);
    if (command === 'build') return await build(rest);
    if (command === '--version' || command === '-V' || command === 'version') return print(version());
    if (command === '--help' || command === '-h' || command === 'help') return print(USAGE);
    throw new UsageError(command === undefined ? 'missing command (serve, client, messages, trigger, runs or build)' : `unknown command '${command}'`);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sockengine: ${error.message} (try sockengine --help)\n`);
      return 2;
    }
    throw error;
  }
}

function print(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}
