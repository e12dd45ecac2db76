/** The sockengine command: `serve`, `client`, `trigger` and `runs`. */
import { UsageError } from './args.js';
import { client } from './client.js';
import { serve } from './serve.js';
import { runsCommand } from './runs.js';
import { triggerCommand } from './trigger.js';

export const USAGE = `usage:
  sockengine serve [--transport tcp|udp] [--host 127.0.0.1] [--port 48763] [--backend auto|native|node]
                   [--handler uppercase|echo|reply:TEXT|PATH] [--idle-timeout MS] [--max-connections N]
                   [--max-buffered-bytes BYTES] [--shutdown-timeout MS (default 2000)]
                   [--framing line|delim:HEX|length:N[:le]|fixed:N [--max-frame BYTES (default 65536)]]
  sockengine client tcp|udp HOST PORT [MESSAGE...] [--backend auto|native|node]
                   [--framing line|delim:HEX|length:N[:le]|fixed:N [--max-frame BYTES]]
  sockengine trigger [--transport tcp|udp] [--host H] [--port P] [--backend B] [--events connect,data,close]
                   (--run PATH | --exec CMD | --webhook URL) [--store FILE (default sockengine-runs.db)]
                   [--max-runs N] [--reply] [--framing ...] [--concurrency N] [--queue N] [--debug TEXT]
                   [--ui PORT] [--shutdown-timeout MS (default 5000)]
  sockengine runs [--store FILE] list [--limit N] [--json]
  sockengine runs [--store FILE] show ID [--json]
framing (tcp only): each message is one frame; a frame over --max-frame closes the connection.
  line: ends at LF (a CR before it dropped); delim:HEX: ends at these bytes, e.g. delim:0d0a;
  length:N[:le]: an N-byte (1, 2, 4 or 8) length header, big-endian unless :le; fixed:N: N bytes each`;

/** Runs the command; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'serve') return await serve(rest);
    if (command === 'client') return await client(rest);
    if (command === 'trigger') return await triggerCommand(rest);
    if (command === 'runs') return await runsCommand(rest);
    if (command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(command === undefined ? 'missing command (serve, client, trigger or runs)' : `unknown command '${command}'`);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sockengine: ${error.message} (try sockengine --help)\n`);
      return 2;
    }
    throw error;
  }
}
