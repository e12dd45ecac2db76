/**
 * trigger_tcp.ts - the TCP socket trigger of seed 000 as a handler module for the sockengine
 * command, which takes a module whose default export is a handler object:
 *
 *   node --import tsx bin/sockengine.js serve --port 9999 --handler examples/ts/trigger_tcp.ts
 *
 * (`--import tsx` lets node load TypeScript.) It prints the same records as
 * `socket_trigger.ts --transport tcp`, after the command's own "listening ..." line.
 */
import { tcpTrigger } from './trigger.js';

export default tcpTrigger();
