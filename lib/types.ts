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
  /** Stops delivering data() (and reading from the socket) until resume(). */
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

/** Options of listen(). */
export interface ListenOptions {
  /** Only `tcp` for now. */
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

/** Options of connect(). */
export interface ConnectOptions {
  /** Only `tcp` for now. */
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
  /** Always `tcp` for now. */
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
