/**
 * The JavaScript side of the native engine: receives one batch per engine wake-up (records
 * plus the bytes they point into, see ./events.ts) and turns it into handler calls.
 *
 * The engine owns the lifetimes of what the batch names, and the owners (servers, client
 * connections, UDP sockets) reach it only through the methods below:
 * - a connection's object is made at its first event the handler listens for, and
 *   forgotten at its close or its destroy();
 * - a server's entry lives until the end of the batch in which it became idle or closed,
 *   so later records of that same batch (the close of its last connections) still find it.
 */
import { Buffer } from 'node:buffer';
import { CLOSED_NOW, type NativeBinding } from '../binding.js';
import { debugEnabled, debugLog } from '../debug.js';
import {
  BufferFullError,
  FrameLengthError,
  FrameTooLongError,
  IdleTimeoutError,
  reportUncaught,
  SystemError,
} from '../errors.js';
import type { FramingSpec } from '../framing.js';
import type { TcpHandler } from '../types.js';
import { EngineError, EventType, Field, MessageAddress, RECORD_FIELDS, syscallNames, wireFormat } from './events.js';
import { stage } from './stage.js';
import type { NativeConnection } from './tcp.js';
import type { NativeDatagramSocket } from './udp.js';

/** What the engine needs from a server to dispatch its connections' events. */
export interface EndpointSink {
  /** Whether the server's handler has this member. */
  listensFor(member: keyof TcpHandler): boolean;
  /** Makes the object of one of the server's connections. */
  accept(id: number): NativeConnection;
  /** The listener is closed and the last connection is gone. */
  idle(): void;
}

/** A client connection waiting for its connect to finish. */
export interface PendingClient {
  connection: NativeConnection;
  host: string;
  /** Undefined for a Unix-domain path. */
  port: number | undefined;
  resolve(connection: NativeConnection): void;
  reject(error: Error): void;
}

/** The limits an error record may refer to (a connection's settings). */
export interface FailureContext {
  readonly idleTimeout: number;
  readonly maxBufferedBytes: number;
  readonly framing: FramingSpec | null;
}

/** Framing failures: the engine stops reading and JavaScript destroys the connection. */
export function isFramingFailure(code: number): boolean {
  return code === EngineError.FrameTooLong || code === EngineError.BadFrameLength;
}

/** The Error for an error record's code and syscall. */
export function errorFromRecord(code: number, syscall: number, context: FailureContext): Error {
  if (code === EngineError.IdleTimeout) return new IdleTimeoutError(context.idleTimeout);
  if (code === EngineError.BufferFull) return new BufferFullError(context.maxBufferedBytes);
  if (code === EngineError.FrameTooLong) return new FrameTooLongError(context.framing?.maxFrame ?? 0);
  if (code === EngineError.BadFrameLength) return new FrameLengthError();
  return new SystemError(code, syscallNames[syscall] ?? 'unknown');
}

/**
 * Connection objects by id, in an array indexed by the id's slot bits (the engine's ids are
 * generation << 20 | slot, see ConnectionTable in native/loop.h): 8 bytes per connection
 * where a Map entry takes about 30.
 */
class ConnectionSlots {
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
  private readonly connections = new ConnectionSlots();
  private readonly endpoints = new Map<number, EndpointSink>();
  private readonly pendingClients = new Map<number, PendingClient>();
  private readonly datagrams = new Map<number, NativeDatagramSocket>();
  private dispatching = false;
  /** The batch being handled has more than one record. */
  private gathering = false;
  /** Connections destroyed while this batch is handled: its later events for them are void. */
  private readonly destroyedInBatch = new Set<number>();
  /** Endpoints to remove once the batch being handled is done. */
  private endedEndpoints: number[] = [];
  private toFlush: NativeDatagramSocket[] = [];
  /** Connections closed by end() while this batch is handled: their close comes after it. */
  private closedInBatch: NativeConnection[] = [];

  constructor(binding: NativeBinding) {
    this.binding = binding;
    binding.setStage(stage);
    binding.setBatchCallback((records, bytes, count, chunks) => this.onBatch(records, bytes, count, chunks));
  }

  /**
   * True while a batch of several events is being handled: UDP sends wait for its end and
   * leave together. A batch of one sends at once (nothing to gather them with; the engine
   * does not cork it either).
   */
  get inBatch(): boolean {
    return this.dispatching && this.gathering;
  }

  addEndpoint(id: number, sink: EndpointSink): void {
    this.endpoints.set(id, sink);
  }

  /** Removes a server's entry, after the batch being handled if there is one. */
  removeEndpoint(id: number): void {
    if (this.dispatching) this.endedEndpoints.push(id);
    else this.endpoints.delete(id);
  }

  addPendingClient(id: number, pending: PendingClient): void {
    this.pendingClients.set(id, pending);
  }

