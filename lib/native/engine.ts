/**
 * The JavaScript side of the native engine: receives one batch per engine wake-up (an
 * Int32Array of six-field records plus the bytes they point into) and turns it into handler
 * calls. Record layout and codes mirror native/loop.h (EventRecord, EventType, Syscall).
 */
import type { NativeBinding } from '../binding.js';
import { SystemError } from '../errors.js';
import type { TcpHandler } from '../types.js';
import type { NativeConnection } from './tcp.js';
import type { NativeDatagramSocket } from './udp.js';

export const enum EventType {
  Open = 1,
  Data = 2,
  Drain = 3,
  End = 4,
  Close = 5,
  Error = 6,
  ServerIdle = 7,
  Message = 8,
}

const RECORD_FIELDS = 6;
// Names as node:net and node:dgram report them, so both backends' errors read the same.
const syscalls = ['', 'read', 'write', 'connect', 'shutdown', 'recvmsg', 'send'];

/** A server's side of the dispatch: where its connections' objects come from. */
export interface EndpointSink {
  /** Whether the server's handler has this member. */
  listensFor(member: keyof TcpHandler): boolean;
  /** Makes the object of one of the server's connections. */
  accept(id: number): NativeConnection;
  idle(): void;
}

/** A client connection waiting for its connect to finish. */
export interface PendingClient {
  connection: NativeConnection;
  host: string;
  port: number;
  resolve(connection: NativeConnection): void;
  reject(error: Error): void;
}

/**
 * Connection objects by id, in an array indexed by the id's slot bits (the engine's ids are
 * generation << 20 | slot, see ConnectionTable in native/loop.h): 8 bytes per connection
 * where a Map entry takes about 30.
 */
export class ConnectionSlots {
  private readonly slots: Array<NativeConnection | undefined> = [];

  get(id: number): NativeConnection | undefined {
    const connection = this.slots[id & SLOT_MASK];
    return connection?.id === id ? connection : undefined;
  }

  set(id: number, connection: NativeConnection): void {
    this.slots[id & SLOT_MASK] = connection;
  }

  delete(id: number): void {
    if (this.slots[id & SLOT_MASK]?.id === id) this.slots[id & SLOT_MASK] = undefined;
  }
}

const SLOT_MASK = (1 << 20) - 1;

export class NativeEngine {
  readonly binding: NativeBinding;
  readonly connections = new ConnectionSlots();
  readonly endpoints = new Map<number, EndpointSink>();
  readonly pendingClients = new Map<number, PendingClient>();
  readonly datagrams = new Map<number, NativeDatagramSocket>();
  /** True while a batch is being handled: UDP sends wait for its end and leave together. */
  dispatching = false;
  /** Connections destroyed while this batch is handled: its later events for them are void. */
  readonly destroyedInBatch = new Set<number>();
  private toFlush: NativeDatagramSocket[] = [];

  constructor(binding: NativeBinding) {
    this.binding = binding;
    binding.setBatchCallback((records, bytes) => this.onBatch(records, bytes));
  }

  private onBatch(records: Int32Array, bytes: Buffer): void {
    // A throwing handler must not cost the rest of the batch its events: finish the batch,
    // then rethrow the first error as an uncaught exception, as node:net would.
    let failure: { error: unknown } | undefined;
    this.dispatching = true;
    for (let i = 0; i < records.length; i += RECORD_FIELDS) {
      try {
        this.dispatch(records, i, bytes);
      } catch (error) {
        failure ??= { error };
      }
    }
    this.dispatching = false;
    this.destroyedInBatch.clear();
    if (this.toFlush.length > 0) {
      const sockets = this.toFlush;
      this.toFlush = [];
      for (const socket of sockets) {
        socket.flushQueued = false;
        try {
          socket.flush(false);
        } catch (error) {
          failure ??= { error };
        }
      }
    }
    if (failure) {
      // Thrown from a later macrotask: thrown from a tick inside this callback, it would
      // escape through the native callback scope and stop the engine.
      const { error } = failure;
      setImmediate(() => {
        throw error;
      });
    }
  }

