/**
 * The bounded run queue: at most `concurrency` runs at once and `limit` waiting. It never
 * refuses an item (the caller decides what "full" means for its transport: TCP pauses the
 * connection that fed it, UDP drops before pushing); it only says when it is full and when
 * there is room again.
 */
export class RunQueue<T> {
  private readonly waiting: T[] = [];
  private head = 0;
  private active = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly limit: number,
    private readonly execute: (item: T) => Promise<void>,
    /** Called when an item leaves the queue and it is no longer full. */
    private readonly onRoom: () => void,
  ) {}

  /** Items waiting for a slot. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  /** Items running now. */
  get running(): number {
    return this.active;
  }

  /** True when `limit` items wait. */
  get full(): boolean {
    return this.queued >= this.limit;
  }

  /** Adds an item; it starts at once when a slot is free. */
  push(item: T): void {
    this.waiting.push(item);
    this.startNext();
  }

  /** Removes and returns every waiting item (they will not run). */
  takeWaiting(): T[] {
    const items = this.waiting.slice(this.head);
    this.waiting.length = 0;
    this.head = 0;
    this.settleIdle();
    return items;
  }

  /** Resolves once nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (this.queued === 0 && this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private startNext(): void {
    while (this.active < this.concurrency && this.queued > 0) {
      const item = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined as T;
      // Compact now and then so a long-lived queue does not keep a growing array.
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      this.active++;
      if (this.queued < this.limit) this.onRoom();
      this.execute(item).finally(() => {
        this.active--;
        this.startNext();
        this.settleIdle();
      });
    }
  }

  private settleIdle(): void {
    if (this.queued === 0 && this.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
