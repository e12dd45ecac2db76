/** The native backend's UDP sockets. Sends made while a batch is being handled leave together. */
import { isIP } from 'node:net';
import { BaseDatagramSocket, DatagramServer, emptyStats, type OutgoingDatagram } from '../datagram.js';
import { SystemError } from '../errors.js';
import type { BoundAddress, BuiltinHandlerName, DatagramStats, UdpHandler, UdpServer } from '../types.js';
import type { NativeEngine } from './engine.js';
import { numericHost } from '../dns.js';
import { STAGED_MAX, stageBytes } from './stage.js';

export class NativeDatagramSocket<State = unknown> extends BaseDatagramSocket<State> {
  readonly backend = 'native' as const;
  private readonly engine: NativeEngine;
  private readonly id: number;
  private readonly local: BoundAddress;
  private lastStats: DatagramStats = emptyStats();
  // Datagrams queued during a batch, sent in one call when the batch ends.
  private outBytes: Uint8Array[] = [];
  private outPorts: number[] = [];
  private outHosts: string[] = [];
  /** Set while the engine holds this socket for the flush at the end of the batch. */
  flushQueued = false;
  /**
   * The sender of the last datagram received: numeric, so a reply to it needs no check, and
   * a Message record may name it again (MessageAddress.SameSender).
   */
  lastSender = '';
  /** The host the engine kept from the last single send that named one (Loop::datagramDestination). */
  private sentTo: string | undefined;

  constructor(engine: NativeEngine, id: number, handler: UdpHandler<State>, local: BoundAddress, connected: boolean) {
    super(handler, connected);
    this.engine = engine;
    this.id = id;
    this.local = local;
  }

  address(): BoundAddress {
    return { ...this.local };
  }

  stats(): DatagramStats {
    if (!this.closed) this.lastStats = this.engine.binding.datagramStats(this.id) ?? this.lastStats;
    return { ...this.lastStats };
  }

  /**
   * One datagram with nothing queued before it and no batch to wait for (a reply to a
   * datagram that came alone) goes to the kernel at once, as flush() would send it.
   */
  protected override transmitOne(datagram: OutgoingDatagram): void {
    const numeric = this.connected || datagram.address === this.lastSender || isIP(datagram.address) !== 0;
    if (!numeric || this.outBytes.length > 0 || this.engine.inBatch) {
      this.transmit([datagram]);
      return;
    }
    const result = this.sendOne(datagram.bytes, datagram.port, datagram.address);
    if (result >= 0) return;
    const error = new SystemError(result, 'send', datagram.address || undefined, datagram.port || undefined);
    process.nextTick(() => this.deliverError(error));
  }

  protected transmit(datagrams: OutgoingDatagram[]): void {
    for (const datagram of datagrams) {
      if (!this.connected && datagram.address !== this.lastSender && isIP(datagram.address) === 0) {
        void this.sendResolved(datagram);
        continue;
      }
      this.outBytes.push(datagram.bytes);
      this.outPorts.push(datagram.port);
      this.outHosts.push(datagram.address);
    }
    if (this.outBytes.length === 0) return;
    if (this.engine.inBatch) this.engine.flushAfterBatch(this);
    else this.flush(true);
  }

  /**
   * One datagram in one call: a small one from the stage, by length; to the host of the
   * previous send without naming it again, so the engine need not decode it.
   */
  private sendOne(bytes: Uint8Array, port: number, address: string): number {
    const binding = this.engine.binding;
    const staged = bytes.length <= STAGED_MAX;
    const length = staged ? stageBytes(bytes) : 0;
    if (this.connected) return staged ? binding.sendDatagramStaged(this.id, length) : binding.sendDatagram(this.id, bytes);
    let result: number;
    if (address === this.sentTo) {
      result = staged ? binding.sendDatagramStaged(this.id, length, port) : binding.sendDatagram(this.id, bytes, port);
    } else {
      result = staged ? binding.sendDatagramStaged(this.id, length, port, address) : binding.sendDatagram(this.id, bytes, port, address);
    }
    // Kept in step with the engine: after any failure, the next send names its host.
    this.sentTo = result >= 0 ? address : undefined;
    return result;
  }

