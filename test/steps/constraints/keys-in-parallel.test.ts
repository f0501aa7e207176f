import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TableRef } from '../../../src/db/table-ref.js'
import { type ForeignKey, runKeysInParallel } from '../../../src/steps/constraints/foreign-keys.js'

test("the keys put back after a run read each key's definition a bounded number of times, however many wait", async () => {
  // 2,000 keys to one parent wait for each other (adding a key locks the table it references); each key
  // found waiting used to be parsed again every time another finished: 2,000 keys, two million parses.
  let reads = 0
  const keys: ForeignKey[] = Array.from({ length: 2000 }, (_, i) => ({
    table: new TableRef('fk', `c${i}`),
    name: `c${i}_p_fkey`,
    get definition() {
      reads++
      return 'FOREIGN KEY (p) REFERENCES fk.parent(id)'
    },
  }))
  const added: string[] = []
  await runKeysInParallel(keys, 4, async (key) => {
    added.push(key.name)
  })
  assert.equal(added.length, keys.length)
  assert.ok(reads <= 2 * keys.length, `${reads} reads of 2,000 definitions`)
})
