import { after, before, describe, test } from 'node:test'
import { testServers } from '../helpers/servers.js'
import { fuzzSeed } from '../helpers/sync-fuzz.js'

// The sync fuzzer (test/helpers/sync-fuzz.ts), bounded: a few fixed seeds of a few rounds each, so that a
// regression in what it once found shows in the suite. The long run is bench/experiments/sync-fuzz.
// Each seed: a table shape, a first copy, then rounds of writes on the source (and now and then on the
// target) each followed by a sync, after which the target must hold exactly the source's rows.

/** Seeds that cover the shapes: a child table's key, a dropped and a reordered column, a deferrable key, partitions. */
const SEEDS = [
  { seed: 11, shape: 'uuid key, a child table ON DELETE SET NULL (an emptied parent, then refilled)' },
  {
    seed: 1,
    shape: 'numeric key, a child table, a dropped column, the target made with its columns reordered',
  },
  { seed: 7, shape: 'deferrable integer key (keys swapped in one statement)' },
  { seed: 5, shape: 'numeric key, partitioned by range with a hash-partitioned middle' },
]

let servers: Awaited<ReturnType<typeof testServers>>

before(async () => {
  servers = await testServers()
})

after(async () => {
  await servers?.stop()
})

describe('mode: sync against the fuzzer, fixed seeds', () => {
  for (const { seed, shape } of SEEDS)
    test(`seed ${seed} (${shape}): after each sync the target holds the source's rows`, async () => {
      await fuzzSeed({ servers, seed, rounds: 4 })
    })
})
