/** The node backend's UDP sockets, over node:dgram, with the same counters and truncation rules. */
import * as dgram from 'node:dgram';
import { isIP } from 'node:net';
import { builtinUdpHandler } from '../builtin.js';
import { BaseDatagramSocket, DatagramServer, emptyStats, remoteInfo, type OutgoingDatagram } from '../datagram.js';
import { numericHost } from '../dns.js';
import { fromNodeError } from '../errors.js';
import type { BoundAddress, BuiltinHandlerName, DatagramStats, UdpHandler, UdpServer } from '../types.js';
import { requireNodeReusePort } from './reuse-port.js';

export class NodeDatagramSocket<State = unknown> extends BaseDatagramSocket<State> {
  readonly backend = 'node' as const;
  private readonly socket: dgram.Socket;
  private readonly counters = emptyStats();
  // node:dgram resolves each destination before sending, so a close() right after send()
  // would drop the datagram: the close waits for sends in flight.
  private sendsInFlight = 0;
  private closeWhenSent = false;

  constructor(socket: dgram.Socket, handler: UdpHandler<State>, connected: boolean, maxDatagramSize: number) {
    super(handler, connected);
    this.socket = socket;
    socket.on('message', (message, rinfo) => {
      this.counters.datagramsIn++;
      this.counters.bytesIn += message.length;
      // node:dgram always reads up to 64 KiB; cut to maxDatagramSize so both backends agree.
      const data = message.length > maxDatagramSize ? message.subarray(0, maxDatagramSize) : message;
      if (data.length < message.length) this.counters.truncated++;
      this.deliverMessage(data, remoteInfo(rinfo.address, rinfo.port, message.length, data.length));
    });
    socket.on('error', (error) => this.deliverError(fromNodeError(error)));
  }

  address(): BoundAddress {
    const local = this.socket.address();
    return { address: local.address, port: local.port, family: local.family === 'IPv6' ? 'IPv6' : 'IPv4' };
  }

  stats(): DatagramStats {
    return { ...this.counters };
  }

  protected transmit(datagrams: OutgoingDatagram[]): void {
    for (const { bytes, port, address } of datagrams) {
      this.sendsInFlight++;
      const done = (error: Error | null) => {
        this.sendsInFlight--;
        if (this.closeWhenSent && this.sendsInFlight === 0) this.socket.close();
        if (error) {
          this.counters.sendErrors++;
          this.deliverError(fromNodeError(error));
        } else {
          this.counters.datagramsOut++;
          this.counters.bytesOut += bytes.length;
        }
      };
      if (this.connected) this.socket.send(bytes, done);
      else this.socket.send(bytes, port, address, done);
    }
  }

  protected closeSocket(): void {
    if (this.sendsInFlight > 0) this.closeWhenSent = true;
    else this.socket.close();
  }
}

async function socketType(host: string): Promise<{ type: 'udp4' | 'udp6'; address: string }> {
  const address = await numericHost(host);
  return { type: isIP(address) === 6 ? 'udp6' : 'udp4', address };
}

export interface NodeUdpListenOptions {
  host: string;
  port: number;
  ipv6Only: boolean;
  reusePort: boolean;
  maxDatagramSize: number;
  handler: BuiltinHandlerName | UdpHandler;
}

export async function listenUdpNode(options: NodeUdpListenOptions): Promise<UdpServer> {
  if (options.reusePort) requireNodeReusePort('options.reusePort');
  const { type, address } = await socketType(options.host);
  const handler = typeof options.handler === 'string' ? builtinUdpHandler(options.handler) : options.handler;
  // reusePort: Node 22.12+ (checked above); @types/node 20 does not list it.
  const socketOptions: dgram.SocketOptions = { type, ipv6Only: options.ipv6Only };
  const raw = dgram.createSocket(options.reusePort ? ({ ...socketOptions, reusePort: true } as dgram.SocketOptions) : socketOptions);
  await new Promise<void>((resolve, reject) => {
    raw.once('error', (error) => reject(fromNodeError(error)));
    raw.bind(options.port, address, () => {
      raw.removeAllListeners('error');
      resolve();
    });
  });
  return new DatagramServer(new NodeDatagramSocket(raw, handler, false, options.maxDatagramSize));
}

export interface NodeUdpConnectOptions {
  host: string;
  port: number;
  maxDatagramSize: number;
  handler: UdpHandler;
}

export async function connectUdpNode(options: NodeUdpConnectOptions): Promise<NodeDatagramSocket> {
  const { type, address } = await socketType(options.host);
  const raw = dgram.createSocket({ type });
  await new Promise<void>((resolve, reject) => {
    raw.once('error', (error) => reject(fromNodeError(error)));
    raw.connect(options.port, address, () => {
      raw.removeAllListeners('error');
      resolve();
    });
  });
  return new NodeDatagramSocket(raw, options.handler, true, options.maxDatagramSize);
}
