import type { Writable } from 'node:stream'
import type { Submittable } from 'pg'
import copyStreams from 'pg-copy-streams'

/** `COPY … FROM STDIN` as a writable stream of whole CopyData messages. */
export interface CopyInStream extends Writable, Submittable {
  /** Rows the target reported when the COPY ended. */
  readonly rowCount: number
}

interface LibraryCopyFrom {
  connection: { stream: Writable }
}

const LibraryCopyFromStream = Object.getPrototypeOf(copyStreams.from('COPY x FROM STDIN'))
  .constructor as new (text: string) => Writable

/**
 * pg-copy-streams' copy-from query for chunks that are CopyData messages already (those of `copyOut`):
 * written to the target as they are, without another header around them.
 */
class FastCopyIn extends LibraryCopyFromStream {
  flushChunk(chunk: Buffer): boolean {
    return (this as unknown as LibraryCopyFrom).connection.stream.write(chunk)
  }
}

/** `COPY … FROM STDIN` as a stream; submit it with `client.query(copyIn(sql))`. */
export function copyIn(sql: string): CopyInStream {
  return new FastCopyIn(sql) as unknown as CopyInStream
}
