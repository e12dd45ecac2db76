/**
 * The wire format of JSON action messages (docs/messages.md is its full description): one
 * UTF-8 JSON object per line, ended by LF (a CR before the LF is dropped).
 *
 *   request  {"id": 7, "action": "Telegram", "message": <any JSON>}   id optional
 *   answer   {"id": 7, "answer": <any JSON>}
 *   error    {"id": 7, "error": {"code": "UNKNOWN_ACTION", "message": "..."}}
 *
 * An answer to a request without an id has no id either.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import type { WireErrorCode } from './errors.js';
import type { MessageId } from './id.js';

export type { MessageId };

/** One request, as a handler sees its parts. */
export interface MessageRequest {
  /** The request's id; undefined for a request that is answered in order. */
  id: MessageId | undefined;
  /** What the message is for, e.g. `Telegram`. */
  action: string;
  /** The message itself: any JSON value; null when the request had none. */
  message: unknown;
}

/** A line that is not a request: the error answer it gets. */
export interface BadRequest {
  /** The id, when the line had a usable one. */
  id: MessageId | undefined;
  problem: string;
}

const LF = 0x0a;
const CR = 0x0d;

function isId(value: unknown): value is MessageId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/** Reads one line (without its LF) as a request, or says what is wrong with it. */
export function parseRequest(line: Buffer): MessageRequest | BadRequest {
  if (!isUtf8(line)) return { id: undefined, problem: 'the line is not valid UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch (error) {
    return { id: undefined, problem: `not valid JSON (${(error as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { id: undefined, problem: 'a request must be a JSON object' };
  }
  const fields = value as Record<string, unknown>;
  const id = fields.id;
  if (id !== undefined && !isId(id)) return { id: undefined, problem: 'id must be a number or a string' };
  const action = fields.action;
  if (typeof action !== 'string' || action === '') {
    return { id, problem: action === undefined ? 'the request has no action' : 'action must be a non-empty string' };
  }
  return { id, action, message: fields.message === undefined ? null : fields.message };
}

/** The line (with its LF) answering request `id` with `answer`; throws if it is not JSON-serializable. */
export function answerLine(id: MessageId | undefined, answer: unknown): string {
  // JSON.stringify gives undefined for undefined, functions and symbols: those answer null.
  const json = JSON.stringify(answer) ?? 'null';
  return id === undefined ? `{"answer":${json}}\n` : `{"id":${JSON.stringify(id)},"answer":${json}}\n`;
}

/** The line (with its LF) answering request `id` with an error. */
export function errorLine(id: MessageId | undefined, code: WireErrorCode, message: string): string {
  const error = JSON.stringify({ code, message });
  return id === undefined ? `{"error":${error}}\n` : `{"id":${JSON.stringify(id)},"error":${error}}\n`;
}

/** The line (with its LF) of one request. */
export function requestLine(id: MessageId | undefined, action: string, message: unknown): string {
  const json = JSON.stringify(message) ?? 'null';
  const head = id === undefined ? '' : `"id":${JSON.stringify(id)},`;
  return `{${head}"action":${JSON.stringify(action)},"message":${json}}\n`;
}

/** One answer line, as a client reads it. */
export type Answer =
  | { id: MessageId | undefined; ok: true; answer: unknown }
  | { id: MessageId | undefined; ok: false; code: string; message: string };

/** Reads an answer line; null when the line is not one (the server is not speaking this format). */
export function parseAnswer(line: Buffer): Answer | null {
  let value: unknown;
  try {
    value = JSON.parse(line.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const fields = value as Record<string, unknown>;
  const id = fields.id;
  if (id !== undefined && !isId(id)) return null;
  if ('answer' in fields) return { id, ok: true, answer: fields.answer };
  const error = fields.error as Record<string, unknown> | null | undefined;
  if (typeof error !== 'object' || error === null) return null;
  return { id, ok: false, code: String(error.code), message: String(error.message ?? '') };
}

/**
 * Cuts a byte stream into lines of at most `maxLineSize` bytes (not counting the LF, nor
 * a CR before it), as soon as a line is certain to be longer it says so, holding no more
 * than that meanwhile. Empty lines are skipped.
 */
export class LineReader {
  readonly #maxLineSize: number;
  /** The unfinished line's pieces (views of the chunks, which are ours to keep). */
  #pieces: Buffer[] = [];
  #pendingBytes = 0;
  /** What followed the line after which line() said stop: split first by the next push(). */
  #unsplit: Buffer | null = null;

  constructor(maxLineSize: number) {
    this.#maxLineSize = maxLineSize;
  }

  /** True when a stopped split left bytes to split: push() an empty chunk to go on. */
  get hasUnsplit(): boolean {
    return this.#unsplit !== null;
  }

  /**
   * Calls line() for each complete line in `chunk`, in order, and returns null; or returns
   * 'too-large' as soon as a line is certain to be too long (lines before it were
   * delivered, nothing after it is). line() returning false stops the split (null); the
   * rest of the chunk is kept and split first by the next push().
   */
  push(chunk: Buffer, line: (bytes: Buffer) => boolean): 'too-large' | null {
    if (this.#unsplit !== null) {
      chunk = chunk.length === 0 ? this.#unsplit : Buffer.concat([this.#unsplit, chunk]);
      this.#unsplit = null;
    }
    // One more byte than the limit may be a CR that ends the line.
    const most = this.#maxLineSize + 1;
    let position = 0;
    for (;;) {
      const end = chunk.indexOf(LF, position);
      if (end === -1) {
        const rest = chunk.length - position;
        if (rest === 0) return null;
        if (this.#pendingBytes + rest > most) return 'too-large';
        this.#pieces.push(chunk.subarray(position));
        this.#pendingBytes += rest;
        return null;
      }
      let bytes = chunk.subarray(position, end);
      if (this.#pendingBytes > 0) {
        if (this.#pendingBytes + bytes.length > most) return 'too-large';
        this.#pieces.push(bytes);
        bytes = Buffer.concat(this.#pieces, this.#pendingBytes + bytes.length);
        this.#pieces = [];
        this.#pendingBytes = 0;
      }
      position = end + 1;
      let length = bytes.length;
      if (length > 0 && bytes[length - 1] === CR) length--;
      if (length > this.#maxLineSize) return 'too-large';
      if (length === 0) continue;
      if (!line(length === bytes.length ? bytes : bytes.subarray(0, length))) {
        if (position < chunk.length) this.#unsplit = chunk.subarray(position);
        return null;
      }
    }
  }
}
