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

/** One TCP connection, as handlers see it on either backend. */
export interface Connection<State = unknown> {
  /** The peer's address, e.g. `127.0.0.1` or `::1`. */
  readonly remoteAddress: string;
  /** The peer's port. */
  readonly remotePort: number;
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
  /** Sends what is queued, then half-closes; close() follows when the peer is done too. */
  end(): void;
  /** Closes at once, dropping queued bytes; close() follows with no error. */
  destroy(): void;
  /**
   * Stops reading from the socket until resume(): nothing more is delivered meanwhile, not
   * data, nor the peer's end, nor an error or close (destroy() still ends it with close()).
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
  /** Bytes arrived. TCP is a stream: one write by the peer may arrive split or merged. */
  data?(connection: Connection<State>, chunk: Buffer): void;
  /** The write queue emptied after write() returned false. */
  drain?(connection: Connection<State>): void;
  /** The peer half-closed: no more data will come. The engine then ends its own side. */
  end?(connection: Connection<State>): void;
  /** The connection failed; close() follows with the same error. */
  error?(connection: Connection<State>, error: Error): void;
  /** The connection is gone, with the error that ended it, if any. Called exactly once. */
  close?(connection: Connection<State>, error?: Error): void;
}

/** Options of listen() for TCP. */
export interface ListenOptions {
  /** `tcp` (the default) or `udp` (see UdpListenOptions). */
  transport?: 'tcp';
  /** Address to bind: a numeric IPv4/IPv6 address or a host name. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind; 0 picks a free one (read it back with address()). Default 48763. */
  port?: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** A built-in handler name or a JavaScript handler object. */
  handler: BuiltinHandlerName | TcpHandler;
  /** Length of the kernel's accept queue. Default 511. */
  backlog?: number;
  /** Queued bytes at which write() starts returning false. Default 16384. */
  highWaterMark?: number;
  /** For IPv6 hosts: accept IPv6 only (no IPv4-mapped peers). Default false. */
  ipv6Only?: boolean;
}

/** Options of connect() for TCP. */
export interface ConnectOptions {
  /** `tcp` (the default) or `udp` (see UdpConnectOptions). */
  transport?: 'tcp';
  /** The server's address or host name. Default `127.0.0.1`. */
  host?: string;
  /** The server's port. */
  port: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** A JavaScript handler object. */
  handler: TcpHandler;
  /** Queued bytes at which write() starts returning false. Default 16384. */
  highWaterMark?: number;
}

/** The address a server is bound to. */
export interface BoundAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** A listening server, on either backend. */
export interface Server {
  /** The backend actually serving (what `auto` chose). */
  readonly backend: Backend;
  /** `tcp`. */
  readonly transport: 'tcp';
  /** Where the server is bound; the real port when listening on port 0. */
  address(): BoundAddress;
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting, lets open connections finish, and resolves when the last one has
   * closed. Calling it again returns the same promise.
   */
  close(): Promise<void>;
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
  message?(socket: DatagramSocket<State>, data: Buffer, rinfo: RemoteInfo): void;
  /** The kernel reported an error: a failed send, or ICMP port unreachable on a connected socket. */
  error?(socket: DatagramSocket<State>, error: Error): void;
  /** The socket is closed. */
  close?(socket: DatagramSocket<State>): void;
}

/** Options of listen() for UDP. */
export interface UdpListenOptions {
  transport: 'udp';
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 48763. */
  port?: number;
  /** Default `auto`. */
  backend?: BackendChoice;
  /** A built-in handler name (answers each datagram to its sender) or a UdpHandler. */
  handler: BuiltinHandlerName | UdpHandler;
  /** Receive room per datagram; longer ones are cut and reported. Default (and at most) 65536. */
  maxDatagramSize?: number;
  /** For IPv6 hosts: IPv6 only. Default false. */
  ipv6Only?: boolean;
}

/** Options of connect() for UDP: a connected socket that hears only its peer. */
export interface UdpConnectOptions {
  transport: 'udp';
  /** The server's address or host name. Default `127.0.0.1`. */
  host?: string;
  port: number;
  backend?: BackendChoice;
  handler: UdpHandler;
  /** Receive room per datagram. Default 65536. */
  maxDatagramSize?: number;
}

/** A bound UDP server. */
export interface UdpServer {
  readonly backend: Backend;
  readonly transport: 'udp';
  address(): BoundAddress;
  /** Datagrams and bytes in and out, truncations and send errors. */
  stats(): DatagramStats;
  /** Closes the socket. Calling it again returns the same promise. */
  close(): Promise<void>;
}
