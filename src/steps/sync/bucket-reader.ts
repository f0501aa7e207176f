import type { Readable } from 'node:stream'

/** One bucket's line of a side's pass 1: `bucket, rows, sum of high halves, sum of low halves`. */
export interface BucketSums {
  readonly bucket: number
  readonly rows: number
  readonly high: bigint
  readonly low: bigint
}

/**
 * Reads the text COPY of pass 1 (four integer columns, tab-separated, one bucket per line, in bucket
 * order) one bucket at a time, pulling from the stream only as fast as the comparison goes.
 */
export class BucketReader {
  /** Bytes of COPY data read so far. */
  bytes = 0
  readonly finished: Promise<void>
  private readonly chunks: AsyncIterator<Buffer>
  private pending: BucketSums[] = []
  private index = 0
  private rest = ''

  private readonly stream: Readable
  private readonly failure: (error: unknown) => Error

  constructor(side: { readonly stream: Readable; readonly failure: (error: unknown) => Error }) {
    const { stream, failure } = side
    this.stream = stream
    this.failure = failure
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    this.finished = new Promise<void>((resolve, reject) => {
      stream.once('end', resolve)
      stream.once('close', resolve)
      stream.once('error', (error) => reject(failure(error)))
    })
    this.finished.catch(() => {})
  }

  async next(): Promise<BucketSums | undefined> {
    while (this.index >= this.pending.length) {
      let step: IteratorResult<Buffer>
      try {
        step = await this.chunks.next()
      } catch (error) {
        throw this.failure(error)
      }
      if (step.done) {
        if (this.rest) throw this.failure(new Error(`pass 1 ended inside a line: ${this.rest.slice(0, 80)}`))
        return undefined
      }
      this.bytes += step.value.length
      const lines = (this.rest + step.value.toString('latin1')).split('\n')
      this.rest = lines.pop()!
      this.pending = lines.map(parseLine)
      this.index = 0
    }
    return this.pending[this.index++]
  }

  destroy(): void {
    this.stream.destroy()
  }

  /**
   * Reads the rest of the stream and drops it; resolves when it ended or failed. A COPY that is not read
   * to its end keeps its connection busy (pg-copy-streams reads the socket only as fast as its reader
   * pulls), so every later statement on it, the transaction's ROLLBACK too, would wait until the
   * watchdog closes the connection: when the other server's pass fails, this one's must be drained.
   */
  async drain(): Promise<void> {
    try {
      while (!(await this.chunks.next()).done);
    } catch {
      // It failed: its connection answers again.
    }
  }
}

function parseLine(line: string): BucketSums {
  const [bucket, rows, high, low] = line.split('\t')
  return { bucket: Number(bucket), rows: Number(rows), high: BigInt(high!), low: BigInt(low!) }
}
