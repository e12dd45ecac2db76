/**
 * Whether node:net and node:dgram can set SO_REUSEPORT: their `reusePort` option arrived in
 * Node.js 23.1.0 and 22.12.0 (nodejs/node#55408 for TCP, UV_UDP_REUSEPORT for UDP). Older
 * versions ignore the option without a word, so sockengine checks the version itself.
 */
import { UnsupportedError } from '../errors.js';

/** The Node.js versions whose node:net and node:dgram take `reusePort`. */
export const REUSE_PORT_NODE = 'Node.js 22.12 or later (or 23.1+)';

/** True when this Node.js's node:net and node:dgram take `reusePort`. */
export function nodeHasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** Throws an UnsupportedError naming `feature` and the version it needs, unless this Node.js has reusePort. */
export function requireNodeReusePort(feature: string): void {
  if (nodeHasReusePort()) return;
  throw new UnsupportedError(
    feature,
    REUSE_PORT_NODE,
    `${feature} on the node backend needs ${REUSE_PORT_NODE}: node:net and node:dgram of ` +
      `Node.js ${process.versions.node} have no reusePort. Use the native backend (backend: 'native'), which sets SO_REUSEPORT itself.`,
  );
}
