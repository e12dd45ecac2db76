/**
 * The interface both backends implement. A handler object written against these types runs
 * unchanged on the native engine and on node:net.
 */

/** A backend that actually serves: the C++ engine or pure node:net. */
export type Backend = 'native' | 'node';

/** What a caller may ask for: `auto` takes native when the addon loads, else node. */
export type BackendChoice = 'auto' | Backend;

/**
 * A handler that runs inside the engine with no JavaScript per message: `uppercase` (ASCII
 * a-z to A-Z, every other byte unchanged), `echo`, or `reply:TEXT` (answers every chunk with
 * TEXT). On the node backend the same names run as JavaScript.
 */
export type BuiltinHandlerName = 'uppercase' | 'echo' | `reply:${string}`;

import type { FramingOption } from './framing.js';
import type { SockengineError, SystemError, WorkerError } from './errors.js';

export type { FramingOption } from './framing.js';

/**
 * The bytes handed to data() and message(): Node's `Buffer` when the app has node's types
 * (@types/node), else `Uint8Array`, which every Buffer is. So the declarations compile
 * with or without node's types in the app.
 */
export type NodeBuffer = typeof globalThis extends { Buffer: { prototype: infer B } } ? B : Uint8Array;

/**
 * What a handler's error() and close() receive: a SystemError (`code`, `errno`, `syscall`,
 * as the OS reported it) or one of the package's own errors (IdleTimeoutError,
 * BufferFullError, FrameTooLongError, FrameLengthError, HandlerError for a handler member
 * that threw, with what it threw as `cause`). All are SockengineErrors with a stable `code`.
 */
export type ConnectionError = SystemError | SockengineError;

/** One TCP connection, as handlers see it on either backend. */
export interface Connection<State = unknown> {
  /** The peer's address, e.g. `127.0.0.1` or `::1`. */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
  /** Our own address on this connection (getsockname), read when first asked, as remoteAddress is. */
  readonly localAddress: string;
  /** Our own port on this connection. */
  readonly localPort: number;
  /** The user's own per-connection state; the engine never touches it. */
  state: State;
  /** Bytes accepted by write() that the kernel has not taken yet. */
  readonly bufferedBytes: number;
  /** True once close() has been delivered or destroy() was called. */
  readonly closed: boolean;
  /**
   * Sends bytes (a string is sent as UTF-8). The kernel gets them first; what it does not
   * take is queued. Returns false once the queue reaches the high-water mark, and the
   * handler's drain() follows when it empties. Writing after end() or close does nothing
   * and returns false.
   */
  write(data: Uint8Array | string): boolean;
  /**
   * Sends one frame carrying `payload` (adds the delimiter, the LF or the length header of
   * the connection's framing); returns what write() returns. Throws a TypeError without
   * the framing option, and a RangeError when the payload cannot be framed (too long for
   * the header, or not the fixed size).
   */
  send(payload: Uint8Array | string): boolean;
  /** Sends what is queued, then half-closes; close() follows when the peer is done too. */
  end(): void;
  /** Closes at once, dropping queued bytes; close() follows with no error. */
  destroy(): void;
  /**
   * Stops reading from the socket until resume(): no data and not the peer's end are
   * delivered meanwhile. A failure still is: if the peer resets (or the idle timeout
   * passes), error() and close() follow at once, and what was held is dropped.
   */
  pause(): void;
  /** Starts delivering data() again, beginning with anything held while paused. */
  resume(): void;
}

/**
 * A JavaScript handler: the socket-trigger events of one connection. Every member is
 * optional. After close() no member is called again for that connection.
 */
export interface TcpHandler<State = any> {
  /** The connection is established (accepted by a server, or connected by a client). */
  open?(connection: Connection<State>): void;
  /**
   * Bytes arrived. TCP is a stream: one write by the peer may arrive split or merged. With
   * the framing option, each call is one complete frame instead. The chunk is the
   * handler's to keep: it holds its own memory, as node:net's chunks do.
   */
  data?(connection: Connection<State>, chunk: NodeBuffer): void;
  /** The write queue emptied after write() returned false. */
  drain?(connection: Connection<State>): void;
  /** The peer half-closed: no more data will come. The engine then ends its own side. */
  end?(connection: Connection<State>): void;
  /**
   * The connection failed (a reset, the idle timeout, a full write queue...), or another
   * member of this handler threw; close() follows with the same error. Without this member
   * a throw from the others is reported as an uncaught exception (the connection is still
   * closed, and the server goes on if the process survives it). The connection is failing:
   * write() and send() from here return false and send nothing, on both backends.
   */
  error?(connection: Connection<State>, error: ConnectionError): void;
  /** The connection is gone, with the error that ended it, if any. Called exactly once. */
  close?(connection: Connection<State>, error?: ConnectionError): void;
}

