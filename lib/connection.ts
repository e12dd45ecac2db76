/**
 * What both backends share about a connection: the user's state slot, the peer's address and
 * the rules for calling the handler (open first, close exactly once and last, drain only
 * after write() said false, nothing after destroy() but the close it promises).
 */
import type { Connection, TcpHandler } from './types.js';

/** What every connection of one server (or one client) shares: one object, not a copy each. */
export interface ConnectionContext<State = unknown> {
  readonly handler: TcpHandler<State>;
  readonly highWaterMark: number;
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
  abstract get bufferedBytes(): number;
  abstract write(data: Uint8Array | string): boolean;
  abstract end(): void;
  abstract destroy(): void;
  abstract pause(): void;
  abstract resume(): void;

  deliverOpen(): void {
    if (this.closed) return;
    this.handler.open?.(this);
  }

  deliverData(chunk: Buffer): void {
    if (this.closed) return;
    this.handler.data?.(this, chunk);
  }

  deliverDrain(): void {
    if (this.closed || !this.needDrain) return;
    this.needDrain = false;
    this.handler.drain?.(this);
  }

  deliverEnd(): void {
    if (this.closed) return;
    this.handler.end?.(this);
  }

  /**
   * The peer is done: the handler hears end(), may write a last reply, then our side ends
   * (node:net's default, allowHalfOpen false), even if end() threw: a half-open connection
   * would never close.
   */
  protected endedByPeer(): void {
    try {
      this.deliverEnd();
    } finally {
      this.end();
    }
  }

  deliverError(error: Error): void {
    if (this.closed) return;
    this.handler.error?.(this, error);
  }

  deliverClose(error?: Error): void {
    if (this.closeDelivered) return;
    this.closeDelivered = true;
    this.handler.close?.(this, error);
  }
}
