/**
 * What both backends share about a UDP socket: argument checks for send(), the rinfo given
 * to message(), and the rule that nothing reaches the handler after close() but close itself.
 */
import { isIP } from 'node:net';
import type {
  ConnectionError,
  NodeBuffer,
  Backend,
  BoundAddress,
  Datagram,
  DatagramSocket,
  DatagramStats,
  RemoteInfo,
  UdpHandler,
  UdpServer,
} from './types.js';
import { HandlerError, reportUncaught } from './errors.js';
import { toBytes } from './validate.js';

/** An outgoing datagram after its arguments were checked. */
export interface OutgoingDatagram {
  bytes: Uint8Array;
  port: number;
  address: string;
}

/** Raised by send() on a closed socket. */
export class SocketClosedError extends Error {
  readonly code = 'ERR_SOCKENGINE_SOCKET_CLOSED';
  constructor() {
    super('send(): the socket is closed');
    this.name = 'SocketClosedError';
  }
}

export function remoteInfo(address: string, port: number, size: number, received: number): RemoteInfo {
  return { address, port, family: isIP(address) === 6 ? 'IPv6' : 'IPv4', size, truncated: size > received };
}

export function emptyStats(): DatagramStats {
  return { datagramsIn: 0, bytesIn: 0, datagramsOut: 0, bytesOut: 0, truncated: 0, sendErrors: 0 };
}

export abstract class BaseDatagramSocket<State = unknown> implements DatagramSocket<State> {
  state = undefined as State;
  abstract readonly backend: Backend;
  protected readonly handler: UdpHandler<State>;
  protected readonly connected: boolean;
  private isClosed = false;

  constructor(handler: UdpHandler<State>, connected: boolean) {
    this.handler = handler;
    this.connected = connected;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  abstract address(): BoundAddress;
  abstract stats(): DatagramStats;
  /** Hands checked datagrams to the backend. */
  protected abstract transmit(datagrams: OutgoingDatagram[]): void;
  protected abstract closeSocket(): void;

  /** Hands one checked datagram to the backend (send()); a backend may take a shorter road. */
  protected transmitOne(datagram: OutgoingDatagram): void {
    this.transmit([datagram]);
  }

  send(data: Uint8Array | string, port?: number, address?: string): void {
    this.transmitOne(this.check(data, port, address, 'send()'));
  }

  sendMany(datagrams: readonly Datagram[]): void {
    if (!Array.isArray(datagrams)) throw new TypeError('sendMany(datagrams): datagrams must be an array');
    this.transmit(datagrams.map((d, i) => this.check(d?.data, d?.port, d?.address, `sendMany() datagram ${i}`)));
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeSocket();
    process.nextTick(() => {
      try {
        this.handler.close?.(this);
      } catch (error) {
        reportUncaught(error);
      }
    });
  }

  /**
   * A datagram arrived. If message() throws, the socket's error() hears it (else it is
   * reported as uncaught, as node:dgram's would be); either way the socket keeps serving:
   * one bad datagram costs only itself.
   */
  deliverMessage(data: NodeBuffer, rinfo: RemoteInfo): void {
    const message = this.handler.message;
    if (this.isClosed || message === undefined) return;
    try {
      message.call(this.handler, this, data, rinfo);
    } catch (thrown) {
      if (this.handler.error === undefined) reportUncaught(thrown);
      else this.deliverError(new HandlerError('message', thrown));
    }
  }

  /** Every failure reaching here is a SockengineError (fromNodeError, SystemError, HandlerError). */
  deliverError(error: Error): void {
    const onError = this.handler.error;
    if (this.isClosed || onError === undefined) return;
    try {
      onError.call(this.handler, this, error as ConnectionError);
    } catch (thrown) {
      reportUncaught(thrown);
    }
  }

  private check(data: unknown, port: unknown, address: unknown, what: string): OutgoingDatagram {
    if (this.isClosed) throw new SocketClosedError();
    const bytes = toBytes(data);
    if (this.connected) {
      if (port !== undefined || address !== undefined) {
        throw new TypeError(`${what}: a connected socket sends to its peer; leave out port and address`);
      }
      return { bytes, port: 0, address: '' };
    }
    if (typeof port !== 'number') throw new TypeError(`${what}: port must be a number, got ${typeof port}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`${what}: port must be an integer from 1 to 65535, got ${port}`);
    }
    if (typeof address !== 'string' || address.length === 0) {
      throw new TypeError(`${what}: address must be a non-empty string`);
    }
    if (address.includes('%')) {
      throw new RangeError(`${what}: IPv6 zone ids (${address}) are not supported`);
    }
    return { bytes, port, address };
  }
}

/** A UDP server is its bound socket, seen from outside: both backends use this one. */
export class DatagramServer implements UdpServer {
  readonly transport = 'udp' as const;
  private readonly socket: DatagramSocket;
  private closing: Promise<void> | undefined;

  constructor(socket: DatagramSocket) {
    this.socket = socket;
  }

  get backend(): Backend {
    return this.socket.backend;
  }

  address(): BoundAddress {
    return this.socket.address();
  }

  stats(): DatagramStats {
    return this.socket.stats();
  }

  close(): Promise<void> {
    this.closing ??= Promise.resolve(this.socket.close());
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
