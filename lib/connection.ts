/**
 * What both backends share about a connection: the user's state slot, the peer's address and
 * the rules for calling the handler (open first, close exactly once and last, drain only
 * after write() said false, nothing after destroy() but the close it promises).
 */
import type { Connection, TcpHandler } from './types.js';

export abstract class BaseConnection<State = unknown> implements Connection<State> {
  state = undefined as State;
  protected readonly handler: TcpHandler<State>;
  protected readonly highWaterMark: number;
  /** write() returned false: the next drain goes to the handler. */
  protected needDrain = false;
  /** end() was called: writes are refused from now on. */
  protected ending = false;
  /** destroy() was called: only the promised close() is still delivered. */
  protected destroyRequested = false;
  private closeDelivered = false;

  constructor(handler: TcpHandler<State>, highWaterMark: number) {
    this.handler = handler;
    this.highWaterMark = highWaterMark;
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