  /**
   * JavaScript ended a connection whose peer had ended, with nothing queued, and the engine
   * closed it then (binding.end answered CLOSED_NOW): no close record follows, so its close
   * is delivered here, after the rest of the batch being handled.
   */
  closedByEnd(connection: NativeConnection): void {
    if (debugEnabled) logClosedByEnd(connection.id);
    if (this.dispatching) this.closedInBatch.push(connection);
    else process.nextTick(deliverClosedByEnd, this.connections, connection);
  }

  /** A connection was destroyed: nothing more is delivered to it, and its id is free. */
  forget(id: number): void {
    this.connections.delete(id);
    this.pendingClients.delete(id);
    if (this.dispatching) this.destroyedInBatch.add(id);
  }

  addDatagram(id: number, socket: NativeDatagramSocket): void {
    this.datagrams.set(id, socket);
  }

  removeDatagram(id: number): void {
    this.datagrams.delete(id);
  }

  /** Queues a socket's sends for the end of the batch being handled. */
  flushAfterBatch(socket: NativeDatagramSocket): void {
    if (socket.flushQueued) return;
    socket.flushQueued = true;
    this.toFlush.push(socket);
  }

  private onBatch(records: Int32Array, bytes: Buffer, count: number, chunks: Buffer[] | undefined): void {
    viewBatchBytes(bytes);
    this.dispatching = true;
    this.gathering = count > RECORD_FIELDS;
    // Handlers' own exceptions are caught where they are called (the connection's failure
    // policy); whatever else throws costs its record only, never the rest of the batch.
    for (let i = 0; i < count; i += RECORD_FIELDS) {
      try {
        this.dispatch(records, i, bytes, chunks);
      } catch (error) {
        reportUncaught(error);
      }
    }
    this.dispatching = false;
    if (this.closedInBatch.length > 0) {
      const closed = this.closedInBatch;
      this.closedInBatch = [];
      for (const connection of closed) {
        try {
          deliverClosedByEnd(this.connections, connection);
        } catch (error) {
          reportUncaught(error);
        }
      }
    }
    // Set.clear() allocates a new table even when the set is empty: skip it then.
    if (this.destroyedInBatch.size > 0) this.destroyedInBatch.clear();
    if (this.endedEndpoints.length > 0) {
      for (const id of this.endedEndpoints) this.endpoints.delete(id);
      this.endedEndpoints = [];
    }
    if (this.toFlush.length > 0) {
      const sockets = this.toFlush;
      this.toFlush = [];
      for (const socket of sockets) {
        socket.flushQueued = false;
        try {
          socket.flush(false);
        } catch (error) {
          reportUncaught(error);
        }
      }
    }
  }

