/** sockengine: a native epoll socket engine and a node:net backend behind one interface. */
export { listen, connect, resolveBackend, nativeAvailable, DEFAULT_PORT } from './api.js';
export { uppercaseAscii, builtinHandler, builtinUdpHandler } from './builtin.js';
export { SocketClosedError } from './datagram.js';
export {
  SockengineError,
  SystemError,
  IdleTimeoutError,
  BufferFullError,
  FrameTooLongError,
  FrameLengthError,
  NativeUnavailableError,
  UnsupportedError,
  WorkerError,
} from './errors.js';
export { encodeFrame, FrameSplitter, DEFAULT_MAX_FRAME } from './framing.js';
export type {
  Backend,
  BackendChoice,
  BoundAddress,
  BuiltinHandlerName,
  Connection,
  ConnectOptions,
  ConnectionOptions,
  CloseOptions,
  FramingOption,
  ServerStats,
  ListenOptions,
  Server,
  TcpHandler,
  Datagram,
  DatagramSocket,
  DatagramStats,
  RemoteInfo,
  UdpConnectOptions,
  UdpHandler,
  UdpListenOptions,
  UdpServer,
  UnixConnectOptions,
  ModuleHandler,
  WorkerOptions,
} from './types.js';
// Typed handler errors (issue 14): what error() and close() receive, and the bytes data() gets.
export { HandlerError } from './errors.js';
export type { ConnectionError, NodeBuffer } from './types.js';
// The socket trigger (lib/trigger/): runs on client events, their records, the page.
export { trigger, DEFAULT_CONCURRENCY, DEFAULT_QUEUE } from './trigger/trigger.js';
export { openRunStore, RunStore, SqliteMissingError, DEFAULT_MAX_RUNS } from './trigger/store.js';
export type { RunStoreOptions } from './trigger/store.js';
export { serveTriggerUi } from './trigger/ui/server.js';
export type { TriggerUi } from './trigger/ui/server.js';
export type {
  RunRecord,
  RunSource,
  Trigger,
  TriggerEvent,
  TriggerOptions,
  TriggerRun,
  TriggerStats,
  Workflow,
} from './trigger/types.js';
// JSON action messages (docs/messages.md), built on the exports above.
export * from './messages/index.js';
