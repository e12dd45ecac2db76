/**
 * trigger_udp.ts - the UDP socket trigger of seed 000 as a handler module for the sockengine
 * command, which takes a module whose default export is a handler object:
 *
 *   node --import tsx bin/sockengine.js serve --transport udp --port 9999 --handler examples/ts/trigger_udp.ts
 *
 * (`--import tsx` lets node load TypeScript.) It prints the same records as
 * `socket_trigger.ts --transport udp`, after the command's own "listening ..." line.
 */
import { udpTrigger } from './trigger.js';

export default udpTrigger();
