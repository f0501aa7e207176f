/**
 * The large buffers COPY data travels in from the source's socket to the target's, recycled.
 *
 * A fresh buffer of a few hundred kB is new memory to the kernel: its first write page-faults every 4 kB,
 * which cost more than copying the data itself (measured: ~0.4 CPU-seconds per 0.5 GB copied). A frame is
 * lent by `lendFrame`, and `returnFrame` takes it back once the target's socket has finished writing it;
 * frames that never come back (a failed copy, a CSV file) are simply garbage-collected.
 */

/** Bytes per frame: a full frame plus one socket read copied in behind it (see copy-out.ts). */
export const FRAME_CAPACITY = 320 * 1024
/** Frames kept for reuse: enough for the copies in flight of a few jobs, ~5 MB at most. */
const KEPT_FRAMES = 16

const idle: ArrayBuffer[] = []
const lent = new WeakSet<ArrayBuffer>()

/** A frame of `FRAME_CAPACITY` bytes, recycled when one is idle; its contents are undefined. */
export function lendFrame(): Buffer {
  const memory = idle.pop() ?? Buffer.allocUnsafeSlow(FRAME_CAPACITY).buffer
  lent.add(memory)
  return Buffer.from(memory, 0, FRAME_CAPACITY)
}

/**
 * Takes back the frame `chunk` is a view of, when it is one that `lendFrame` lent; the caller promises that
 * nothing reads it any more. Anything else (and a frame returned twice) is ignored.
 */
export function returnFrame(chunk: Buffer): void {
  const memory = chunk.buffer as ArrayBuffer
  if (!lent.delete(memory)) return
  if (idle.length < KEPT_FRAMES) idle.push(memory)
}
