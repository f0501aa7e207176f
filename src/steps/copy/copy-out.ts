import type { Readable } from 'node:stream'
import type { Submittable } from 'pg'
import copyStreams from 'pg-copy-streams'

/**
 * `COPY … TO STDOUT` as a readable stream: pg-copy-streams' copy-to query (its hand-over of the
 * connection to and from node-postgres, its error interception) with a leaner message scanner.
 *
 * PostgreSQL sends one CopyData message per row, and `COPY … FROM STDIN` takes the same messages. So the
 * socket chunks read from the source are handed on as they are, views and not copies, to be written to the
 * target unchanged: only the other messages (CopyOutResponse, notices, CopyDone and what follows) are cut
 * out. The scanner reads each 5-byte header to find them and to count rows; the row bytes are never
 * touched in JavaScript. Measured against re-framing the rows into 256 kB messages: ~25 % less client
 * CPU (the socket's buffers come from the kernel uncached, so copying them costs memory bandwidth),
 * ~1 % more target CPU for the per-row messages, and less memory.
 */
export interface CopyOutStream extends Readable, Submittable {
  /** Rows (CopyData messages) seen so far; for binary COPY one more (the trailer). */
  readonly messages: number
  /** Row bytes handed on so far, without the CopyData headers around them. */
  readonly dataBytes: number
  /** Rows the server reported when the COPY ended. */
  readonly rowCount: number
}

const COPY_DATA = 0x64 // d
const COPY_DONE = 0x63 // c
const ERROR_RESPONSE = 0x45 // E
const COPY_OUT_RESPONSE = 0x48 // H
const NOTICE_RESPONSE = 0x4e // N
const PARAMETER_STATUS = 0x53 // S
const NOTIFICATION_RESPONSE = 0x41 // A

interface LibraryCopyTo {
  push(chunk: Buffer | null): boolean
  _detach(): void
  _cleanup(): void
  _buffer: { push(chunk: Buffer): void }
}

const LibraryCopyToStream = Object.getPrototypeOf(copyStreams.to('SELECT 1')).constructor as new (
  text: string,
) => Readable

class FastCopyOut extends LibraryCopyToStream {
  messages = 0
  dataBytes = 0
  /** Bytes of the current message still to come; its type. */
  private remaining = 0
  private type = 0
  /** A message header split across two socket chunks. */
  private readonly header = Buffer.alloc(5)
  private headerBytes = 0

  constructor(
    text: string,
    private readonly onActivity: () => void,
  ) {
    super(text)
  }

  /** Called by the library with every chunk read from the socket; returns whether to keep reading. */
  _parse(chunk: Buffer): boolean {
    const self = this as unknown as LibraryCopyTo
    this.onActivity()
    let drained = true
    // The CopyData bytes of this chunk not handed on yet start here (-1: none). A message that began in the
    // last chunk continues at byte 0.
    let run = (this.remaining > 0 || this.headerBytes > 0) && this.type === COPY_DATA ? 0 : -1
    let at = 0
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at)
        at += take
        this.remaining -= take
        if (this.type === COPY_DATA) {
          this.dataBytes += take
          if (this.remaining === 0) this.messages++
        }
        continue
      }
      if (this.headerBytes === 0) {
        this.type = chunk[at]!
        if (this.type === COPY_DATA) {
          if (run < 0) run = at
        } else if (run >= 0) {
          drained = self.push(chunk.subarray(run, at)) && drained
          run = -1
        }
      }
      // The rest of a header: the type byte and the length (which counts itself but not the type byte).
      while (this.headerBytes < 5 && at < chunk.length) this.header[this.headerBytes++] = chunk[at++]!
      if (this.headerBytes < 5) break
      this.headerBytes = 0
      const length = this.header.readUInt32BE(1) - 4
      if (this.type === ERROR_RESPONSE) {
        // node-postgres parses the error and fails the query: hand it everything from this message on.
        self._buffer.push(Buffer.concat([this.header, chunk.subarray(at)]))
        self._detach()
        return false
      }
      if (this.type === COPY_DATA) {
        this.remaining = length
        if (length === 0) this.messages++
        continue
      }
      if (
        this.type === COPY_OUT_RESPONSE ||
        this.type === NOTICE_RESPONSE ||
        this.type === PARAMETER_STATUS ||
        this.type === NOTIFICATION_RESPONSE
      ) {
        this.remaining = length
        continue
      }
      // CopyDone (or any other message, which also ends copy-out mode): what follows (CommandComplete with
      // the row count, ReadyForQuery) belongs to node-postgres again.
      this.remaining = this.type === COPY_DONE ? 0 : length
      const skip = Math.min(this.remaining, chunk.length - at)
      self._buffer.push(chunk.subarray(at + skip))
      self._detach()
      self.push(null)
      self._cleanup()
      return false
    }
    if (run >= 0) drained = self.push(chunk.subarray(run)) && drained
    return drained
  }
}

/**
 * `COPY … TO STDOUT` as a stream of the source's CopyData messages; submit it with
 * `client.query(copyOut(sql))`.
 * `onActivity` is called whenever bytes arrive from the server, however few.
 */
export function copyOut(sql: string, onActivity: () => void = () => {}): CopyOutStream {
  return new FastCopyOut(sql, onActivity) as unknown as CopyOutStream
}
