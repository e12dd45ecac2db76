/**
 * SOCKENGINE_DEBUG=1: one line on stderr per engine decision (a connection accepted or
 * rejected, closed and why, write back pressure on and off, the addon loaded or not). Read
 * once at start-up; every call site tests `debugEnabled` first, so with it unset a message
 * costs one branch and no string is built.
 */
export const debugEnabled = process.env.SOCKENGINE_DEBUG === '1';

/** Writes `sockengine[debug] <line>` to stderr. Call only behind `if (debugEnabled)`. */
export function debugLog(line: string): void {
  process.stderr.write(`sockengine[debug] ${line}\n`);
}
