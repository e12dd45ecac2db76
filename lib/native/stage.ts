/**
 * Small payloads cross to the engine from off-heap memory.
 *
 * V8 keeps a typed array of up to 64 bytes in its own heap, and native code can read one
 * only after V8 has moved it out (napi_get_typedarray_info: an ArrayBuffer, a malloc and a
 * copy, then a garbage collector's sweep). A 64 B message or line, copied out of its batch
 * into a Buffer of its own (engine.ts ownBytes) and answered with write() or send(), paid
 * that on every reply. Copying it into a buffer that lives outside the heap costs less:
 * 9,100 -> 7,100 instructions per message on tcp 50 x 64, 8,100 -> 6,000 per line on
 * tcp 50 x 64 lines x 16 (callgrind, docs/design.md section 15).
 */

import { Buffer } from 'node:buffer';

/** The largest typed array V8 keeps in its heap (its typed_array_max_size_in_heap). */
export const STAGED_MAX = 64;

// Called through the captured function: optimized code reaches `view.set` on a Buffer only
// through a generic property lookup (a LoadIC call per message; docs/design.md section 15).
const setBytes = Uint8Array.prototype.set;
const stage = Buffer.allocUnsafeSlow(STAGED_MAX);
const views = Array.from({ length: STAGED_MAX + 1 }, (_, length) => stage.subarray(0, length));

/**
 * `bytes` itself, or, when it is small, a copy in the shared stage: valid until the next
 * call, so only for a binding that takes the bytes (sends or queues a copy) before it returns.
 */
export function staged(bytes: Uint8Array): Uint8Array {
  if (bytes.length > STAGED_MAX) return bytes;
  const view = views[bytes.length]!;
  setBytes.call(view, bytes);
  return view;
}
