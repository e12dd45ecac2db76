/**
 * Small payloads cross to the engine from off-heap memory, by length.
 *
 * V8 keeps a typed array of up to 64 bytes in its own heap, and native code can read one
 * only after V8 has moved it out (napi_get_typedarray_info: an ArrayBuffer, a malloc and a
 * copy, then a garbage collector's sweep). A 64 B message or line, copied out of its batch
 * into a Buffer of its own (engine.ts ownBytes) and answered with write() or send(), paid
 * that on every reply. Copying it into a buffer that lives outside the heap costs less:
 * 9,100 -> 7,100 instructions per message on tcp 50 x 64, 8,100 -> 6,000 per line on
 * tcp 50 x 64 lines x 16 (callgrind, docs/design.md section 15). The engine knows that
 * buffer (binding.setStage), so the *Staged calls pass only the length: no typed array
 * is looked up per call either.
 */

import { Buffer } from 'node:buffer';

/** The largest typed array V8 keeps in its heap (its typed_array_max_size_in_heap). */
export const STAGED_MAX = 64;

// Called through the captured function: optimized code reaches `stage.set` on a Buffer only
// through a generic property lookup (a LoadIC call per message; docs/design.md section 15).
const setBytes = Uint8Array.prototype.set;

/** This thread's stage, handed to its engine once (NativeEngine's constructor). */
export const stage = Buffer.allocUnsafeSlow(STAGED_MAX);

/**
 * Copies `bytes` (at most STAGED_MAX of them) to the stage and answers their length, for
 * a *Staged binding that takes them before it returns.
 */
export function stageBytes(bytes: Uint8Array): number {
  setBytes.call(stage, bytes);
  return bytes.length;
}