/** Limits and socket options shared by listen() (for every connection) and connect(). */
export interface ConnectionOptions {
  /** Queued bytes at which write() starts returning false. Default 16384. */
  highWaterMark?: number;
  /**
   * Milliseconds with no traffic in either direction after which a connection is closed
   * with an `ETIMEDOUT` error (IdleTimeoutError). Default 0: never.
   */
  idleTimeout?: number;
  /**
   * Bytes a write may leave queued (the kernel's own buffer not counted) before the
   * connection fails with `ERR_SOCKENGINE_BUFFER_FULL`: a peer that stops reading cannot
   * make the process grow without bound. Default 16 MiB; 0 means no limit.
   */
  maxBufferedBytes?: number;
  /**
   * After the peer's end, keep our side open until the handler calls end() (node:net's
   * allowHalfOpen). Default false: our side ends after the handler's end(). JavaScript
   * handlers only.
   */
  allowHalfOpen?: boolean;
  /** TCP_NODELAY: send small writes at once. Default true. */
  noDelay?: boolean;
  /** SO_KEEPALIVE probes on silent connections. Default false. */
  keepAlive?: boolean;
  /** Milliseconds of silence before the first keep-alive probe (whole seconds). Default 0: the system's. */
  keepAliveInitialDelay?: number;
  /**
   * Cut the stream into frames: `'line'` (ends at LF; the LF and a CR before it are
   * dropped), `{ delimiter }`, `{ length: 1 | 2 | 4 | 8, byteOrder, lengthAdjustment,
   * lengthIncludesHeader }` (a length prefix, as Netty's LengthFieldBasedFrameDecoder reads
   * it; the header is not part of the frame) or `{ fixed: N }`. data() then gets one whole
   * frame per call and send() writes one. Default: raw chunks.
   */
  framing?: FramingOption;
  /**
   * With framing: payload bytes a frame may have. A longer one fails the connection with
   * `ERR_SOCKENGINE_FRAME_TOO_LONG` as soon as it is certain, never buffering more than
   * this. Default 65536.
   */
  maxFrame?: number;
}

/** Options of listen() for TCP; `State` types each connection's `state`. */
export interface ListenOptions<State = any> extends ConnectionOptions, WorkerOptions {
  /** `tcp` (the default) or `udp` (see UdpListenOptions). */
  transport?: 'tcp';
  /** Address to bind: a numeric IPv4/IPv6 address or a host name. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind; 0 picks a free one (read it back with address()). Default 48763. */
  port?: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /**
   * A built-in handler name, a JavaScript handler object, or a module whose default export
   * is one (a path, or `{ module: path }`; the only JavaScript form `workers` takes).
   */
  handler: BuiltinHandlerName | TcpHandler<State> | ModuleHandler;
  /** Length of the kernel's accept queue. Default 511. */
  backlog?: number;
  /** For IPv6 hosts: accept IPv6 only (no IPv4-mapped peers). Default false. */
  ipv6Only?: boolean;
  /**
   * Connections open at once; those beyond it are accepted and closed at once (the peer
   * sees a close, not a hang) and counted in stats().rejected. Default 0: no limit.
   */
  maxConnections?: number;
  /**
   * Listen on a Unix-domain stream socket instead of host and port: a file path, or on
   * Linux a name in the abstract namespace when it starts with `\0` (no file; it vanishes
   * with the server). The file is removed when the server closes. Connections from it have
   * `remoteAddress` '' and `remotePort` 0 (unless the PROXY protocol names the client).
   */
  path?: string;
  /** The socket file's permission bits, e.g. `0o660`: who may connect. Default: the umask's. */
  permissions?: number;
  /**
   * When the path is taken by a stale socket file (a server died without removing it, and
   * nothing listens on it), remove it and bind again. Default false: EADDRINUSE, naming the
   * stale file. A live server's socket or a file that is not a socket is never removed.
   */
  replaceStale?: boolean;
  /**
   * Every connection starts with a PROXY protocol header (v1 or v2, as HAProxy's
   * `send-proxy`/`send-proxy-v2` and nginx's `proxy_protocol on` send it), read before any
   * byte reaches the handler or built-in: open() runs once it is read, and remoteAddress /
   * remotePort name the client it carries (a LOCAL or UNKNOWN header keeps the socket's
   * own). A connection without a valid header within proxyTimeout is closed and counted in
   * stats().proxyRejected; the handler never sees it. Default false.
   */
  proxyProtocol?: boolean;
  /** With proxyProtocol: milliseconds a connection has to send its header. Default 3000. */
  proxyTimeout?: number;
}

