/**
 * Host names to numeric addresses, for the native engine (which takes numbers only), with
 * the same error node:net reports for a name that does not resolve: code `ENOTFOUND`,
 * syscall `getaddrinfo` and the host name in `hostname` and the message.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { fromNodeError } from './errors.js';

/** A numeric address for `host`: itself when it is one, else the first the resolver gives. */
export async function numericHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (error) {
    throw fromNodeError(error as Error);
  }
}
