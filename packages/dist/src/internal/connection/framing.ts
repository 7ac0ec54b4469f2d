/**
 * Connected-state framing: u32 length + payload; length 0 is a tick. Pure.
 */

/** Cuts 4-byte framed payloads out of a byte stream, across chunk boundaries. */
export class FrameParser {
  private readonly head = new Uint8Array(4)
  private headLen = 0
  private body: Uint8Array | undefined = undefined
  private bodyLen = 0
  /** Ticks (empty frames) seen so far. */
  ticks = 0

  constructor(readonly maxFrameSize: number) {}

  /**
   * Feeds a chunk; complete payloads are appended to `out` (views of `chunk` when a
   * frame lies in one chunk, else a fresh buffer). Returns the announced length of a
   * frame above `maxFrameSize` (the parser must not be used after that), else undefined.
   */
  push(chunk: Uint8Array, out: Array<Uint8Array>): number | undefined {
    let off = 0
    const n = chunk.length
    while (off < n) {
      if (this.body !== undefined) {
        const take = Math.min(this.body.length - this.bodyLen, n - off)
        this.body.set(chunk.subarray(off, off + take), this.bodyLen)
        this.bodyLen += take
        off += take
        if (this.bodyLen === this.body.length) {
          out.push(this.body)
          this.body = undefined
        }
        continue
      }
      let len: number
      if (this.headLen === 0 && n - off >= 4) {
        len = ((chunk[off]! << 24) >>> 0) + (chunk[off + 1]! << 16) + (chunk[off + 2]! << 8) + chunk[off + 3]!
        off += 4
        if (len !== 0 && len <= this.maxFrameSize && n - off >= len) {
          out.push(chunk.subarray(off, off + len))
          off += len
          continue
        }
      } else {
        this.head[this.headLen++] = chunk[off++]!
        if (this.headLen < 4) continue
        this.headLen = 0
        const h = this.head
        len = ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!
      }
      if (len === 0) {
        this.ticks++
        continue
      }
      if (len > this.maxFrameSize) return len
      this.body = new Uint8Array(len)
      this.bodyLen = 0
    }
    return undefined
  }

  /** Bytes of an incomplete frame held so far. */
  get buffered(): number {
    return this.headLen + this.bodyLen
  }
}

const LARGE = 64 * 1024

/**
 * Builds the chunks of a batch of payloads, each with its u32 length: runs of small
 * payloads are copied into one buffer, large payloads are passed as their own chunk
 * (after a buffer ending with their length). An empty payload is a tick.
 */
export const buildBatch = (batch: ReadonlyArray<Uint8Array>): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let i = 0
  while (i < batch.length) {
    let size = 0
    let j = i
    while (j < batch.length && batch[j]!.length < LARGE) {
      size += 4 + batch[j]!.length
      j++
    }
    const large = j < batch.length ? batch[j]! : undefined
    if (large !== undefined) size += 4
    const buf = new Uint8Array(size)
    const v = new DataView(buf.buffer)
    let at = 0
    for (let k = i; k < j; k++) {
      const p = batch[k]!
      v.setUint32(at, p.length)
      at += 4
      buf.set(p, at)
      at += p.length
    }
    if (large !== undefined) {
      v.setUint32(at, large.length)
      if (size > 0) chunks.push(buf)
      chunks.push(large)
      i = j + 1
    } else {
      chunks.push(buf)
      i = j
    }
  }
  return chunks
}
