/**
 * Copies of small byte ranges. V8 allocates typed arrays of up to 64 bytes on the
 * heap (cheap); larger ones get an off-heap ArrayBuffer each (slow). Copies of
 * 65..4096 bytes are carved out of a shared 64 KiB slab instead, as Node does for
 * `Buffer.allocUnsafe`: the result's `.buffer` is then the whole slab.
 * @internal
 */

const SLAB_SIZE = 64 * 1024
const SLAB_MAX = 4096

let slab = new Uint8Array(SLAB_SIZE)
let slabOffset = 0

/** A copy of `src[start, end)` that does not alias `src`. @internal */
export function copyRange(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start
  if (n <= 16) {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = src[start + i]!
    return out
  }
  if (n <= 64 || n > SLAB_MAX) return src.slice(start, end)
  if (slabOffset + n > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE)
    slabOffset = 0
  }
  const at = slabOffset
  slab.set(src.subarray(start, end), at)
  // keep views 8-byte aligned
  slabOffset = (at + n + 7) & ~7
  return slab.subarray(at, at + n)
}
