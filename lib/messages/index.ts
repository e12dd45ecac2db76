/** JSON action messages: the server, the client, the config loader and their errors. */
export { serveMessages, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MESSAGE_PORT } from './server.js';
export type { ActionHandler, Actions, ActionsFunction, MessageContext, MessageServer, MessageServerOptions, MessageServerStats } from './server.js';
export { messageClient } from './client.js';
export type { MessageClient, MessageClientOptions, RequestOptions } from './client.js';
export { loadMessageConfig, messageConfigFrom } from './config.js';
export type { MessageConfig, MessageEndpoint } from './config.js';
export {
  ClientClosedError,
  ConnectionDroppedError,
  MessageConfigError,
  MessageTimeoutError,
  MessageTooLargeError,
  NotConnectedError,
  RemoteError,
} from './errors.js';
export type { WireErrorCode } from './errors.js';
export type { MessageId } from './id.js';
