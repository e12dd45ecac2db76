/**
 * json_message_client.ts - the sending side of seed 002 (COMET), on sockengine.
 *
 * In the write-up `send_TCP_message(client, action, message)` runs in a background thread
 * by default, so the answer is lost; with `no_thread=True` it runs in the caller and the
 * answer comes back. Here the same two ways are send() (resolves once the request is
 * written; the answer is dropped) and request() (resolves with the answer, or rejects with
 * a typed error: timeout, not connected, remote error). The clients come from the
 * config's `Socket_connection: Client: {Name: {IP, Port}}` entries.
 *
 * It sends one Telegram in the background, then asks Status and waits for the answer.
 *
 * Run:  npx tsx examples/ts/json_message_client.ts [--backend native|node|auto] [--config FILE --to NAME] [HOST] [PORT]
 *       Default 127.0.0.1 65432. Pairs with json_message_server.ts.
 */
import { loadMessageConfig, messageClient, type MessageEndpoint } from 'sockengine';
import { exampleArgs, parsePort } from './common.js';

const { backend, positionals, options } = exampleArgs(
  'json_message_client.ts [--backend native|node|auto] [--config FILE --to NAME] [HOST] [PORT]',
  2,
  ['config', 'to'],
);
let target: MessageEndpoint = { host: positionals[0] ?? '127.0.0.1', port: positionals[1] !== undefined ? parsePort(positionals[1]) : 65432 };
if (options.config !== undefined) {
  const config = await loadMessageConfig(options.config);
  const name = options.to ?? 'Telegram';
  const named = config.clients[name];
  if (named === undefined) {
    console.error(`${options.config}: no client named ${name}`);
    process.exit(2);
  }
  target = named;
}

// The framework's .client["Telegram"]: one client per named server, reconnecting on its own.
// A one-shot program: give up on an absent server after 2 s rather than the default 5.
const client = messageClient({ ...target, backend, timeout: 5000, connectTimeout: 2000 });
try {
  // send_TCP_message(client, "Telegram", ...): in the background, the answer not awaited.
  await client.send('Telegram', 'Measurement started');
  console.log('sent Telegram in the background');

  // send_TCP_message(client, "Status", ..., no_thread=True): wait for the answer.
  const status = await client.request('Status');
  console.log(`answer to Status: ${JSON.stringify(status)}`);
} catch (error) {
  const e = error as Error & { code?: string };
  console.error(`${e.code}: ${e.message}`);
  process.exitCode = 1;
} finally {
  await client.close();
}