  private dispatch(records: Int32Array, i: number, bytes: Buffer, chunks: Buffer[] | undefined): void {
    const id = records[i + Field.Id]!;
    const endpoint = records[i + Field.Endpoint]!;
    if (debugEnabled) logRecord(records, i);
    switch (records[i + Field.Type]) {
      case EventType.Data: {
        const offset = records[i + Field.Offset]!;
        // A large read or frame arrives in a Buffer of its own (Engine::handOverChunks).
        const chunk = offset < 0 ? chunks![-offset - 1]! : ownBytes(offset, records[i + Field.Length]!);
        this.connection(id, endpoint, 'data')?.receive(chunk);
        return;
      }
      case EventType.Message: {
        const socket = this.datagrams.get(id);
        if (!socket) return;
        const offset = records[i + Field.Offset]!;
        const lengthByte = bytes[offset]!;
        const textLength = lengthByte & ~MessageAddress.IPv6;
        // The sender of the socket's previous datagram again: its address, already decoded.
        let start = offset + 1;
        let address = socket.lastSender;
        if (textLength !== MessageAddress.SameSender) {
          start += textLength;
          address = bytes.toString('latin1', offset + 1, start);
        }
        const length = records[i + Field.Length]!;
        const payload = ownBytes(start, length);
        const v6 = (lengthByte & MessageAddress.IPv6) !== 0;
        socket.receive(payload, address, records[i + Field.Code]!, records[i + Field.Detail]!, v6);
        return;
      }
      case EventType.Open:
        this.open(id, endpoint);
        return;
      case EventType.Drain:
        this.connections.get(id)?.drained();
        return;
      case EventType.End: {
        // The engine waits for JavaScript to end its side (after the handler's end()).
        const connection = this.connection(id, endpoint, 'end');
        if (connection) connection.receiveEnd();
        else if (!this.destroyedInBatch.has(id) && this.binding.end(id) === CLOSED_NOW) {
          // No close record follows: a handler with close() but no end() hears it now.
          if (debugEnabled) logClosedByEnd(id);
          const closing = this.connection(id, endpoint, 'close');
          this.connections.delete(id);
          closing?.receiveClose();
        }
        return;
      }
      case EventType.Error:
        this.fail(id, endpoint, records[i + Field.Code]!, records[i + Field.Detail]!);
        return;
      case EventType.Close: {
        const connection = this.connection(id, endpoint, 'close');
        this.connections.delete(id);
        connection?.receiveClose();
        return;
      }
      case EventType.ServerIdle: {
        this.endpoints.get(id)?.idle();
        this.removeEndpoint(id);
        return;
      }
      case EventType.DatagramError: {
        const error = new SystemError(records[i + Field.Code]!, syscallNames[records[i + Field.Detail]!] ?? 'unknown');
        this.datagrams.get(id)?.receiveError(error);
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

  private fail(id: number, endpointId: number, code: number, syscall: number): void {
    const pending = this.pendingClients.get(id);
    if (pending) {
      // A connect that never opened rejects its promise; the handler hears nothing.
      this.pendingClients.delete(id);
      pending.reject(new SystemError(code, syscallNames[syscall] || 'connect', pending.host, pending.port));
      return;
    }
    // The close that follows carries the error too, so a handler with close() but no
    // error() still needs the object made now.
    const connection = this.connection(id, endpointId, 'error') ?? this.connection(id, endpointId, 'close');
    if (connection) connection.receiveFailure(code, syscall);
    // A framing failure leaves the closing to JavaScript (see EngineError in events.h).
    else if (isFramingFailure(code) && !this.destroyedInBatch.has(id)) this.binding.destroy(id);
  }
}

/** SOCKENGINE_DEBUG: one line per engine decision a record reports (data records are not logged). */
function logRecord(records: Int32Array, i: number): void {
  const id = records[i + Field.Id]!;
  const endpoint = records[i + Field.Endpoint]!;
  const who = endpoint === 0 ? `client connection ${id}` : `connection ${id} of server ${endpoint}`;
  const code = records[i + Field.Code]!;
  switch (records[i + Field.Type]) {
    case EventType.Open:
      debugLog(endpoint === 0 ? `native: ${who} connected` : `native: accepted ${who}`);
      return;
    case EventType.Drain:
      debugLog(`native: ${who} write queue drained, back pressure off`);
      return;
    case EventType.End:
      debugLog(`native: ${who} peer ended its side`);
      return;
    case EventType.Error:
      debugLog(`native: ${who} failed: ${engineErrorName(code)} in ${syscallNames[records[i + Field.Detail]!] ?? 'unknown'}`);
      return;
    case EventType.Close:
      debugLog(`native: ${who} closed${code !== 0 ? ` with ${engineErrorName(code)}` : ''}`);
      return;
    case EventType.ServerIdle:
      debugLog(`native: server ${id} closed and idle`);
      return;
    case EventType.DatagramError:
      debugLog(`native: udp socket ${id} error ${engineErrorName(code)}`);
      return;
  }
}

function engineErrorName(code: number): string {
  const named = Object.entries(wireFormat.EngineError).find(([, value]) => value === code);
  if (named) return named[0];
  return code === 0 ? 'no error' : new SystemError(code, 'debug').code;
}

// The chunk's copy. In optimized code Buffer.prototype.copy cost three generic property
// lookups (LoadIC calls) and a view per call, and `copy.set(view.subarray())` still two:
// a typed array's methods are reached here only through a lookup. So: a plain Uint8Array
// over the batch's Buffer, made again only when the engine hands over another Buffer, and
// the typed array functions called directly (docs/design.md section 15, "Reaching the addon
// and Buffer without a lookup").
const setBytes = Uint8Array.prototype.set;
const subarray = Uint8Array.prototype.subarray;
let batchBytes: Buffer | undefined;
let batchView: Uint8Array = new Uint8Array(0);

/** Points the chunks' copies at this batch's bytes (and lets a Buffer the engine replaced go). */
function viewBatchBytes(bytes: Buffer): void {
  if (bytes === batchBytes) return;
  batchBytes = bytes;
  batchView = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A record's bytes as a Buffer of their own. The batch's bytes arrive in one Buffer that
 * the engine fills again for the next batch (Engine::handOverBytes), so every chunk is a
 * copy, in memory of its own as node:net's chunks are (docs/design.md, "Chunk lifetime"):
 * `Buffer.allocUnsafeSlow`, never the shared 8 KiB pool, which a kept chunk would pin.
 */
function ownBytes(offset: number, length: number): Buffer {
  const copy = Buffer.allocUnsafeSlow(length);
  setBytes.call(copy, subarray.call(batchView, offset, offset + length));
  return copy;
}

function logClosedByEnd(id: number): void {
  debugLog(`native: connection ${id} closed (both sides ended, nothing left to send)`);
}

function deliverClosedByEnd(connections: ConnectionSlots, connection: NativeConnection): void {
  if (connections.get(connection.id) === connection) connections.delete(connection.id);
  connection.receiveCloseAfterEnd();
}

let engine: NativeEngine | undefined;

/** The engine of this thread (each worker thread has its own). */
export function nativeEngine(binding: NativeBinding): NativeEngine {
  engine ??= new NativeEngine(binding);
  return engine;
}
