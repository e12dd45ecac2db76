/**
 * Finds and loads the addon: the one place that knows where builds land. It tries, in order,
 * SOCKENGINE_ADDON (an explicit path), then build/Release (node-gyp), then build-cmake/Release
 * (cmake-js), then build/Debug.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What every connection of an endpoint shares, as the engine takes it (ConnectionSettings in native/loop.h). */
export interface EngineConnectionSettings {
  idleTimeout: number;
  maxBufferedBytes: number;
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelay: number;
  highWaterMark: number;
  /** A lib/framing.ts FramingSpec with its kind as native/framing.h numbers it, or null. */
  framing: (Omit<import('./framing.js').FramingSpec, 'kind'> & { kind: number }) | null;
}

/** The addon's exports (native/addon/bindings.cc). */
export interface NativeBinding {
  setBatchCallback(callback: (records: Int32Array, bytes: Buffer) => void): void;
  listen(
    host: string,
    port: number,
    settings: EngineConnectionSettings & {
      backlog: number;
      ipv6Only: boolean;
      reusePort: boolean;
      builtin: string | null;
      deliverOpen: boolean;
      maxConnections: number;
    },
  ): { endpoint: number; address: string; port: number } | { errno: number; syscall: string };
  peerAddress(id: number): [string, number] | null;
  closeListener(endpoint: number): number;
  endpointConnections(endpoint: number): number;
  endpointStats(endpoint: number): import('./types.js').ServerStats | null;
  closeEndpointConnections(endpoint: number): number;
  connect(host: string, port: number, settings: EngineConnectionSettings): number;
  write(id: number, bytes: Uint8Array): number;
  sendFrame(id: number, payload: Uint8Array): number;
  bufferedBytes(id: number): number;
  end(id: number): number;
  destroy(id: number): number;
  pause(id: number): number;
  resume(id: number): number;
  stats(): Record<string, number>;
  bindDatagram(
    host: string,
    port: number,
    ipv6Only: boolean,
    builtin: string | null,
    maxDatagramSize: number,
    reusePort: boolean,
  ): { id: number; address: string; port: number } | { errno: number; syscall: string };
  connectDatagram(
    host: string,
    port: number,
    maxDatagramSize: number,
  ): { id: number; address: string; port: number } | { errno: number; syscall: string };
  sendDatagrams(id: number, datagrams: Uint8Array[], ports: number[] | null, hosts: string[] | null): number;
  sendDatagram(id: number, datagram: Uint8Array, port?: number, host?: string): number;
  closeDatagram(id: number): number;
  datagramStats(id: number): import('./types.js').DatagramStats | null;
  disableBatchedDatagrams(): void;
  /** Built-in servers on loop threads of their own (native/addon/workers.cc). */
  listenThreads(
    host: string,
    port: number,
    settings:
      | (EngineConnectionSettings & { datagram: false; builtin: string; backlog: number; ipv6Only: boolean; maxConnections: number })
      | { datagram: true; builtin: string; ipv6Only: boolean; maxDatagramSize: number },
    count: number,
    onExit: (group: number) => void,
  ): { group: number; address: string; port: number } | { errno: number; syscall: string };
  loopThreadStats(group: number): LoopThreadStats[] | null;
  closeLoopThreads(group: number): void;
  closeLoopThreadConnections(group: number): void;
  releaseLoopThreads(group: number): boolean;
}

/** One loop thread's counters (LoopThreadStats in native/threads.h). */
export interface LoopThreadStats {
  accepted: number;
  rejected: number;
  timedOut: number;
  framesTooLong: number;
  connections: number;
  bytesRead: number;
  bytesWritten: number;
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  truncated: number;
  sendErrors: number;
  running: boolean;
  /** The -errno the thread's poller failed with, 0 if none. */
  error: number;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function candidates(): string[] {
  const list = [
    join(packageRoot, 'build', 'Release', 'sockengine.node'),
    join(packageRoot, 'build-cmake', 'Release', 'sockengine.node'),
    join(packageRoot, 'build', 'Debug', 'sockengine.node'),
  ];
  const override = process.env.SOCKENGINE_ADDON;
  return override ? [override] : list;
}

let loaded: { binding: NativeBinding } | { error: string } | undefined;

/** The addon, or the reason it could not be loaded. Loads once per thread. */
export function loadBinding(): { binding: NativeBinding } | { error: string } {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const path of candidates()) {
    if (!existsSync(path)) {
      tried.push(`${path} (missing)`);
      continue;
    }
    try {
      loaded = { binding: require(path) as NativeBinding };
      return loaded;
    } catch (error) {
      tried.push(`${path} (${(error as Error).message})`);
    }
  }
  loaded = { error: `no loadable build: ${tried.join('; ')}` };
  return loaded;
}