  /** Sends what is queued in one call; `later` reports errors on the next tick. */
  flush(later: boolean, closing = false): void {
    if (this.outBytes.length === 0 || (this.closed && !closing)) return;
    const bytes = this.outBytes;
    const ports = this.outPorts;
    const hosts = this.outHosts;
    this.outBytes = [];
    this.outPorts = [];
    this.outHosts = [];
    const binding = this.engine.binding;
    let result: number;
    if (bytes.length === 1) {
      result = this.sendOne(bytes[0]!, ports[0]!, hosts[0]!);
    } else {
      result = this.connected
        ? binding.sendDatagrams(this.id, bytes, null, null)
        : binding.sendDatagrams(this.id, bytes, ports, hosts);
    }
    if (result >= 0) return;
    const error = new SystemError(result, 'send', hosts[0] || undefined, ports[0] || undefined);
    if (later) process.nextTick(() => this.deliverError(error));
    else this.deliverError(error);
  }

  private async sendResolved(datagram: OutgoingDatagram): Promise<void> {
    try {
      const address = await numericHost(datagram.address);
      this.transmit([{ ...datagram, address }]);
    } catch (error) {
      this.deliverError(error as Error);
    }
  }

  receive(data: Buffer, address: string, port: number, size: number, v6: boolean): void {
    this.lastSender = address;
    this.deliverMessage(data, {
      address,
      port,
      family: v6 ? 'IPv6' : 'IPv4',
      size,
      truncated: size > data.length,
    });
  }

  receiveError(error: Error): void {
    this.deliverError(error);
  }

  protected closeSocket(): void {
    // Datagrams sent earlier in this batch leave before the socket closes.
    this.flush(true, true);
    this.lastStats = this.engine.binding.datagramStats(this.id) ?? this.lastStats;
    this.engine.binding.closeDatagram(this.id);
    this.engine.removeDatagram(this.id);
  }
}

function family(address: string): 'IPv4' | 'IPv6' {
  return isIP(address) === 6 ? 'IPv6' : 'IPv4';
}

export interface NativeUdpListenOptions {
  host: string;
  port: number;
  ipv6Only: boolean;
  reusePort: boolean;
  maxDatagramSize: number;
  handler: BuiltinHandlerName | UdpHandler;
}

export async function listenUdpNative(engine: NativeEngine, options: NativeUdpListenOptions): Promise<UdpServer> {
  const host = await numericHost(options.host);
  const builtin = typeof options.handler === 'string' ? options.handler : null;
  const result = engine.binding.bindDatagram(host, options.port, options.ipv6Only, builtin, options.maxDatagramSize, options.reusePort);
  if ('errno' in result) throw new SystemError(result.errno, result.syscall, host, options.port);
  const handler = typeof options.handler === 'string' ? {} : options.handler;
  const local = { address: result.address, port: result.port, family: family(result.address) };
  const socket = new NativeDatagramSocket(engine, result.id, handler, local, false);
  engine.addDatagram(result.id, socket);
  return new DatagramServer(socket);
}

export interface NativeUdpConnectOptions {
  host: string;
  port: number;
  maxDatagramSize: number;
  handler: UdpHandler;
}

export async function connectUdpNative(engine: NativeEngine, options: NativeUdpConnectOptions): Promise<NativeDatagramSocket> {
  const host = await numericHost(options.host);
  const result = engine.binding.connectDatagram(host, options.port, options.maxDatagramSize);
  if ('errno' in result) throw new SystemError(result.errno, result.syscall, host, options.port);
  const local = { address: result.address, port: result.port, family: family(result.address) };
  const socket = new NativeDatagramSocket(engine, result.id, options.handler, local, true);
  engine.addDatagram(result.id, socket);
  return socket;
}