  /** Queues a socket's sends for the end of the batch being handled. */
  flushAfterBatch(socket: NativeDatagramSocket): void {
    if (socket.flushQueued) return;
    socket.flushQueued = true;
    this.toFlush.push(socket);
  }

  private dispatch(records: Int32Array, i: number, bytes: Buffer): void {
    const type = records[i]!;
    const id = records[i + 1]!;
    switch (type) {
      case EventType.Message: {
        const socket = this.datagrams.get(id);
        if (!socket) return;
        const offset = records[i + 2]!;
        const start = offset + 1 + bytes[offset]!;
        const address = bytes.toString('latin1', offset + 1, start);
        socket.receive(bytes.subarray(start, start + records[i + 3]!), address, records[i + 4]!, records[i + 5]!);
        return;
      }
      case EventType.Data: {
        const offset = records[i + 2]!;
        this.connection(id, records[i + 5]!, 'data')?.receive(bytes.subarray(offset, offset + records[i + 3]!));
        return;
      }
      case EventType.Open:
        this.open(id, records[i + 5]!);
        return;
      case EventType.Drain:
        this.connections.get(id)?.drained();
        return;
      case EventType.End: {
        // The engine waits for JavaScript to end its side (after the handler's end()).
        const connection = this.connection(id, records[i + 5]!, 'end');
        if (connection) connection.receiveEnd();
        else if (!this.destroyedInBatch.has(id)) this.binding.end(id);
        return;
      }
      case EventType.Error:
        this.fail(id, records[i + 5]!, records[i + 4]!, syscalls[records[i + 3]!] ?? 'unknown');
        return;
      case EventType.Close: {
        const connection = this.connection(id, records[i + 5]!, 'close');
        this.connections.delete(id);
        connection?.receiveClose();
        return;
      }
      case EventType.ServerIdle: {
        const endpoint = this.endpoints.get(id);
        this.endpoints.delete(id);
        endpoint?.idle();
        return;
      }
    }
  }

  /**
   * The connection's object, made at its first event that the handler listens for: a server
   * whose handler has no open() gets no object (and costs no JavaScript memory) for a
   * connection until something happens on it.
   */
  private connection(id: number, endpointId: number, member: keyof TcpHandler): NativeConnection | undefined {
    const known = this.connections.get(id);
    if (known || endpointId === 0 || this.destroyedInBatch.has(id)) return known;
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint || !endpoint.listensFor(member)) return undefined;
    const connection = endpoint.accept(id);
    this.connections.set(id, connection);
    return connection;
  }

  private open(id: number, endpointId: number): void {
    if (endpointId === 0) {
      const pending = this.pendingClients.get(id);
      if (!pending) return;
      this.pendingClients.delete(id);
      this.connections.set(id, pending.connection);
      pending.resolve(pending.connection);
      pending.connection.deliverOpen();
      return;
    }
    this.connection(id, endpointId, 'open')?.deliverOpen();
  }

  private fail(id: number, endpointId: number, errno: number, syscall: string): void {
    const pending = this.pendingClients.get(id);
    if (pending) {
      // A connect that never opened rejects its promise; the handler hears nothing.
      this.pendingClients.delete(id);
      pending.reject(new SystemError(errno, syscall, pending.host, pending.port));
      return;
    }
    const error = new SystemError(errno, syscall);
    const datagram = this.datagrams.get(id);
    if (datagram) datagram.receiveError(error);
    // The close that follows carries the error too, so a handler with close() but no
    // error() still needs the object made now.
    else (this.connection(id, endpointId, 'error') ?? this.connection(id, endpointId, 'close'))?.receiveError(error);
  }
}

let engine: NativeEngine | undefined;

/** The engine of this thread (each worker thread has its own). */
export function nativeEngine(binding: NativeBinding): NativeEngine {
  engine ??= new NativeEngine(binding);
  return engine;
}
