/** The sockengine command: `serve` and `client`. */
import { UsageError } from './args.js';
import { client } from './client.js';
import { messages } from './messages.js';
import { serve } from './serve.js';

export const USAGE = `usage:
  sockengine serve [--transport tcp|udp] [--host 127.0.0.1] [--port 48763] [--backend auto|native|node]
                   [--handler uppercase|echo|reply:TEXT|PATH] [--idle-timeout MS] [--max-connections N]
                   [--max-buffered-bytes BYTES] [--shutdown-timeout MS (default 2000)]
                   [--framing line|delim:HEX|length:N[:le]|fixed:N [--max-frame BYTES (default 65536)]]
  sockengine client tcp|udp HOST PORT [MESSAGE...] [--backend auto|native|node]
                   [--framing line|delim:HEX|length:N[:le]|fixed:N [--max-frame BYTES]]
framing (tcp only): each message is one frame; a frame over --max-frame closes the connection.
  line: ends at LF (a CR before it dropped); delim:HEX: ends at these bytes, e.g. delim:0d0a;
  length:N[:le]: an N-byte (1, 2, 4 or 8) length header, big-endian unless :le; fixed:N: N bytes each
  sockengine messages serve [--config FILE] [--host H] [--port P] [--backend B] [--actions PATH]
                   [--max-message BYTES (default 1048576)]
  sockengine messages send [--config FILE] (--to NAME | --host H --port P) ACTION [JSON]
                   [--no-wait] [--timeout MS (default 10000)] [--backend B]
messages: JSON action requests, one per line (docs/messages.md); send prints the answer as one
  JSON line, or the error code on stderr and exits 1`;

/** Runs the command; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'serve') return await serve(rest);
    if (command === 'client') return await client(rest);
    if (command === 'messages') return await messages(rest);
    if (command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(command === undefined ? 'missing command (serve or client)' : `unknown command '${command}'`);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sockengine: ${error.message} (try sockengine --help)\n`);
      return 2;
    }
    throw error;
  }
}
