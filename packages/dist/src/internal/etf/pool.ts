/**
 * Copies of small byte ranges. `new Uint8Array(n)` costs microseconds in V8, even
 * for a few bytes (on-heap typed arrays), and larger ones get an off-heap ArrayBuffer
 * each. Copies of up to 4096 bytes are carved out of a shared 64 KiB slab instead, as
 * Node does for `Buffer.allocUnsafe`: the result's `.buffer` is then the whole slab.
 * @internal
 */

const SLAB_SIZE = 64 * 1024
const SLAB_MAX = 4096

let slab = new Uint8Array(SLAB_SIZE)
let slabBuffer: ArrayBuffer = slab.buffer as ArrayBuffer
let slabOffset = 0

const newSlab = (): void => {
  slab = new Uint8Array(SLAB_SIZE)
  slabBuffer = slab.buffer as ArrayBuffer
  slabOffset = 0
}

/**
 * A new buffer of `n` bytes whose contents are not zeroed (every byte is written before
 * it is read): `Buffer.allocUnsafeSlow` under Node, a plain view of its own ArrayBuffer.
 * @internal
 */
export const allocUninitialized = (n: number): Uint8Array => {
  if (typeof Buffer !== "function") return new Uint8Array(n)
  const b = Buffer.allocUnsafeSlow(n)
  return new Uint8Array(b.buffer, b.byteOffset, n)
}

/** A copy of `src[start, end)` that does not alias `src`. @internal */
export function copyRange(src: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start
  if (n <= 64) {
    // a view of the slab is ~10x cheaper than `new Uint8Array(n)`, even for a few bytes
    if (slabOffset + n > SLAB_SIZE) newSlab()
    const at = slabOffset
    const b = slab
    for (let i = 0; i < n; i++) b[at + i] = src[start + i]!
    slabOffset = (at + n + 7) & ~7
    // (the constructor is cheaper than `subarray`, which looks up the species)
    return new Uint8Array(slabBuffer, at, n)
  }
  if (n > SLAB_MAX) {
    // no zero-filling of a buffer that is overwritten at once
    const out = allocUninitialized(n)
    out.set(src.subarray(start, end))
    return out
  }
  if (slabOffset + n > SLAB_SIZE) newSlab()
  const at = slabOffset
  slab.set(src.subarray(start, end), at)
  // keep views 8-byte aligned
  slabOffset = (at + n + 7) & ~7
  return new Uint8Array(slabBuffer, at, n)
}
