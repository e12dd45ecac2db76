/**
 * `--framing line|delim:HEX|length:N[:le]|fixed:N` and `--max-frame BYTES`, shared by
 * `serve` and `client`: the flags' text turned into the public `framing` and `maxFrame`
 * options, with every bad value a UsageError naming the flag and the value.
 */
import { DEFAULT_MAX_FRAME, type FramingOption } from '../index.js';
import { UsageError } from './args.js';

/** The framing flags as `listen()` and `connect()` take them, and the text they came from. */
export interface FramingFlags {
  /** The `--framing` value as given, for messages. */
  text: string;
  framing: FramingOption;
  /** Given only when --max-frame was. */
  maxFrame?: number;
}

/** The largest --max-frame: the same bound as options.maxFrame (a frame must fit a Buffer). */
const LARGEST_MAX_FRAME = 2 ** 31 - 1;
const FORMS = 'line, delim:HEX, length:N[:le] or fixed:N';

function parseFraming(text: string): FramingOption {
  const [kind, ...rest] = text.split(':');
  const argument = rest.join(':');
  if (kind === 'line' && rest.length === 0) return 'line';
  if (kind === 'delim' && rest.length > 0) {
    if (!/^(?:[0-9a-f]{2})+$/i.test(argument)) {
      throw new UsageError(
        `--framing delim:HEX needs the delimiter as pairs of hex digits, at least one byte (e.g. delim:0d0a), got '${text}'`,
      );
    }
    return { delimiter: Buffer.from(argument, 'hex') };
  }
  if (kind === 'length' && rest.length > 0) {
    const [size, order, ...extra] = rest;
    if (!['1', '2', '4', '8'].includes(size!) || (order !== undefined && order !== 'le') || extra.length > 0) {
      throw new UsageError(`--framing length:N[:le] needs N of 1, 2, 4 or 8, then optionally :le, got '${text}'`);
    }
    const length = Number(size) as 1 | 2 | 4 | 8;
    return order === 'le' ? { length, byteOrder: 'le' } : { length };
  }
  if (kind === 'fixed' && rest.length > 0) {
    if (!/^\d+$/.test(argument) || Number(argument) < 1 || !Number.isSafeInteger(Number(argument))) {
      throw new UsageError(`--framing fixed:N needs N a whole number of bytes, at least 1, got '${text}'`);
    }
    return { fixed: Number(argument) };
  }
  throw new UsageError(`--framing must be ${FORMS}, got '${text}'`);
}

/**
 * Reads --framing and --max-frame from the parsed options: null when neither is given.
 * Either flag with a `transport` other than tcp is an error.
 */
export function framingFlags(options: Map<string, string>, transport: string): FramingFlags | null {
  const text = options.get('framing');
  const maxFrameText = options.get('max-frame');
  if (text === undefined && maxFrameText === undefined) return null;
  const given = text !== undefined ? '--framing' : '--max-frame';
  if (transport !== 'tcp') throw new UsageError(`${given} applies to tcp only`);
  if (text === undefined) throw new UsageError('--max-frame applies with --framing only');
  const framing = parseFraming(text);
  let maxFrame: number | undefined;
  if (maxFrameText !== undefined) {
    maxFrame = /^\d+$/.test(maxFrameText) ? Number(maxFrameText) : NaN;
    if (!Number.isInteger(maxFrame) || maxFrame < 1 || maxFrame > LARGEST_MAX_FRAME) {
      throw new UsageError(`--max-frame must be a whole number of bytes from 1 to ${LARGEST_MAX_FRAME}, got '${maxFrameText}'`);
    }
  }
  if (typeof framing === 'object' && 'fixed' in framing && framing.fixed > (maxFrame ?? DEFAULT_MAX_FRAME)) {
    const limit = maxFrame ?? `${DEFAULT_MAX_FRAME}, the default`;
    throw new UsageError(`--framing fixed:N must not be more than --max-frame (${limit}), got '${text}'`);
  }
  return maxFrame === undefined ? { text, framing } : { text, framing, maxFrame };
}

/**
 * Why `payload` cannot travel as exactly one frame, or null when it can: it holds the
 * delimiter (the peer would see two frames), is too long for the length header, or is not
 * the fixed size.
 */
export function frameProblem(flags: FramingFlags, payload: Buffer): string | null {
  const framing = flags.framing;
  if (framing === 'line') {
    return payload.includes(0x0a) ? `a message sent with --framing line cannot hold a newline` : null;
  }
  if ('delimiter' in framing) {
    return payload.includes(framing.delimiter as Buffer) ? `a message sent with --framing ${flags.text} cannot hold the delimiter` : null;
  }
  if ('length' in framing) {
    const largest = 2 ** (8 * framing.length) - 1;
    return payload.length > largest
      ? `a message sent with --framing ${flags.text} is at most ${largest} bytes, got ${payload.length}`
      : null;
  }
  return payload.length !== framing.fixed
    ? `a message sent with --framing ${flags.text} is exactly ${framing.fixed} bytes, got ${payload.length}`
    : null;
}
