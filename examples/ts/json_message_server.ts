/**
 * json_message_server.ts - the TCP/IP message server of seed 002 (COMET), on sockengine.
 *
 * In the write-up a program registers a function for incoming messages; each message
 * carries an "action" (what it is for, e.g. "Telegram") and the function's return value
 * goes back to the sender as the acknowledgment or answer. The address comes from the
 * `Socket_connection: Host: {IP, Port}` entry of the program's config.
 *
 * Here each action gets its own handler (serveMessages({ actions })); one function
 * `(action, message, context)` for all of them, as in the write-up, works too. Two actions:
 *   Telegram  prints the message and answers { "delivered": N } (N: telegrams so far)
 *   Status    answers { "telegrams": N }
 * Anything else is answered with an UNKNOWN_ACTION error; see docs/messages.md.
 *
 * Run:  npx tsx examples/ts/json_message_server.ts [--backend native|node|auto] [--config FILE] [PORT] [ADDRESS]
 *       The config's Host entry, unless PORT is given (default 65432, ADDRESS 127.0.0.1).
 *       Ctrl-C stops it. Pairs with json_message_client.ts.
 */
import { loadMessageConfig, serveMessages } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';

const { backend, positionals, options } = exampleArgs(
  'json_message_server.ts [--backend native|node|auto] [--config FILE] [PORT] [ADDRESS]',
  2,
  ['config'],
);
const config = options.config === undefined ? undefined : await loadMessageConfig(options.config);
const port = positionals[0] !== undefined ? parsePort(positionals[0]) : config?.host?.port ?? 65432;
const host = positionals[1] ?? config?.host?.host ?? '127.0.0.1';

let telegrams = 0;

// engine: socket() + bind() + listen() and, per line, recv() -> handler -> send()
const server = await serveMessages({
  host,
  port,
  backend,
  actions: {
    Telegram(message: unknown, context) {
      telegrams++;
      console.log(`Telegram from ${context.remoteAddress}: ${JSON.stringify(message)}`);
      return { delivered: telegrams };
    },
    Status() {
      return { telegrams };
    },
  },
});
const bound = server.address();
console.log(`listening on ${bound.address}:${bound.port} backend=${server.backend} actions=Telegram,Status`);

const stop = () => {
  // Answers to requests still being handled go out first; then each connection is ended.
  void server.close({ timeout: 2000 }).then(() => console.log('closed'));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
