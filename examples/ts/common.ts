/**
 * common.ts - what every example needs and none of them is about: the command line
 * (`--backend native|node|auto` plus the positional arguments of the C programs), reading
 * lines from stdin the way fgets() does, printing bytes unchanged, and an inbox that turns
 * the engine's callbacks back into "wait for the next thing", so a client reads top to
 * bottom like its C original.
 *
 * Not a program: the examples import it.
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendChoice } from 'sockengine';

/** The program's file name, for messages: `tcp_server.ts`. */
export const program = basename(process.argv[1] ?? 'example');

export interface ExampleArgs {
  /** `--backend`: native (the C++ engine), node (node:net/node:dgram) or auto (the default). */
  backend: BackendChoice;
  /** The positional arguments, as the C programs take them (PORT, ADDRESS, HOST...). */
  positionals: string[];
  /** Any other `--name value` options the example declared. */
  options: Record<string, string | undefined>;
}

/**
 * Reads `--backend` (and the `extra` options) and at most `maxPositionals` positionals.
 * A bad command line prints the usage on stderr and exits with status 2, like the C programs.
 */
export function exampleArgs(usage: string, maxPositionals: number, extra: readonly string[] = []): ExampleArgs {
  const declared: Record<string, { type: 'string' }> = { backend: { type: 'string' } };
  for (const name of extra) declared[name] = { type: 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: declared, allowPositionals: true, strict: true });
  } catch (error) {
    usageError(usage, (error as Error).message);
  }
  const values = parsed.values as Record<string, string | undefined>;
  const backend = values.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'native' && backend !== 'node') {
    usageError(usage, `--backend must be native, node or auto, got '${backend}'`);
  }
  if (parsed.positionals.length > maxPositionals) usageError(usage, 'too many arguments');
  const { backend: _, ...options } = values;
  return { backend, positionals: parsed.positionals, options };
}

function usageError(usage: string, message: string): never {
  process.stderr.write(`${program}: ${message}\nusage: ${usage}\n`);
  process.exit(2);
}

/** Parses a port number 1-65535 as the C programs' parse_port() does; exits 2 otherwise. */
export function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  if (port < 1 || port > 65535) {
    process.stderr.write(`${program}: invalid port '${text}' (expected 1-65535)\n`);
    process.exit(2);
  }
  return port;
}

/**
 * Writes text whose characters are bytes ("latin1": one character per byte, 0-255), so what
 * a peer sent is printed byte for byte, as C's printf("%s") prints it. The examples that
 * speak the C protocol keep received bytes in such strings: they can be cut at '\n' and put
 * back together without ever splitting or re-encoding a UTF-8 character.
 */
export function writeBytes(text: string): void {
  process.stdout.write(text, 'latin1');
}

/** writeBytes() plus the '\n' of printf("...\n"). */
export function printBytes(line: string): void {
  writeBytes(`${line}\n`);
}

/** The largest message the C programs take: their 1024-byte buffer less '\n' and '\0'. */
export const MAX_MSG = 1022;

/** C's convert(): ASCII a-z to A-Z, every other byte unchanged (toUpperCase() would also change é, ß...). */
export function convert(text: string): string {
  return text.replace(/[a-z]/g, (letter) => String.fromCharCode(letter.charCodeAt(0) - 32));
}

/**
 * The lines of stdin without their '\n', as byte strings (see writeBytes), one per next():
 * what `fgets(buf, sizeof(buf), stdin)` gives the C clients, except that a line is never cut
 * at the buffer's size (the caller checks the length). The last line may lack its '\n'.
 */
export async function* inputLines(): AsyncGenerator<string> {
  let pending = '';
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    pending += chunk.toString('latin1');
    let newline: number;
    while ((newline = pending.indexOf('\n')) !== -1) {
      yield pending.slice(0, newline);
      pending = pending.slice(newline + 1);
    }
  }
  if (pending.length > 0) yield pending;
}

/**
 * A queue between the engine's callbacks and a program that wants to wait: handlers push(),
 * the program awaits next(). `await inbox.next()` is what a blocking recv() was in C.
 */
export class Inbox<T> {
  private readonly items: T[] = [];
  private waiter: ((item: T | undefined) => void) | undefined;

  push(item: T): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /** The next item; undefined if none came within `timeoutMs` (no limit when left out). */
  next(timeoutMs?: number): Promise<T | undefined> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (item) => {
        clearTimeout(timer);
        resolve(item);
      };
    });
  }
}

/** Python's repr() of a bytes object: b'Hello, world', b'a\x00b', b"it's". */
export function pythonBytesRepr(bytes: Uint8Array): string {
  const quote = bytes.includes(0x27) && !bytes.includes(0x22) ? '"' : "'";
  let body = '';
  for (const byte of bytes) {
    if (byte === 0x5c) body += '\\\\';
    else if (byte === quote.charCodeAt(0)) body += `\\${quote}`;
    else if (byte === 0x09) body += '\\t';
    else if (byte === 0x0a) body += '\\n';
    else if (byte === 0x0d) body += '\\r';
    else if (byte < 0x20 || byte >= 0x7f) body += `\\x${byte.toString(16).padStart(2, '0')}`;
    else body += String.fromCharCode(byte);
  }
  return `b${quote}${body}${quote}`;
}

/** Python's repr() of an IPv4 (host, port) tuple: ('127.0.0.1', 50412). */
export function pythonAddressRepr(host: string, port: number): string {
  return `('${host}', ${port})`;
}