/** Options of connect() for TCP; `State` types the connection's `state`. */
export interface ConnectOptions<State = any> extends ConnectionOptions {
  /** `tcp` (the default) or `udp` (see UdpConnectOptions). */
  transport?: 'tcp';
  /** The server's address or host name. Default `127.0.0.1`. */
  host?: string;
  /** The server's port. */
  port: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** A JavaScript handler object. */
  handler: TcpHandler<State>;
}

/** Options of connect() to a Unix-domain stream socket. */
export interface UnixConnectOptions<State = any> extends ConnectionOptions {
  transport?: 'tcp';
  /** The server's socket file, or `\0name` for a name in Linux's abstract namespace. */
  path: string;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** A JavaScript handler object. */
  handler: TcpHandler<State>;
}

/** The address a server is bound to. */
export interface BoundAddress {
  /** The IP address, or a Unix-domain server's path (an abstract name starts with `\0`). */
  address: string;
  /** 0 for a Unix-domain server. */
  port: number;
  family: 'IPv4' | 'IPv6' | 'unix';
}

/**
 * A handler in a module of its own, loaded with import(): its default export is the handler
 * object. A path is absolute or starts with `./` or `../` (resolved against the current
 * directory), or is a `file:` URL. Worker threads load it each for themselves.
 */
export type ModuleHandler = { module: string } | `/${string}` | `./${string}` | `../${string}` | `file:${string}`;

/** The options of listen() (TCP and UDP) that spread one server over several threads. */
export interface WorkerOptions {
  /**
   * SO_REUSEPORT: other sockets (in this process or others) may bind the same address and
   * port, and the kernel spreads connections (or datagrams) over them by a hash of the
   * peer's address. The node backend needs Node.js 22.12 or later for it (node:net and
   * node:dgram on Node 20 have no reusePort: an UnsupportedError says so). Default false.
   */
  reusePort?: boolean;
  /**
   * Serve on this many threads, each with its own SO_REUSEPORT listener on the same
   * address; `'auto'`: one per available core (os.availableParallelism()). A built-in
   * handler runs on native loop threads with no JavaScript at all; a handler module runs in
   * that many worker threads, each with its own engine. A handler object cannot be shared
   * between threads: give its module instead. Limits (maxConnections, idleTimeout...) apply
   * to each worker. The node backend needs Node.js 22.12 or later.
   */
  workers?: number | 'auto';
  /**
   * Hears a worker that failed (WorkerError, code `ERR_SOCKENGINE_WORKER_FAILED`); the
   * others go on serving. Without it the failure is reported as an uncaught exception.
   */
  onWorkerError?: (error: WorkerError) => void;
}

/** Counters of a TCP server, the same on both backends. */
export interface ServerStats {
  /** Connections open now. */
  connections: number;
  /** Connections accepted and served. */
  accepted: number;
  /**
   * Connections accepted and closed at once: maxConnections were open, or the process was
   * out of descriptors (EMFILE; the native backend counts these, node:net sheds them inside
   * libuv unseen).
   */
  rejected: number;
  /** Connections closed by the idle timeout. */
  timedOut: number;
  /** Connections closed because a frame grew past maxFrame. */
  framesTooLong: number;
  /** With proxyProtocol: connections closed for a missing, late or malformed PROXY header. */
  proxyRejected: number;
  /**
   * Connections closed by a failure: a reset, the idle timeout, a full write queue, a frame
   * too long, a handler member that threw.
   */
  closedWithError: number;
  /** Bytes received on the server's connections. */
  bytesIn: number;
  /** Bytes the kernel took for sending on the server's connections. */
  bytesOut: number;
  /**
   * With `workers`: each worker's own counters, in worker order (the fields above are their
   * sums). Native loop threads report at every wake-up; worker threads at each connection's
   * open and close and every 100 ms, and exactly once close() has resolved.
   */
  workers?: ServerStats[];
}

/** Options of Server.close(). */
export interface CloseOptions {
  /**
   * Milliseconds to wait for open connections to finish; then the rest are destroyed
   * (each one's close() follows) and the promise resolves. Default: wait for as long as
   * they take.
   */
  timeout?: number;
}

