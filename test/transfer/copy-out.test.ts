import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { copyOut } from '../../src/transfer/copy-out.js'

/** CopyData messages ('d', length, payload) of the given payloads, as the server sends them. */
function copyData(payloads: Buffer[]): Buffer {
  return Buffer.concat(
    payloads.flatMap((payload) => {
      const header = Buffer.alloc(5)
      header[0] = 0x64
      header.writeUInt32BE(payload.length + 4, 1)
      return [header, payload]
    }),
  )
}

/** Feeds `wire` to the scanner in pieces of the given sizes (cycled), then once more after the stale-frame delay. */
async function scan(wire: Buffer, pieceSizes: number[]): Promise<{ output: Buffer; messages: number }> {
  const stream = copyOut('COPY t TO STDOUT') as unknown as { _parse(chunk: Buffer): boolean } & ReturnType<
    typeof copyOut
  >
  const last = wire.length - 1
  for (let at = 0, i = 0; at < last; i++) {
    const size = Math.min(pieceSizes[i % pieceSizes.length]!, last - at)
    stream._parse(wire.subarray(at, at + size))
    at += size
  }
  // The last byte arrives late: the frame that waited goes on with it.
  await sleep(250)
  stream._parse(wire.subarray(last))
  const chunks: Buffer[] = []
  for (let chunk: Buffer | null; (chunk = stream.read() as Buffer | null) !== null;) chunks.push(chunk)
  return { output: Buffer.concat(chunks), messages: stream.messages }
}

test('the COPY scanner passes every row byte on, in order, however the socket cuts the messages', async () => {
  // Rows from empty to 300 kB (larger than a frame), so that payloads straddle frames and socket reads.
  const sizes = [0, 1, 4, 117, 5, 70_000, 2, 300_000, 33, 0, 65_531, 9, 128 * 1024, 3]
  const payloads = Array.from({ length: 60 }, (_, i) => randomBytes(sizes[i % sizes.length]!))
  const wire = copyData(payloads)
  const expected = Buffer.concat(payloads)
  const cuttings: Array<[string, number[]]> = [
    ['one byte at a time', [1]],
    ['odd sizes that split headers', [3, 7, 1, 4096, 5, 2, 65_536]],
    ['64 kB socket reads', [65_536]],
    ['reads larger than a frame', [1_000_000]],
    ['the whole stream at once', [wire.length]],
  ]
  for (const [name, pieces] of cuttings) {
    const { output, messages } = await scan(wire, pieces)
    assert.equal(messages, payloads.length, name)
    assert.equal(output.length, expected.length, name)
    assert.ok(output.equals(expected), `${name}: the bytes differ`)
  }
})
