import { Transform, type TransformCallback } from 'node:stream'

export interface MeterOptions {
  /** Called at most every `progressIntervalMs` with the bytes moved so far. */
  readonly onProgress?: ((bytes: number) => void) | undefined
  /** @default 500 */
  readonly progressIntervalMs?: number
}

/**
 * The pass-through stage between COPY TO and COPY FROM: counts bytes and reports progress, throttled.
 * Chunks go through untouched; COPY data is never decoded on this path.
 */
export class Meter extends Transform {
  bytes = 0
  private lastReport = 0
  private readonly onProgress: ((bytes: number) => void) | undefined
  private readonly progressIntervalMs: number

  constructor(options: MeterOptions = {}) {
    super()
    this.onProgress = options.onProgress
    this.progressIntervalMs = options.progressIntervalMs ?? 500
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length
    const now = Date.now()
    if (this.onProgress && now - this.lastReport >= this.progressIntervalMs) {
      this.lastReport = now
      this.onProgress(this.bytes)
    }
    callback(null, chunk)
  }

  override _flush(callback: TransformCallback): void {
    this.onProgress?.(this.bytes)
    callback()
  }
}
