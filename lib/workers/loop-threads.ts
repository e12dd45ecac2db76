/**
 * A built-in handler on N native loop threads (native/threads.h): the addon binds N
 * SO_REUSEPORT listeners (or UDP sockets) on one address and serves each on a thread of its
 * own. JavaScript only starts them, sums their counters and stops them; it hears from them
 * once per thread, when the thread exits.
 */
import { isIP } from 'node:net';
import type { LoopThreadStats, NativeBinding } from '../binding.js';
import { numericHost } from '../dns.js';
import { SystemError, WorkerError } from '../errors.js';
import { engineSettings, type ConnectionSettings } from '../native/tcp.js';
import type {
  BoundAddress,
  BuiltinHandlerName,
  CloseOptions,
  DatagramStats,
  Server,
  ServerStats,
  UdpServer,
  WorkerOptions,
} from '../types.js';
import { checkCloseOptions } from '../validate.js';
import { reportWorkerError, sumDatagramStats, sumServerStats } from './report.js';

export interface LoopThreadsTcpOptions extends ConnectionSettings {
  host: string;
  port: number;
  backlog: number;
  ipv6Only: boolean;
  maxConnections: number;
  /** PROXY protocol header deadline in ms; 0: none expected. */
  proxyTimeout: number;
  builtin: BuiltinHandlerName;
  workers: number;
  onWorkerError: WorkerOptions['onWorkerError'];
  /** SO_REUSEPORT with a single thread too (more than one always has it). */
  reusePort?: boolean;
  /** A built-in server on its own loop thread without `workers` (the default): no per-worker stats. */
  single?: boolean;
}

export interface LoopThreadsUdpOptions {
  host: string;
  port: number;
  ipv6Only: boolean;
  maxDatagramSize: number;
  builtin: BuiltinHandlerName;
  workers: number;
  onWorkerError: WorkerOptions['onWorkerError'];
  reusePort?: boolean;
  single?: boolean;
}

function tcpStats(thread: LoopThreadStats): ServerStats {
  return {
    connections: thread.connections,
    accepted: thread.accepted,
    rejected: thread.rejected,
    timedOut: thread.timedOut,
    framesTooLong: thread.framesTooLong,
    proxyRejected: thread.proxyRejected,
    closedWithError: thread.closedWithError,
    bytesIn: thread.bytesRead,
    bytesOut: thread.bytesWritten,
  };
}

function udpStats(thread: LoopThreadStats): DatagramStats {
  return {
    datagramsIn: thread.datagramsIn,
    bytesIn: thread.bytesIn,
    datagramsOut: thread.datagramsOut,
    bytesOut: thread.bytesOut,
    truncated: thread.truncated,
    sendErrors: thread.sendErrors,
  };
}

/** The threads of one server: their counters, their failures, and their end. */
class ThreadGroup {
  private group = 0;
  private last: LoopThreadStats[] = [];
  private readonly reported = new Set<number>();
  private closing = false;
  private released = false;
  private onReleased: (() => void) | undefined;
  private deadline: NodeJS.Timeout | undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly binding: NativeBinding,
    private readonly onWorkerError: WorkerOptions['onWorkerError'],
  ) {
    this.done = new Promise((resolve) => {
      this.onReleased = resolve;
    });
  }

  start(group: number): void {
    this.group = group;
    this.last = this.binding.loopThreadStats(group) ?? [];
  }

  threads(): LoopThreadStats[] {
    if (!this.released) this.last = this.binding.loopThreadStats(this.group) ?? this.last;
    return this.last;
  }

  /** A thread exited: report it if nobody asked it to, and free the group once all have. */
  exited(): void {
    const threads = this.threads();
    threads.forEach((thread, index) => {
      if (thread.running || this.reported.has(index)) return;
      if (thread.error === 0 && this.closing) return;
      this.reported.add(index);
      const cause =
        thread.error !== 0 ? new SystemError(thread.error, 'epoll_wait') : new Error('its loop thread stopped unasked');
      reportWorkerError(new WorkerError(index, cause), this.onWorkerError);
    });
    if (this.binding.releaseLoopThreads(this.group)) {
      this.released = true;
      clearTimeout(this.deadline);
      this.onReleased?.();
    }
  }

  close(timeout: number | undefined): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.binding.closeLoopThreads(this.group);
      if (timeout !== undefined) {
        this.deadline = setTimeout(() => this.binding.closeLoopThreadConnections(this.group), timeout);
      }
    }
    return this.done;
  }
}

