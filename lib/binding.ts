/**
 * Finds and loads the addon: the one place that knows where builds land (loadBinding() gives
 * the order). The package ships a prebuilt binary for linux-x64 (glibc) in prebuilds/, made by
 * scripts/prebuild.js with prebuildify; node-gyp-build picks it, so installing needs no
 * compiler and no install script.
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
  /** A Unix-domain socket's path bytes (an abstract name starts with 0); host and port are then unused. */
  path?: Uint8Array;
}

/** binding.end(): the connection closed at once (native/loop.h Loop::kClosedNow). */
export const CLOSED_NOW = 1;

/** The addon's exports (native/addon/bindings.cc). */
export interface NativeBinding {
  /**
   * `records` is reused from batch to batch: only its first `count` fields are this batch's.
   * A data record with a negative offset -(i + 1) is `chunks[i]`, a large read in memory of
   * its own; the others point into `bytes`.
   */
  setBatchCallback(callback: (records: Int32Array, bytes: Buffer, count: number, chunks: Buffer[] | undefined) => void): void;
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
      /** PROXY protocol: ms a connection has to send its header; 0: none expected. */
      proxyTimeout: number;
      /** A Unix-domain socket file's permission bits. */
      permissions?: number | undefined;
    },
  ): { endpoint: number; address: string; port: number } | { errno: number; syscall: string };
  /** The peer's address, or with `local` our own side's. */
  peerAddress(id: number, local?: boolean): [string, number] | null;
  closeListener(endpoint: number): number;
  endpointConnections(endpoint: number): number;
  endpointStats(endpoint: number): import('./types.js').ServerStats | null;
  closeEndpointConnections(endpoint: number): number;
  connect(host: string, port: number, settings: EngineConnectionSettings): number;
  write(id: number, bytes: Uint8Array): number;
  sendFrame(id: number, payload: Uint8Array): number;
  /** The stage (lib/native/stage.ts) the *Staged calls send from; kept by the engine. */
  setStage(stage: Buffer): void;
  /** write() of the stage's first `length` bytes. */
  writeStaged(id: number, length: number): number;
  /** sendFrame() of the stage's first `length` bytes. */
  sendFrameStaged(id: number, length: number): number;
  bufferedBytes(id: number): number;
  /** 0, -errno, or CLOSED_NOW: the peer had ended and nothing was queued, so the connection is closed and no close record follows. */
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
  /** A port without a host: the host of this socket's previous single send that named one. */
  sendDatagram(id: number, datagram: Uint8Array, port?: number, host?: string): number;
  /** sendDatagram() of the stage's first `length` bytes. */
  sendDatagramStaged(id: number, length: number, port?: number, host?: string): number;
  closeDatagram(id: number): number;
  datagramStats(id: number): import('./types.js').DatagramStats | null;
  disableBatchedDatagrams(): void;
  /** Built-in servers on loop threads of their own (native/addon/workers.cc). */
  listenThreads(
    host: string,
    port: number,
    settings:
      | (EngineConnectionSettings & {
          datagram: false;
          builtin: string;
          backlog: number;
          ipv6Only: boolean;
          maxConnections: number;
          proxyTimeout?: number;
          reusePort?: boolean;
        })
      | { datagram: true; builtin: string; ipv6Only: boolean; maxDatagramSize: number; reusePort?: boolean },
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
  proxyRejected: number;
  closedWithError: number;
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

/** node-gyp-build's resolver: build/Release, build/Debug, then prebuilds/<platform>-<arch>/ by tags. */
interface NodeGypBuild {
  path(dir: string): string;
}

/** Why the addon did not load: a short reason for the one-line hint, and the details. */
export interface LoadFailure {
  /** One short phrase, e.g. `no prebuilt binary for linux-arm64`. */
  reason: string;
  /** Every place tried and what went wrong there. */
  error: string;
}

/**
 * Every function the JavaScript side calls on the addon. A binary built from older sources
 * (a build/Release left from before an update, say) lacks the newest ones: it is refused when
 * loaded, with their names, instead of failing at its first use. test/hardening.test.ts
 * checks this list against the addon's exports.
 */
export const BINDING_FUNCTIONS: readonly (keyof NativeBinding)[] = [
  'setBatchCallback', 'listen', 'closeListener', 'peerAddress', 'endpointConnections', 'endpointStats',
  'closeEndpointConnections', 'connect', 'write', 'writeStaged', 'sendFrame', 'sendFrameStaged', 'setStage', 'end',
  'bufferedBytes', 'destroy', 'pause', 'resume', 'stats', 'bindDatagram', 'connectDatagram', 'sendDatagrams',
  'sendDatagram', 'sendDatagramStaged', 'closeDatagram', 'datagramStats', 'disableBatchedDatagrams', 'listenThreads',
  'loopThreadStats', 'closeLoopThreads', 'closeLoopThreadConnections', 'releaseLoopThreads',
];

let loaded: { binding: NativeBinding; path: string } | LoadFailure | undefined;

/** The platform as prebuilds/ names it, with the C library on Linux (glibc or musl). */
export function platformTag(): string {
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const libc = process.platform !== 'linux' ? '' : report?.header?.glibcVersionRuntime ? ' (glibc)' : ' (musl)';
  return `${process.platform}-${process.arch}${libc}`;
}

/**
 * The addon, or why it could not be loaded. Loads once per thread. Tries SOCKENGINE_ADDON
 * (an explicit path) alone when it is set; otherwise node-gyp-build's order, a build from
 * source first (build/Release, build/Debug: a clone's own `npm install`, or `npx sockengine
 * build`), then the prebuilt binary the package ships (prebuilds/), then build-cmake/Release
 * (cmake-js).
 */
export function loadBinding(): { binding: NativeBinding; path: string } | LoadFailure {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  const attempt = (path: string): boolean => {
    try {
      // The addon's exports object holds its functions in dictionary mode (Node-API adds them
      // one by one), so optimized code cannot inline a load from it: every binding.write()
      // was a generic LoadIC. A copy made by spread has fast properties (docs/design.md
      // section 15, "Reaching the addon and Buffer without a lookup").
      const binding = { ...(require(path) as NativeBinding) };
      const missing = BINDING_FUNCTIONS.filter((name) => typeof binding[name] !== 'function');
      if (missing.length > 0) {
        tried.push(`${path} (built from older sources: no ${missing.join(', ')}; rebuild it with npx sockengine build)`);
        return false;
      }
      loaded = { binding, path };
      return true;
    } catch (error) {
      tried.push(`${path} (${(error as Error).message.split('\n')[0]})`);
      return false;
    }
  };
  const override = process.env.SOCKENGINE_ADDON;
  if (override) {
    if (!attempt(override)) loaded = { reason: 'SOCKENGINE_ADDON does not load', error: tried.join('; ') };
    return loaded!;
  }
  let found: string | undefined;
  try {
    found = (require('node-gyp-build') as NodeGypBuild).path(packageRoot);
  } catch (error) {
    tried.push((error as Error).message.split('\n')[0]!);
  }
  if (found !== undefined && attempt(found)) return loaded!;
  const cmake = join(packageRoot, 'build-cmake', 'Release', 'sockengine.node');
  if (existsSync(cmake) && attempt(cmake)) return loaded!;
  const reason = found === undefined ? `no prebuilt binary for ${platformTag()}` : `the binary for ${platformTag()} does not load`;
  loaded = { reason, error: tried.join('; ') };
  return loaded;
}
