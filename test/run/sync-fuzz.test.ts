import { after, before, describe, test } from 'node:test'
import { testServers } from '../helpers/servers.js'
import { fuzzSeed } from '../helpers/sync-fuzz.js'

// The sync fuzzer (test/helpers/sync-fuzz.ts), bounded: six fixed seeds of three rounds each, so that a
// regression in what it once found shows in the suite. The long run is bench/experiments/sync-fuzz.
// Each seed: a table shape, a first copy, then rounds of writes on the source (and now and then on the
// target) each followed by a sync, after which the target must hold exactly the source's rows.

/** Seeds that cover the shapes: a child table's key, a dropped and a reordered column, a deferrable key, partitions. */
const SEEDS = [
  { seed: 11, shape: 'uuid key, a child table ON DELETE SET NULL' },
  {
    seed: 1,
    shape: 'numeric key, a child table, a dropped column, the target made first with a column of its own',
  },
  { seed: 7, shape: 'deferrable integer key (keys swapped in one statement)' },
  { seed: 5, shape: 'timestamptz key, partitioned by range with a hash-partitioned middle' },
  { seed: 15, shape: 'composite key, an identity and a virtual generated column' },
  { seed: 4, shape: 'case-insensitive text key (a key rewritten in another case)' },
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
      await fuzzSeed({ servers, seed, rounds: 3 })
    })
})
