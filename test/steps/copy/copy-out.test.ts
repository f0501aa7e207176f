import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import { copyOut } from '../../../src/steps/copy/copy-out.js'

/** A protocol message: type byte, length (counting itself), body. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5)
  header[0] = type.charCodeAt(0)
  header.writeUInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

/** Feeds `wire` to the scanner in pieces of the given sizes (cycled); returns what it handed on. */
function scan(wire: Buffer, pieceSizes: number[]): { output: Buffer; messages: number; dataBytes: number } {
  const stream = copyOut('COPY t TO STDOUT') as unknown as { _parse(chunk: Buffer): boolean } & ReturnType<
    typeof copyOut
  >
  for (let at = 0, i = 0; at < wire.length; i++) {
    const size = Math.min(pieceSizes[i % pieceSizes.length]!, wire.length - at)
    stream._parse(wire.subarray(at, at + size))
    at += size
  }
  const chunks: Buffer[] = []
  for (let chunk: Buffer | null; (chunk = stream.read() as Buffer | null) !== null;) chunks.push(chunk)
  return { output: Buffer.concat(chunks), messages: stream.messages, dataBytes: stream.dataBytes }
}

test('the COPY scanner hands on every CopyData message whole and in order, and only those, however the socket cuts them', async () => {
  // Rows from empty to 300 kB, so that messages straddle socket reads; a CopyOutResponse first and a notice
  // in the middle, which are not data and must not reach the target.
  const sizes = [0, 1, 4, 117, 5, 70_000, 2, 300_000, 33, 0, 65_531, 9, 128 * 1024, 3]
  const rows = Array.from({ length: 60 }, (_, i) => message('d', randomBytes(sizes[i % sizes.length]!)))
  const notice = message('N', Buffer.from('SNOTICE\0Mhello\0\0'))
  const wire = Buffer.concat([
    message('H', Buffer.from([1, 0, 0])),
    ...rows.slice(0, 30),
    notice,
    ...rows.slice(30),
  ])
  const expected = Buffer.concat(rows)
  const cuttings: Array<[string, number[]]> = [
    ['one byte at a time', [1]],
    ['odd sizes that split headers', [3, 7, 1, 4096, 5, 2, 65_536]],
    ['64 kB socket reads', [65_536]],
    ['the whole stream at once', [wire.length]],
  ]
  for (const [name, pieces] of cuttings) {
    const { output, messages, dataBytes } = scan(wire, pieces)
    assert.equal(messages, rows.length, name)
    assert.equal(dataBytes, expected.length - 5 * rows.length, `${name}: the row bytes, without headers`)
    assert.equal(output.length, expected.length, name)
    assert.ok(output.equals(expected), `${name}: the bytes differ`)
  }
})