function boundAddress(result: { address: string; port: number }): BoundAddress {
  return { address: result.address, port: result.port, family: isIP(result.address) === 6 ? 'IPv6' : 'IPv4' };
}

async function start(
  binding: NativeBinding,
  host: string,
  port: number,
  settings: Parameters<NativeBinding['listenThreads']>[2],
  workers: number,
  onWorkerError: WorkerOptions['onWorkerError'],
): Promise<{ group: ThreadGroup; bound: BoundAddress }> {
  const numeric = await numericHost(host);
  const group = new ThreadGroup(binding, onWorkerError);
  const result = binding.listenThreads(numeric, port, settings, workers, () => group.exited());
  if ('errno' in result) throw new SystemError(result.errno, result.syscall, numeric, port);
  group.start(result.group);
  return { group, bound: boundAddress(result) };
}

class LoopThreadsServer implements Server {
  readonly backend = 'native' as const;
  readonly transport = 'tcp' as const;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly group: ThreadGroup,
    private readonly bound: BoundAddress,
    private readonly single: boolean,
  ) {}

  address(): BoundAddress {
    return { ...this.bound };
  }

  get connections(): number {
    return this.stats().connections;
  }

  stats(): ServerStats {
    const threads = this.group.threads().map(tcpStats);
    if (!this.single) return sumServerStats(threads);
    const { workers: _, ...total } = sumServerStats(threads);
    return total;
  }

  close(options?: CloseOptions): Promise<void> {
    const { timeout } = checkCloseOptions(options);
    this.closing ??= this.group.close(timeout);
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

class LoopThreadsUdpServer implements UdpServer {
  readonly backend = 'native' as const;
  readonly transport = 'udp' as const;

  constructor(
    private readonly group: ThreadGroup,
    private readonly bound: BoundAddress,
    private readonly single: boolean,
  ) {}

  address(): BoundAddress {
    return { ...this.bound };
  }

  stats(): DatagramStats {
    const threads = this.group.threads().map(udpStats);
    if (!this.single) return sumDatagramStats(threads);
    const { workers: _, ...total } = sumDatagramStats(threads);
    return total;
  }

  close(): Promise<void> {
    return this.group.close(undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export async function listenLoopThreads(binding: NativeBinding, options: LoopThreadsTcpOptions): Promise<Server> {
  const settings = {
    ...engineSettings(options),
    datagram: false as const,
    builtin: options.builtin,
    backlog: options.backlog,
    ipv6Only: options.ipv6Only,
    maxConnections: options.maxConnections,
    proxyTimeout: options.proxyTimeout,
    reusePort: options.reusePort === true,
  };
  const { group, bound } = await start(binding, options.host, options.port, settings, options.workers, options.onWorkerError);
  return new LoopThreadsServer(group, bound, options.single === true);
}

export async function listenUdpLoopThreads(binding: NativeBinding, options: LoopThreadsUdpOptions): Promise<UdpServer> {
  const settings = {
    datagram: true as const,
    builtin: options.builtin,
    ipv6Only: options.ipv6Only,
    maxDatagramSize: options.maxDatagramSize,
    reusePort: options.reusePort === true,
  };
  const { group, bound } = await start(binding, options.host, options.port, settings, options.workers, options.onWorkerError);
  return new LoopThreadsUdpServer(group, bound, options.single === true);
}
