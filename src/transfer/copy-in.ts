import type { Writable } from 'node:stream'
import type { Submittable } from 'pg'
import copyStreams from 'pg-copy-streams'
import { returnFrame } from './frames.js'

/** `COPY … FROM STDIN` as a writable stream. */
export interface CopyInStream extends Writable, Submittable {
  /** Rows the target reported when the COPY ended. */
  readonly rowCount: number
}

interface LibraryCopyFrom {
  connection: { stream: Writable }
}

const LibraryCopyFromStream = Object.getPrototypeOf(copyStreams.from('COPY x FROM STDIN'))
  .constructor as new (text: string) => Writable

const COPY_DATA = 0x64 // d

/**
 * pg-copy-streams' copy-from query, writing each chunk as one CopyData message in a single `writev` (header
 * and data together), and handing the frame back for reuse once the socket has written it.
 */
class FastCopyIn extends LibraryCopyFromStream {
  flushChunk(chunk: Buffer): boolean {
    const socket = (this as unknown as LibraryCopyFrom).connection.stream
    const header = Buffer.allocUnsafe(5)
    header[0] = COPY_DATA
    header.writeUInt32BE(chunk.length + 4, 1)
    socket.cork()
    socket.write(header)
    const flushed = socket.write(chunk, (error) => {
      if (!error) returnFrame(chunk)
    })
    socket.uncork()
    return flushed
  }
}

/** `COPY … FROM STDIN` as a stream; submit it with `client.query(copyIn(sql))`. */
export function copyIn(sql: string): CopyInStream {
  return new FastCopyIn(sql) as unknown as CopyInStream
}