/** A listening server, on either backend. */
export interface Server extends AsyncDisposable {
  /** The backend actually serving (what `auto` chose). */
  readonly backend: Backend;
  /** `tcp`. */
  readonly transport: 'tcp';
  /** Where the server is bound; the real port when listening on port 0. */
  address(): BoundAddress;
  /** Connections open now. */
  readonly connections: number;
  /** Counters since listen(); still readable after close(). */
  stats(): ServerStats;
  /**
   * Stops accepting, lets open connections finish (or, with `timeout`, destroys those left
   * when it passes), and resolves when the last one has closed. Calling it again returns
   * the same promise. `await using server = await listen(...)` closes it the same way.
   */
  close(options?: CloseOptions): Promise<void>;
}

/** Where a datagram came from, and how big it really was. */
export interface RemoteInfo {
  /** The sender's address. */
  address: string;
  /** The sender's port. */
  port: number;
  /** `IPv4` or `IPv6`. */
  family: 'IPv4' | 'IPv6';
  /** The datagram's real size in bytes (more than the data when it was truncated). */
  size: number;
  /** True when the datagram was longer than maxDatagramSize and was cut to fit. */
  truncated: boolean;
}

/** One datagram for sendMany(). `port` and `address` may be left out on a connected socket. */
export interface Datagram {
  data: Uint8Array | string;
  port?: number;
  address?: string;
}

/** Counters of a UDP socket, the same on both backends. */
export interface DatagramStats {
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  /** Datagrams longer than maxDatagramSize: delivered cut, with rinfo.truncated (built-ins skip them). */
  truncated: number;
  /** Datagrams the kernel refused or dropped (EMSGSIZE, a full send buffer, unreachable...). */
  sendErrors: number;
  /** A server with `workers`: each worker's own counters (see ServerStats.workers). */
  workers?: DatagramStats[];
}

/** A UDP socket as handlers see it: a server's bound socket or a connected client. */
export interface DatagramSocket<State = unknown> {
  /** The user's own state; the engine never touches it. */
  state: State;
  /** The backend serving this socket. */
  readonly backend: Backend;
  /** True once close() was called. */
  readonly closed: boolean;
  /**
   * Sends one datagram. On a connected socket `port` and `address` may be left out. Errors
   * the kernel reports (EMSGSIZE for more than 65,507 bytes over IPv4, ...) go to the
   * handler's error() and the sendErrors counter; bad arguments throw.
   */
  send(data: Uint8Array | string, port?: number, address?: string): void;
  /** Sends many datagrams in one call (one sendmmsg on the native backend). */
  sendMany(datagrams: readonly Datagram[]): void;
  /** The local address. */
  address(): BoundAddress;
  /** The counters of this socket. */
  stats(): DatagramStats;
  /** Closes the socket; the handler's close() follows. */
  close(): void;
}

/** A JavaScript UDP handler. Every member is optional. */
export interface UdpHandler<State = any> {
  /** A datagram arrived (an empty one too). Replies go out with socket.send(). */
  message?(socket: DatagramSocket<State>, data: NodeBuffer, rinfo: RemoteInfo): void;
  /** The kernel reported an error: a failed send, or ICMP port unreachable on a connected socket. */
  error?(socket: DatagramSocket<State>, error: ConnectionError): void;
  /** The socket is closed. */
  close?(socket: DatagramSocket<State>): void;
}

/** Options of listen() for UDP. */
export interface UdpListenOptions<State = any> extends WorkerOptions {
  transport: 'udp';
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 48763. */
  port?: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /**
   * A built-in handler name (answers each datagram to its sender), a UdpHandler, or a module
   * whose default export is one (a path, or `{ module: path }`).
   */
  handler: BuiltinHandlerName | UdpHandler<State> | ModuleHandler;
  /** Receive room per datagram; longer ones are cut and reported. Default (and at most) 65536. */
  maxDatagramSize?: number;
  /** For IPv6 hosts: IPv6 only. Default false. */
  ipv6Only?: boolean;
}

/** Options of connect() for UDP: a connected socket that hears only its peer. */
export interface UdpConnectOptions<State = any> {
  transport: 'udp';
  /** The server's address or host name. Default `127.0.0.1`. */
  host?: string;
  port: number;
  backend?: BackendChoice;
  handler: UdpHandler<State>;
  /** Receive room per datagram. Default 65536. */
  maxDatagramSize?: number;
}

/** A bound UDP server. */
export interface UdpServer extends AsyncDisposable {
  readonly backend: Backend;
  readonly transport: 'udp';
  address(): BoundAddress;
  /** Datagrams and bytes in and out, truncations and send errors. */
  stats(): DatagramStats;
  /** Closes the socket. Calling it again returns the same promise. */
  close(): Promise<void>;
}
