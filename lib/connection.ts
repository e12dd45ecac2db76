/**
 * What both backends share about a connection: the user's state slot, the peer's address and
 * the rules for calling the handler (open first, close exactly once and last, drain only
 * after write() said false, nothing after destroy() but the close it promises), and what
 * happens when a handler member throws:
 *
 *   the connection's error(conn, err) runs, if the handler has one (else the exception is
 *   reported as uncaught, as node:net's would be); then the connection is destroyed and
 *   close(conn, err) follows. A throw from error() or close() is reported as uncaught. Either
 *   way it costs this connection only: the server and its other connections go on.
 */
import { HandlerError, reportUncaught } from './errors.js';
import { frameParts, type FramingSpec } from './framing.js';
import { toBytes } from './validate.js';
import type { Connection, ConnectionError, TcpHandler } from './types.js';

/** What every connection of one server (or one client) shares: one object, not a copy each. */
export interface ConnectionContext<State = unknown> {
  readonly handler: TcpHandler<State>;
  readonly highWaterMark: number;
  /** After the peer's end, keep our side open until end() (node:net's allowHalfOpen). */
  readonly allowHalfOpen: boolean;
  /** Milliseconds without traffic before the connection is closed; 0: never. */
  readonly idleTimeout: number;
  /** Bytes a write may leave queued before the connection fails; 0: no limit. */
  readonly maxBufferedBytes: number;
  /** How the stream is cut into frames; null: raw chunks. */
  readonly framing: FramingSpec | null;
}

// Bits of BaseConnection.flags; subclasses use the bits from Flag.FirstFree up.
export const enum Flag {
  NeedDrain = 1 << 0,
  Ending = 1 << 1,
  DestroyRequested = 1 << 2,
  CloseDelivered = 1 << 3,
  FirstFree = 1 << 4,
}

/**
 * The fields are few on purpose: an idle server keeps one of these per connection, and each
 * field costs 8 bytes. Booleans share one integer and the per-server values one context.
 */
export abstract class BaseConnection<State = unknown> implements Connection<State> {
  state = undefined as State;
  protected readonly context: ConnectionContext<State>;
  protected flags = 0;

  constructor(context: ConnectionContext<State>) {
    this.context = context;
  }

  protected get handler(): TcpHandler<State> {
    return this.context.handler;
  }

  protected get highWaterMark(): number {
    return this.context.highWaterMark;
  }

  protected has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  protected mark(flag: number, on: boolean): void {
    this.flags = on ? this.flags | flag : this.flags & ~flag;
  }

  /** write() returned false: the next drain goes to the handler. */
  protected get needDrain(): boolean {
    return this.has(Flag.NeedDrain);
  }
  protected set needDrain(on: boolean) {
    this.mark(Flag.NeedDrain, on);
  }

  /** end() was called: writes are refused from now on. */
  protected get ending(): boolean {
    return this.has(Flag.Ending);
  }
  protected set ending(on: boolean) {
    this.mark(Flag.Ending, on);
  }

  /** destroy() was called: only the promised close() is still delivered. */
  protected get destroyRequested(): boolean {
    return this.has(Flag.DestroyRequested);
  }
  protected set destroyRequested(on: boolean) {
    this.mark(Flag.DestroyRequested, on);
  }

  private get closeDelivered(): boolean {
    return this.has(Flag.CloseDelivered);
  }
  private set closeDelivered(on: boolean) {
    this.mark(Flag.CloseDelivered, on);
  }

  get closed(): boolean {
    return this.closeDelivered || this.destroyRequested;
  }

  abstract get remoteAddress(): string;
  abstract get remotePort(): number;
  abstract get localAddress(): string;
  abstract get localPort(): number;
  abstract get bufferedBytes(): number;
  abstract write(data: Uint8Array | string): boolean;
  abstract end(): void;
  abstract pause(): void;
  abstract resume(): void;
  /** Closes at once, dropping queued bytes; close(conn, error) follows. */
  protected abstract abort(error?: Error): void;

  destroy(): void {
    this.abort();
  }

  send(payload: Uint8Array | string): boolean {
    const framing = this.context.framing;
    if (framing === null) {
      throw new TypeError('send() writes one frame and needs the framing option on listen() or connect(); use write() for raw bytes');
    }
    const bytes = toBytes(payload);
    const { header, trailer } = frameParts(framing, bytes, this.wantsFrameHeaders);
    if (this.closed || this.ending) return false;
    return this.writeFrame(header, bytes, trailer);
  }

  /** Whether writeFrame() needs a length frame's header made for it (false: it encodes its own). */
  protected get wantsFrameHeaders(): boolean {
    return true;
  }

  /** Writes one frame's parts as one write (write()'s result and rules). */
  protected abstract writeFrame(header: Buffer | null, payload: Uint8Array, trailer: Buffer | null): boolean;

  deliverOpen(): void {
    const open = this.handler.open;
    if (this.closed || open === undefined) return;
    try {
      open.call(this.handler, this);
    } catch (error) {
      this.handlerThrew('open', error);
    }
  }

  deliverData(chunk: Buffer): void {
    const data = this.handler.data;
    if (this.closed || data === undefined) return;
    try {
      data.call(this.handler, this, chunk);
    } catch (error) {
      this.handlerThrew('data', error);
    }
  }

  deliverDrain(): void {
    if (this.closed || !this.needDrain) return;
    this.needDrain = false;
    const drain = this.handler.drain;
    if (drain === undefined) return;
    try {
      drain.call(this.handler, this);
    } catch (error) {
      this.handlerThrew('drain', error);
    }
  }

  deliverEnd(): void {
    const end = this.handler.end;
    if (this.closed || end === undefined) return;
    try {
      end.call(this.handler, this);
    } catch (error) {
      this.handlerThrew('end', error);
    }
  }

  /**
   * The peer is done: the handler hears end(), may write a last reply, then our side ends
   * (node:net's default) unless allowHalfOpen keeps it open until the handler calls end().
   */
  protected endedByPeer(): void {
    this.deliverEnd();
    if (!this.context.allowHalfOpen) this.end();
  }

  /** Every failure reaching here is a SockengineError (fromNodeError, errorFromRecord, HandlerError). */
  deliverError(error: Error): void {
    const onError = this.handler.error;
    if (this.closed || onError === undefined) return;
    try {
      onError.call(this.handler, this, error as ConnectionError);
    } catch (thrown) {
      // The connection is failing already; its close follows.
      reportUncaught(thrown);
    }
  }

  deliverClose(error?: Error): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    const close = this.handler.close;
    if (close === undefined) return;
    try {
      close.call(this.handler, this, error as ConnectionError | undefined);
    } catch (thrown) {
      reportUncaught(thrown);
    }
  }

  /** A handler member threw: the failure policy at the top of this file. */
  protected handlerThrew(member: string, thrown: unknown): void {
    // Already destroyed (the member called destroy() and then threw): nothing left to cost.
    if (this.closed) return reportUncaught(thrown);
    const error = new HandlerError(member, thrown);
    const onError = this.handler.error;
    if (onError === undefined) {
      reportUncaught(thrown);
    } else {
      try {
        onError.call(this.handler, this, error);
      } catch (again) {
        reportUncaught(again);
      }
    }
    this.abort(error);
  }
}
