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
} from './types.js';
// JSON action messages (docs/messages.md), built on the exports above.
export * from './messages/index.js';
